package ginauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Client is an OAuth 2.0 client allowed at the token and revocation
// endpoints (see Config.Clients).
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret, sent with HTTP Basic (RFC 6749
	// §2.3.1) or in the body. Empty for a public client, which names
	// itself with client_id alone.
	Secret string
	// Roles are the roles of the access tokens the client obtains for
	// itself with the client_credentials grant (RFC 6749 §4.4), which
	// only confidential clients (with a Secret) may use. Default none.
	Roles []string
}

// clientTable checks client credentials in constant time per client.
type clientTable map[string]staticClient

type staticClient struct {
	secret [sha256.Size]byte
	public bool
	roles  []string
}

// oauthClient is the client that authenticated a token request: none
// (id "") when the endpoint needs no client authentication and none was
// sent.
type oauthClient struct {
	id     string
	public bool
	roles  []string
}

func newClientTable(clients []Client) (clientTable, error) {
	if len(clients) == 0 {
		return nil, nil
	}
	t := make(clientTable, len(clients))
	for _, c := range clients {
		if c.ID == "" || strings.ContainsAny(c.ID, ":") {
			return nil, fmt.Errorf("%w: Client.ID must be non-empty and without ':'", ErrConfig)
		}
		if _, dup := t[c.ID]; dup {
			return nil, fmt.Errorf("%w: Client %q listed twice", ErrConfig, c.ID)
		}
		if err := store.ValidateRoles(c.Roles); err != nil {
			return nil, fmt.Errorf("%w: Client %q: %v", ErrConfig, c.ID, err)
		}
		t[c.ID] = staticClient{secret: sha256.Sum256([]byte(c.Secret)), public: c.Secret == "", roles: slices.Clone(c.Roles)}
	}
	return t, nil
}

// clientCredentials reads the client's credentials of a token or
// revocation request: HTTP Basic (RFC 6749 §2.3.1) or the body.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, err error) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		return form.Get("client_id"), form.Get("client_secret"), nil
	}
	// RFC 6749 §2.3.1: the parts are form-encoded before Basic.
	var err1, err2 error
	id, err1 = url.QueryUnescape(id)
	secret, err2 = url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return "", "", fmt.Errorf("%w: client credentials are not form-encoded", ErrInvalidClient)
	}
	if form.Has("client_secret") {
		return "", "", fmt.Errorf("%w: more than one client authentication method", ErrBadRequest)
	}
	return id, secret, nil
}

// authenticateClient checks the client of a token or revocation request,
// in constant time per client: one of Config.Clients, or one registered
// in the Store (store.ClientStore). With no Config.Clients, a request
// that names no known client passes, as none: the endpoint then serves
// first-party clients that need no identity.
func (a *Auth) authenticateClient(c *gin.Context, form url.Values) (oauthClient, error) {
	id, secret, err := clientCredentials(c.Request, form)
	if err != nil {
		return oauthClient{}, err
	}
	got := sha256.Sum256([]byte(secret))
	if sc, ok := a.clients[id]; ok {
		if subtle.ConstantTimeCompare(got[:], sc.secret[:]) != 1 {
			return oauthClient{}, fmt.Errorf("%w: unknown client or wrong secret", ErrInvalidClient)
		}
		return oauthClient{id: id, public: sc.public, roles: sc.roles}, nil
	}
	if cs, ok := a.store.(store.ClientStore); ok && id != "" {
		ctx, cancel := a.storeCtx(c)
		rc, err := cs.Client(ctx, id)
		cancel()
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return oauthClient{}, errors.Join(ErrUnavailable, err)
		case subtle.ConstantTimeCompare(got[:], rc.Secret[:]) == 1:
			return oauthClient{id: id, roles: rc.Roles}, nil
		}
	}
	if a.clients == nil {
		// No client authentication required: a client the kit does not
		// know names itself only (x/oauth2 sends its ClientID). It gets
		// no grant of its own (client_credentials needs a known client).
		return oauthClient{}, nil
	}
	return oauthClient{}, fmt.Errorf("%w: unknown client or wrong secret", ErrInvalidClient)
}

