package ginauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// maxBodyBytes caps handler bodies: credentials are small, and an
// unbounded body is a cheap denial of service.
const maxBodyBytes = 8 << 10

// TokenResponse is the body of a successful login or refresh, in the shape
// of RFC 6749 §5.1.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	// RefreshToken is absent from client_credentials answers, which
	// have no session.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Scope is the scope granted, when the client_credentials request
	// named one (RFC 6749 §5.1).
	Scope string `json:"scope,omitempty"`
	// DeviceToken is a new device credential, after a password login from
	// a client that presented none for the account: a client that keeps
	// no cookies sends it back in the [DeviceHeader] header of its next
	// logins, to be judged as a known client (see [Throttle]).
	DeviceToken string `json:"device_token,omitempty"`
}

// CookieLoginResponse is the body of a successful login that asked for a
// session cookie: the tokens stay out of reach of the page's scripts.
type CookieLoginResponse struct {
	// CSRFToken must be echoed in the CSRF header on unsafe requests; it is
	// also set as a script-readable cookie.
	CSRFToken string `json:"csrf_token"`
	// ExpiresIn is the session's remaining absolute lifetime in seconds.
	ExpiresIn int `json:"expires_in"`
}

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	// Cookie asks for a browser session cookie instead of tokens; honoured
	// when a browser cookie is configured (Config.Cookie).
	Cookie bool `json:"cookie"`
}

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
	// token is where takeMember keeps the value RefreshToken points to,
	// in the request rather than in an allocation of its own; untagged
	// and unexported, it is no member name.
	token string
}

// LoginHandler handles POST {"username","password"}. On success it creates
// a session and answers 200 with a [TokenResponse] and Cache-Control:
// no-store. With "cookie": true and Config.Cookie set, it sets
// the session and CSRF cookies instead and answers with a
// [CookieLoginResponse]. Unknown user, wrong password and disabled user
// get the same 401 invalid_credentials after the same hashing work; too
// many failures get 429 (see [Throttle]). Member names are exact: a member
// sent twice, or one that differs from "username", "password" or "cookie"
// only in case ("Username"), is 400 invalid_request; other members are
// ignored, so clients may send extras such as "grant_type".
func (a *Auth) LoginHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req loginRequest
		if err := decodeBody(c, &req); err != nil {
			a.fail(c, err)
			return
		}
		if req.Username == nil || req.Password == nil || *req.Username == "" {
			a.fail(c, fmt.Errorf("%w: username and password are required", ErrBadRequest))
			return
		}
		g, err := a.passwordGrant(c, *req.Username, *req.Password, req.Cookie, true)
		if err != nil {
			a.fail(c, err)
			return
		}
		a.answerLogin(c, g, req.Cookie)
	}
}

// answerLogin answers a login's grant: with the session and CSRF cookies
// when the client asked for them and Config.Cookie is set, else with
// tokens.
func (a *Auth) answerLogin(c *gin.Context, g grant, cookie bool) {
	noStore(c)
	if cookie && a.cookie != nil {
		maxAge := int(a.cfg.Sessions.Lifetime.Seconds())
		a.cookie.set(c.Writer, c.Request, a.sessionCookieValue(g.username, g.secret, g.auth), g.secret, maxAge)
		c.JSON(http.StatusOK, CookieLoginResponse{CSRFToken: csrfToken(g.secret), ExpiresIn: maxAge})
		return
	}
	a.sendTokens(c, g, a.fail)
}

// grant is what a successful password or refresh grant hands out.
type grant struct {
	username string
	sid      store.Digest
	roles    []string
	refresh  string
	secret   []byte // the session secret; only a login has it
	device   string // a new device credential; only a login has it
	// auth is how and when the user authenticated, for the access
	// token's amr, auth_time and acr.
	auth authContext
	// client is the client_id of a client_credentials grant, which has
	// no user, session or refresh token; scope is the scope it asked.
	client, scope string
	// user is the user as far as the grant read it, for the hook of
	// application claims (accounts.Config.Claims): the full record at a
	// login, the name and current roles at a refresh. A grant without a
	// user (a client's) gets no application claims.
	user store.User
}

