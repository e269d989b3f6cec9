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
}

// clientTable checks client credentials in constant time per client.
type clientTable map[string][sha256.Size]byte

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
		t[c.ID] = sha256.Sum256([]byte(c.Secret))
	}
	return t, nil
}

// authenticate checks the client of a token or revocation request. With
// no clients configured every request passes: the endpoint then serves
// first-party clients that need no identity.
func (t clientTable) authenticate(r *http.Request, form url.Values) error {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the parts are form-encoded before Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%w: client credentials are not form-encoded", ErrInvalidClient)
		}
		if form.Has("client_secret") {
			return fmt.Errorf("%w: more than one client authentication method", ErrBadRequest)
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if t == nil {
		return nil
	}
	want, ok := t[id]
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok {
		return fmt.Errorf("%w: unknown client or wrong secret", ErrInvalidClient)
	}
	return nil
}

// TokenHandler serves an OAuth 2.0 token endpoint (RFC 6749) for POST
// application/x-www-form-urlencoded requests: grant_type=password
// (§4.3: username, password; meant for first-party clients) and
// grant_type=refresh_token (§6). Success is the §5.1 JSON with
// Cache-Control: no-store; errors are the §5.2 JSON {"error",
// "error_description"}: 400 invalid_request, invalid_grant (wrong
// password, unknown or reused refresh token) or unsupported_grant_type,
// 401 invalid_client with a Basic challenge when Config.Clients is set
// and the client's credentials are wrong, 413 for a body over 8 KiB, 429
// too_many_attempts with Retry-After when throttled, 503
// temporarily_unavailable with Retry-After. A request a browser marks
// Sec-Fetch-Site: cross-site is 400 invalid_request: an HTML form on any
// site could post it without a CORS preflight (login CSRF); same-site,
// same-origin, none and no header pass. The throttling, rotation, reuse
// detection and audit are those of [Auth.LoginHandler] and
// [Auth.RefreshHandler]: one implementation serves both.
func (a *Auth) TokenHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		form, err := a.oauthForm(c)
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
			g, err = a.passwordGrant(c, user, pw, false)
		case "refresh_token":
			tok := form.Get("refresh_token")
			if tok == "" {
				a.failOAuth(c, fmt.Errorf("%w: refresh_token is required", ErrBadRequest))
				return
			}
			g, err = a.refreshGrant(c, tok)
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
		form, err := a.oauthForm(c)
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
func (a *Auth) oauthForm(c *gin.Context) (url.Values, error) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%w: Content-Type must be application/x-www-form-urlencoded", ErrBadRequest)
	}
	if crossSite(c.Request) {
		// A form post needs no CORS preflight: without this a page on
		// any site could log a visitor in, or end their session.
		return nil, fmt.Errorf("%w: cross-site request", ErrBadRequest)
	}
	if c.Request.ContentLength > maxBodyBytes {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, c.Request.ContentLength, maxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, maxBodyBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: body is not form-encoded: %v", ErrBadRequest, err)
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, fmt.Errorf("%w: parameter %.32q sent more than once", ErrBadRequest, k)
		}
		if vs[0] == "" {
			delete(form, k) // §3.2: a parameter without a value is omitted
		}
	}
	if err := a.clients.authenticate(c.Request, form); err != nil {
		return nil, err
	}
	return form, nil
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