// TokenHandler serves an OAuth 2.0 token endpoint (RFC 6749) for POST
// application/x-www-form-urlencoded requests: grant_type=password
// (§4.3: username, password; meant for first-party clients),
// grant_type=refresh_token (§6), and grant_type=client_credentials
// (§4.4: a confidential client of Config.Clients or of the Store's
// store.ClientStore obtains a token for itself, with its roles or those
// of them an optional scope names; the token carries client_id (RFC
// 9068), no session, and no refresh token comes with it). Success is the
// §5.1 JSON with Cache-Control: no-store; errors are the §5.2 JSON
// {"error", "error_description"}: 400 invalid_request, invalid_grant
// (wrong password, unknown or reused refresh token, a user who has a
// second factor), unauthorized_client (a public client asking for
// client_credentials), invalid_scope or unsupported_grant_type, 401
// invalid_client with a Basic challenge when the client's credentials
// are wrong (or missing, for client_credentials), 413 for a body over 8 KiB, 429
// too_many_attempts with Retry-After when throttled, 503
// temporarily_unavailable with Retry-After. A request a browser marks
// Sec-Fetch-Site: cross-site is 400 invalid_request: an HTML form on any
// site could post it without a CORS preflight (login CSRF); same-site,
// same-origin, none and no header pass. The throttling, rotation, reuse
// detection and audit are those of [Auth.LoginHandler] and
// [Auth.RefreshHandler]: one implementation serves both.
func (a *Auth) TokenHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		form, client, err := a.oauthForm(c)
		if err != nil {
			a.failOAuth(c, err)
			return
		}
		var g grant
		switch gt := form.Get("grant_type"); gt {
		case "password":
			user, pw := form.Get("username"), form.Get("password")
			if user == "" || !form.Has("password") {
				a.failOAuth(c, fmt.Errorf("%w: username and password are required", ErrBadRequest))
				return
			}
			g, err = a.passwordGrant(c, user, pw, false, false)
		case "refresh_token":
			tok := form.Get("refresh_token")
			if tok == "" {
				a.failOAuth(c, fmt.Errorf("%w: refresh_token is required", ErrBadRequest))
				return
			}
			g, err = a.refreshGrant(c, tok)
		case "client_credentials":
			g, err = a.clientGrant(c, client, form.Get("scope"))
		case "":
			err = fmt.Errorf("%w: grant_type is required", ErrBadRequest)
		default:
			err = fmt.Errorf("%w: %.32q", ErrUnsupportedGrant, gt)
		}
		if err != nil {
			a.failOAuth(c, err)
			return
		}
		noStore(c)
		a.sendTokens(c, g, a.failOAuth)
	}
}

// clientGrant issues a client an access token for itself (RFC 6749 §4.4):
// subject and client_id are the client's, its roles the client's, or
// those of them that scope (space-separated) names. There is no session
// and no refresh token: the client asks again when the token expires.
func (a *Auth) clientGrant(c *gin.Context, client oauthClient, scope string) (grant, error) {
	switch {
	case client.id == "":
		return grant{}, fmt.Errorf("%w: client_credentials needs client authentication", ErrInvalidClient)
	case client.public:
		return grant{}, fmt.Errorf("%w: a public client cannot use client_credentials", ErrUnauthorizedClient)
	}
	roles := client.roles
	if scope != "" {
		roles = strings.Fields(scope)
		for _, r := range roles {
			if !slices.Contains(client.roles, r) {
				return grant{}, fmt.Errorf("%w: %.64q is not the client's", ErrInvalidScope, r)
			}
		}
	}
	a.auditRequest(c, audit.Event{Kind: audit.ClientToken, Status: http.StatusOK, Reason: client.id})
	return grant{client: client.id, roles: roles, scope: scope}, nil
}

// checkClientToken authenticates a client_credentials access token: the
// client acting as itself, with the token's roles in stateless mode; in
// session mode the client must still be registered (a removed client's
// tokens end at once), and its roles are its current ones, narrowed to
// the token's. An expired one is token_expired: the client asks for
// another.
func (a *Auth) checkClientToken(c *gin.Context, claims *tokens.Claims, verr error) (Principal, error) {
	if verr != nil {
		return Principal{}, classifyToken(verr)
	}
	p := Principal{ClientID: claims.ClientID, Roles: claims.Roles, Scheme: SchemeBearer,
		TokenID: claims.ID, ExpiresAt: claims.ExpiresAt.Time}
	if claims.Subject != claims.ClientID {
		return Principal{}, fmt.Errorf("%w: a client token whose subject is not its client", ErrTokenInvalid)
	}
	if a.cfg.Stateless {
		return p, nil
	}
	var current []string
	if sc, ok := a.clients[claims.ClientID]; ok && !sc.public {
		current = sc.roles
	} else if cs, ok := a.store.(store.ClientStore); ok {
		ctx, cancel := a.storeCtx(c)
		rc, err := cs.Client(ctx, claims.ClientID)
		cancel()
		if err != nil {
			return Principal{}, classifyStore(err, ErrTokenInvalid)
		}
		current = rc.Roles
	} else {
		return Principal{}, fmt.Errorf("%w: unknown client", ErrTokenInvalid)
	}
	p.Roles = slices.DeleteFunc(slices.Clone(p.Roles), func(r string) bool { return !slices.Contains(current, r) })
	return p, nil
}