// passwordGrant checks a username and password (throttled) and creates a
// session: the one implementation behind the login and token endpoints.
// A user with a second factor gets no session but the mfa_required error
// with a ticket (cookie: the login asked for a cookie; ticket false: the
// grant cannot go on to a second step, as the OAuth password grant).
func (a *Auth) passwordGrant(c *gin.Context, username, password string, cookie, ticket bool) (g grant, err error) {
	if a.obs != nil {
		end := a.begin(c, observe.Login)
		defer func() { end(err, http.StatusOK) }()
	}
	u, dv, err := a.verifyPassword(c, username, password)
	if err != nil {
		return grant{}, err
	}
	if err := a.secondFactor(c, u, dv, cookie, !ticket); err != nil {
		return grant{}, err
	}
	return a.startSession(c, u, authContext{methods: amrPwd, at: a.cfg.Now().Unix()}, dv)
}

// startSession creates the session of a login whose credentials were
// right, authenticated as auth, and hands out a device credential unless
// the client presented a live one.
func (a *Auth) startSession(c *gin.Context, u store.User, auth authContext, dv deviceVerdict) (grant, error) {
	secret, err := newSecret()
	if err != nil {
		return grant{}, err
	}
	sid := store.HashSecret(secret)
	refresh, err := a.firstRefreshToken(u.Username, sid, auth)
	if err != nil {
		return grant{}, err
	}
	evicted, err := a.createSession(c, u, sid, refresh)
	if err != nil {
		return grant{}, err
	}
	for _, id := range evicted {
		a.auditRequest(c, audit.Event{Kind: audit.SessionEvicted, Status: http.StatusOK, Reason: "session_cap", Username: u.Username, Session: sessionPrefix(id)})
	}
	a.auditRequest(c, audit.Event{Kind: audit.LoginSucceeded, Status: http.StatusOK, Username: u.Username, Session: sessionPrefix(sid)})
	g := grant{username: u.Username, sid: sid, roles: u.Roles, user: u, refresh: refresh.raw, secret: secret, auth: auth}
	if !dv.known || dv.renew {
		g.device = a.issueDevice(c, u.Username)
	}
	return g, nil
}

// refreshGrant rotates a refresh token: the one implementation behind the
// refresh and token endpoints. With users in a separate source it reads
// the owner while the store rotates, and refuses the grant when the owner
// is gone, disabled or in another generation. It passes the client's address to the
// store, which reports a grace replay with the address of the rotation
// replayed: audited as refresh_retried, and refused when
// Refresh.SameClient is set and the addresses differ.
func (a *Auth) refreshGrant(c *gin.Context, token string) (g grant, err error) {
	if a.obs != nil {
		end := a.begin(c, observe.Refresh)
		defer func() { end(err, http.StatusOK) }()
	}
	old, err := a.parseRefreshToken(token)
	if err != nil {
		return grant{}, errors.Join(ErrInvalidGrant, err)
	}
	next := a.nextRefreshToken(old, old.auth)
	addr := clip(a.clientAddr(c), store.MaxClientLen)
	ctx, cancel := a.storeCtx(c)
	var owner chan userRead
	if a.external {
		// The owner's check does not depend on the rotation: as
		// Auth.session does for every request, the user is read from its
		// own source while the store rotates, so that a refresh waits for
		// the slower of the two, not for both in turn. The read starts
		// after the request arrived, so it sees any disable or password
		// change made before.
		owner = make(chan userRead, 1)
		go func() {
			u, err := a.users.User(ctx, old.username)
			owner <- userRead{u, err}
		}()
	}
	s, err := a.store.RotateRefresh(ctx, old.username, old.sid, store.Rotation{
		Old: old.digest(), Seq: old.seq,
		Next: next.digest(), Grace: max(0, a.cfg.Refresh.Grace),
		Client: addr,
	})
	err = classifyStore(err, ErrInvalidGrant)
	var user store.User
	if owner != nil {
		r := <-owner
		if err == nil {
			s, err = owned(s, r.u, r.err, ErrInvalidGrant)
			user = r.u
		}
	}
	cancel()
	if err == nil && s.Retried && a.cfg.Refresh.SameClient && s.RotatedBy != addr {
		// The session lives on: the holder of its current token may well
		// be the rightful one, and only this answer is withheld.
		err = errors.Join(ErrInvalidGrant, &otherClientError{session: sessionPrefix(s.ID), prior: s.RotatedBy})
	}
	if err != nil {
		withAttempt(c, old.username)
		return grant{}, err
	}
	ev := audit.Event{Kind: audit.Refreshed, Status: http.StatusOK, Username: s.Username, Session: sessionPrefix(s.ID)}
	if s.Retried {
		ev.Kind, ev.Reason, ev.PriorClientIP = audit.RefreshRetried, "grace_replay", s.RotatedBy
	}
	a.auditRequest(c, ev)
	auth := old.auth
	if auth.at == 0 && !s.CreatedAt.IsZero() {
		auth.at = s.CreatedAt.Unix() // an rt2 token's session: its login's time
	}
	if user.Username == "" {
		user = store.User{Username: s.Username, Roles: s.Roles}
	}
	return grant{username: s.Username, sid: s.ID, roles: s.Roles, user: user, refresh: next.raw, auth: auth}, nil
}

// createSession stores the session of a login, in the user generation
// whose password was verified. When the generation moved on meanwhile, it
// tries once more only if the password hash is the one verified and the
// user is enabled (the move was a logout-all, say); a password change or a
// disable ends the login as invalid_credentials. It returns the IDs of the
// sessions Sessions.MaxPerUser ended to make room, oldest first.
func (a *Auth) createSession(c *gin.Context, u store.User, sid store.Digest, refresh refreshToken) (evicted []store.Digest, err error) {
	spec := store.SessionSpec{
		ID: sid, Username: u.Username, Refresh: refresh.digest(),
		IdleTimeout: a.cfg.Sessions.IdleTimeout, ExpiresAt: a.cfg.Now().Add(a.cfg.Sessions.Lifetime),
		Generation: u.Generation, MaxSessions: max(0, a.cfg.Sessions.MaxPerUser),
	}
	for try := 0; ; try++ {
		ctx, cancel := a.storeCtx(c)
		evicted, err := a.store.CreateSession(ctx, spec)
		cancel()
		if a.external && errors.Is(err, store.ErrNotFound) {
			// A store for external users never answers this: it expects
			// users of its own. The password was right, so not a 401.
			a.cfg.Logger.ErrorContext(c, "authkit: the session store refused a session of a user that Config.Accounts holds: "+
				"configure it for external users (redisstore.Options.ExternalUsers)", "user", u.Username, "err", err)
			return nil, errors.Join(ErrUnavailable, err)
		}
		if !errors.Is(err, store.ErrStale) || try > 0 {
			return evicted, classifyStore(err, ErrBadCredentials)
		}
		ctx, cancel = a.storeCtx(c)
		now, err := a.users.User(ctx, u.Username)
		cancel()
		if err != nil {
			return nil, classifyStore(err, ErrBadCredentials)
		}
		if now.Disabled || !bytes.Equal(now.PasswordHash, u.PasswordHash) {
			return nil, ErrBadCredentials
		}
		spec.Generation = now.Generation
	}
}

// RefreshHandler handles POST {"refresh_token"}. It rotates the refresh
// token atomically and answers 200 with a new [TokenResponse]. Within
// Refresh.Grace of a rotation, the previous token is answered again with
// the same successor, so retries and concurrent refreshes converge. An
// unknown or expired refresh token gets 401 invalid_grant; any other reuse
// of a rotated one also revokes its whole session, since only a copy of
// the token can be presented twice. The body's member names are checked
// as [Auth.LoginHandler]'s: "refresh_token" exactly and once, others
// ignored.
func (a *Auth) RefreshHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req refreshRequest
		if err := decodeBody(c, &req); err != nil {
			a.fail(c, err)
			return
		}
		if req.RefreshToken == nil || *req.RefreshToken == "" {
			a.fail(c, fmt.Errorf("%w: refresh_token is required", ErrBadRequest))
			return
		}
		g, err := a.refreshGrant(c, *req.RefreshToken)
		if err != nil {
			a.fail(c, err)
			return
		}
		noStore(c)
		a.sendTokens(c, g, a.fail)
	}
}