// RevokeHandler serves OAuth 2.0 token revocation (RFC 7009): POST
// application/x-www-form-urlencoded with token= a refresh token or an
// access token (token_type_hint is optional and not needed). It ends the
// token's session, and so every token of it, and answers 200 with an
// empty body, also for tokens that are unknown or already revoked
// (§2.2). An access token expired more than Config.Refresh.ExpiredTokenWindow ago
// is answered 200 and revokes nothing, as it cannot log out at
// [Auth.LogoutHandler] either. Client authentication and errors are those
// of [Auth.TokenHandler].
func (a *Auth) RevokeHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		form, _, err := a.oauthForm(c)
		if err != nil {
			a.failOAuth(c, err)
			return
		}
		tok := form.Get("token")
		if tok == "" {
			a.failOAuth(c, fmt.Errorf("%w: token is required", ErrBadRequest))
			return
		}
		if username, sid, ok := a.sessionOfToken(tok); ok {
			ctx, cancel := a.storeCtx(c)
			err := a.store.RevokeSession(ctx, username, sid)
			cancel()
			if err != nil {
				a.failOAuth(c, classifyStore(err, ErrInvalidGrant))
				return
			}
			a.auditRequest(c, audit.Event{Kind: audit.Logout, Status: http.StatusOK, Username: username, Session: sessionPrefix(sid)})
		}
		noStore(c)
		c.Status(http.StatusOK)
	}
}

// sessionOfToken names the session of a refresh token (its tag checked)
// or of an access token this kit signed, live or expired less than
// Config.Refresh.ExpiredTokenWindow ago; ok is false for anything else. Past the
// window an old token (from a log, say) cannot end its owner's session,
// as at [Auth.LogoutHandler].
func (a *Auth) sessionOfToken(tok string) (username string, sid store.Digest, ok bool) {
	if rt, err := a.parseRefreshToken(tok); err == nil {
		return rt.username, rt.sid, true
	}
	claims, err := a.cfg.Verifier.Verify(tok)
	if err != nil && (!errors.Is(err, tokens.ErrExpired) || a.pastExpiredWindow(claims)) {
		return "", sid, false
	}
	sid, err = parseSessionClaim(claims.SessionID)
	return claims.Subject, sid, err == nil
}

// oauthForm reads the form of an OAuth request (RFC 6749 §3.2): POST,
// application/x-www-form-urlencoded, not sent cross-site by a browser, at
// most maxBodyBytes, no parameter twice, and an authenticated client when
// clients are configured.
func (a *Auth) oauthForm(c *gin.Context) (url.Values, oauthClient, error) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauthClient{}, fmt.Errorf("%w: Content-Type must be application/x-www-form-urlencoded", ErrBadRequest)
	}
	if crossSite(c.Request) {
		// A form post needs no CORS preflight: without this a page on
		// any site could log a visitor in, or end their session.
		return nil, oauthClient{}, fmt.Errorf("%w: cross-site request", ErrBadRequest)
	}
	if c.Request.ContentLength > maxBodyBytes {
		return nil, oauthClient{}, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, c.Request.ContentLength, maxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, oauthClient{}, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, maxBodyBytes)
	}
	if err != nil {
		return nil, oauthClient{}, fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oauthClient{}, fmt.Errorf("%w: body is not form-encoded: %v", ErrBadRequest, err)
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, oauthClient{}, fmt.Errorf("%w: parameter %.32q sent more than once", ErrBadRequest, k)
		}
		if vs[0] == "" {
			delete(form, k) // §3.2: a parameter without a value is omitted
		}
	}
	client, err := a.authenticateClient(c, form)
	if err != nil {
		return nil, oauthClient{}, err
	}
	return form, client, nil
}

// jwksMaxAge is how long clients may cache the key set served by
// [Auth.JWKSHandler]. A new signing key must be published at least this
// long before the issuer signs with it.
const jwksMaxAge = 5 * time.Minute

// JWKSHandler serves the public keys of Config.Verifier (EdDSA and ES256)
// as an RFC 7517 JSON Web Key Set, application/jwk-set+json, with
// Cache-Control max-age 5 minutes, so that other services can verify
// the kit's access tokens without holding a key that signs. HMAC secrets
// are never served: a verifier with only HMAC keys serves an empty set.
// Mount it at /.well-known/jwks.json. See [tokens.Verifier.JWKS] for the
// rotation procedure.
func (a *Auth) JWKSHandler() gin.HandlerFunc {
	body, err := a.cfg.Verifier.JWKS()
	return func(c *gin.Context) {
		if err != nil {
			a.fail(c, err)
			return
		}
		c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(jwksMaxAge.Seconds())))
		c.Data(http.StatusOK, "application/jwk-set+json", body)
	}
}