// sendTokens answers a grant with a new access token and its refresh
// token (RFC 6749 §5.1), with the application claims of the grant's user
// (accounts.Config.Claims); fail answers a signing error or a failure of
// the claims, as 503.
func (a *Auth) sendTokens(c *gin.Context, g grant, fail func(*gin.Context, error)) {
	extra, err := a.applicationClaims(c, g.user)
	if err != nil {
		fail(c, err)
		return
	}
	tg := tokens.Grant{
		Subject: g.username, SessionID: sessionClaim(g.sid), Roles: g.roles,
		Authn: g.auth.authn(), Extra: extra,
	}
	if g.client != "" {
		tg = tokens.Grant{Subject: g.client, ClientID: g.client, Roles: g.roles}
	}
	access, _, err := a.cfg.Issuer.IssueGrant(tg)
	if err != nil {
		if extra != nil && errors.Is(err, tokens.ErrClaims) {
			// A reserved name or a value that does not encode: the
			// hook's fault, answered and logged as its errors are.
			err = &claimsError{err: err}
		}
		fail(c, err)
		return
	}
	writeTokenResponse(c, TokenResponse{
		AccessToken: access, TokenType: SchemeBearer,
		ExpiresIn:    int(math.Ceil(a.cfg.Issuer.TTL().Seconds())),
		RefreshToken: g.refresh, DeviceToken: g.device, Scope: g.scope,
	})
}

// applicationClaims asks accounts.Config.Claims for u's application
// claims; nil for a grant without a user or without a hook.
func (a *Auth) applicationClaims(c *gin.Context, u store.User) (map[string]any, error) {
	if u.Username == "" || !a.claims {
		return nil, nil
	}
	ctx, cancel := a.storeCtx(c)
	defer cancel()
	extra, err := a.accounts.TokenClaims(ctx, u)
	if err != nil {
		return nil, &claimsError{err: err}
	}
	return extra, nil
}

// claimsError is a failure of the application claims: it wraps none of
// the sentinels whatever the hook returned, so that it is always a 503,
// logged (see Auth.report).
type claimsError struct{ err error }

func (e *claimsError) Error() string {
	return "ginauth: application claims (accounts.Config.Claims): " + e.err.Error()
}

// LogoutHandler revokes the caller's session and answers 204. It is
// idempotent: a second logout with the same access token (expired or
// not) or cookie is 204 again, so mount it without [Auth.Required]; it
// authenticates by itself, accepting credentials whose session is already
// gone. In stateless mode the access token stays valid until it expires;
// only its session and refresh token die. HTTP Basic has no session: the
// answer is 204 and nothing changes.
func (a *Auth) LogoutHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		var err error
		if a.obs != nil {
			end := a.begin(c, observe.Logout)
			defer func() { end(err, http.StatusNoContent) }()
		}
		username, sid, scheme, err := a.logoutTarget(c)
		if err != nil {
			a.fail(c, err)
			return
		}
		if !sid.IsZero() {
			ctx, cancel := a.storeCtx(c)
			err = classifyStore(a.store.RevokeSession(ctx, username, sid), ErrTokenInvalid)
			cancel()
			if err != nil {
				a.fail(c, err)
				return
			}
		}
		a.auditRequest(c, audit.Event{Kind: audit.Logout, Status: http.StatusNoContent, Username: username, Session: sessionPrefixOrEmpty(sid)})
		a.loggedOut(c, scheme)
	}
}

// logoutTarget finds the session a logout ends: the principal's when an
// earlier check authenticated the request, or else the one its
// credential names, live or not. A Basic credential names none and is not
// checked: logging out of it changes nothing.
func (a *Auth) logoutTarget(c *gin.Context) (username string, sid store.Digest, scheme string, err error) {
	if p, ok := PrincipalFrom(c); ok {
		return p.Username, p.SessionID, p.Scheme, nil
	}
	cred, err := a.extract(c)
	if err != nil {
		return "", sid, "", err
	}
	switch cred := cred.(type) {
	case BearerToken:
		claims, verr := a.cfg.Verifier.Verify(string(cred))
		if verr != nil && (!errors.Is(verr, tokens.ErrExpired) || a.pastExpiredWindow(claims)) {
			// Past the window an old token (from a log, say) is as dead
			// here as everywhere: it cannot end the owner's session.
			return "", sid, "", errors.Join(ErrTokenInvalid, verr)
		}
		sid, err = parseSessionClaim(claims.SessionID)
		if err != nil {
			return "", sid, "", errors.Join(ErrTokenInvalid, err)
		}
		return claims.Subject, sid, SchemeBearer, nil
	case SessionCookie:
		return cred.Username, store.HashSecret(cred.Secret), SchemeCookie, nil
	case BasicCredentials:
		return "", sid, SchemeBasic, nil
	default:
		return "", sid, "", ErrCredentialsMissing
	}
}

func sessionPrefixOrEmpty(id store.Digest) string {
	if id.IsZero() {
		return ""
	}
	return sessionPrefix(id)
}

// LogoutAllHandler revokes every session and every device credential of
// the caller ("log out everywhere") and answers 204.
func (a *Auth) LogoutAllHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := a.principal(c)
		if !ok {
			return
		}
		if p.KeyID != "" || p.ClientID != "" {
			// A leaked key must not be able to end its owner's sessions
			// and keys; a client has no sessions.
			a.fail(c, fmt.Errorf("%w: API keys and OAuth clients cannot log out everywhere", ErrForbidden))
			return
		}
		var err error
		if a.obs != nil {
			end := a.begin(c, observe.LogoutAll)
			defer func() { end(err, http.StatusNoContent) }()
		}
		ctx, cancel := a.storeCtx(c)
		err = classifyStore(a.store.RevokeAll(ctx, p.Username), ErrTokenInvalid)
		if err == nil && a.apiKeys != nil {
			// The user's API keys end too.
			if kerr := a.apiKeys.RevokeAll(ctx, p.Username); kerr != nil {
				err = errors.Join(ErrUnavailable, kerr)
			}
		}
		cancel()
		if err != nil {
			a.fail(c, err)
			return
		}
		a.auditRequest(c, audit.Event{Kind: audit.LogoutAll, Status: http.StatusNoContent})
		a.revokeDevices(c, p.Username, "logout_all")
		a.loggedOut(c, p.Scheme)
	}
}

// HealthHandler answers 200 {"status":"ok"} when the stores answer within
// StoreTimeout (Store and Users, those that implement store.Pinger), and
// 503 with Retry-After otherwise.
func (a *Auth) HealthHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := a.storeCtx(c)
		err := ping(ctx, a.cfg.Store)
		if err == nil && a.external {
			err = ping(ctx, a.accounts.Users()) // not a.users: an Observer's wrapper hides Pinger
		}
		cancel()
		if err != nil {
			a.fail(c, errors.Join(ErrUnavailable, err))
			return
		}
		noStore(c)
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// ping pings s when it is a store.Pinger; any other store counts as up.
func ping(ctx context.Context, s any) error {
	if p, ok := s.(store.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// principal returns the principal [Auth.Authenticate] or an earlier
// check recorded, answering its failure when it recorded one, or
// authenticates the request now.
func (a *Auth) principal(c *gin.Context) (*Principal, bool) {
	pc := resultOf(c)
	if pc == nil {
		return a.authenticate(c)
	}
	if pc.err != nil {
		a.fail(c, pc.err)
		return nil, false
	}
	return &pc.p, true
}

func (a *Auth) loggedOut(c *gin.Context, scheme string) {
	if a.cookie != nil && scheme == SchemeCookie {
		a.cookie.clear(c.Writer, c.Request)
	}
	noStore(c)
	c.Status(http.StatusNoContent)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

// decodeBody reads one JSON object of at most maxBodyBytes (413 beyond,
// decided from Content-Length before reading when it is sent). It insists on
// Content-Type application/json: a cross-site HTML form cannot send that
// type without a CORS preflight, so a form cannot log a victim in to the
// attacker's account (login CSRF). The object's member names are checked
// first (see [decodeMembers]), so that encoding/json's case-insensitive,
// last-one-wins matching never decides which value counts.
func decodeBody(c *gin.Context, v any) error {
	if ct := c.GetHeader("Content-Type"); ct != "application/json" { // the usual value needs no parsing
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return fmt.Errorf("%w: Content-Type must be application/json", ErrBadRequest)
		}
	}
	if crossSite(c.Request) {
		return fmt.Errorf("%w: cross-site request", ErrBadRequest)
	}
	if c.Request.ContentLength > maxBodyBytes {
		return fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, c.Request.ContentLength, maxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err == nil {
		err = decodeMembers(body, v)
	}
	if err == nil {
		return nil
	}
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return fmt.Errorf("%w: body over %d bytes", ErrTooLarge, maxBodyBytes)
	}
	return fmt.Errorf("%w: body must be one JSON object: %v", ErrBadRequest, err)
}

// decodeMembers decodes body into v, the struct its members fill, after
// insisting that body is exactly one JSON object whose top-level member
// names are each sent once, and that a name which differs from a known
// one only in case (as encoding/json folds it: "Username", "USERNAME",
// "uſername") is not sent: such a member would fill the known field.
// Other unknown members are allowed; they fill nothing. A body of one
// plain member (see plainMember) is checked by its shape, and goes to a
// memberTaker without encoding/json, which costs a refresh about 1.5 µs.
func decodeMembers(body []byte, v any) error {
	known := jsonNames(v)
	name, value, plain := plainMember(body, known)
	if !plain {
		if err := walkMembers(body, known); err != nil {
			return err
		}
	} else if t, ok := v.(memberTaker); ok && t.takeMember(name, value) {
		return nil
	}
	return json.Unmarshal(body, v)
}

// memberTaker is a request body that can take the value of its one
// plain member, a string that needs no unescaping.
type memberTaker interface {
	// takeMember sets the member name to value and reports whether
	// it could; when it cannot, it changes nothing.
	takeMember(name string, value []byte) bool
}

func (r *refreshRequest) takeMember(name string, value []byte) bool {
	if name != "refresh_token" {
		return false
	}
	r.token = string(value)
	r.RefreshToken = &r.token
	return true
}

// plainMember reports whether body is exactly {"name":"value"}: one
// member, its name one of known as it is, its value a string of token
// characters (letters, digits, '-', '.', '_', '~'), with no space and no
// escape; it returns the name and value when it is. Such a body keeps
// decodeMembers' rules by its shape alone, so the body of a refresh,
// which every client sends so, is not walked token by token (the walk
// costs 3 µs and 16 allocations of a refresh). FuzzPlainMember holds it,
// and the value it returns, to walkMembers and encoding/json.
func plainMember(body []byte, known []string) (name string, value []byte, ok bool) {
	rest, ok := bytes.CutPrefix(body, []byte(`{"`))
	if !ok {
		return "", nil, false
	}
	n, rest, ok := bytes.Cut(rest, []byte(`":"`))
	if !ok {
		return "", nil, false
	}
	i := slices.Index(known, string(n))
	if i < 0 {
		return "", nil, false
	}
	value, ok = bytes.CutSuffix(rest, []byte(`"}`))
	if !ok {
		return "", nil, false
	}
	for _, c := range value {
		if !tokenByte(c) {
			return "", nil, false
		}
	}
	return known[i], value, true
}

// tokenByte reports whether c is one of the unreserved characters of
// RFC 3986, which a refresh token is made of.
func tokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// walkMembers checks decodeMembers' rules for any body: it reads the
// object member by member with encoding/json's tokenizer.
func walkMembers(body []byte, known []string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("body must hold exactly one JSON object")
	}
	seen := make(map[string]bool, len(known))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("member %.32q sent more than once", name)
		}
		seen[name] = true
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return fmt.Errorf("member %.32q is not %q", name, k)
			}
		}
		if err := dec.Decode(new(skipValue)); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("body must hold exactly one JSON object")
	}
	return nil
}

// skipValue is a JSON value decoded for its syntax only: the decoder
// checks the whole value, and nothing is kept or copied.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// jsonNames lists the member names of the struct v points to, from its
// json tags. The list of each type is made once: the caller must not
// change it.
func jsonNames(v any) []string {
	t := reflect.TypeOf(v)
	if names, ok := jsonNamesOf.Load(t); ok {
		return names.([]string)
	}
	names, _ := jsonNamesOf.LoadOrStore(t, fieldNames(t.Elem()))
	return names.([]string)
}

// jsonNamesOf holds jsonNames' lists by pointer type.
var jsonNamesOf sync.Map

func fieldNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}
