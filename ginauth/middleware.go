package ginauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Required authenticates the request and rejects it when that fails (401,
// 400, 403 for CSRF, 503 when the store cannot answer). On success the
// principal is available through [PrincipalFrom]. A [Router] puts it in
// front of [SignedIn] routes; on plain gin groups it works the same.
func (a *Auth) Required() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := a.principal(c); ok {
			c.Next()
		}
	}
}

// RequireRoles lets the request through when the principal has at least
// one of roles, and answers 403 otherwise. It authenticates first when no
// earlier middleware did. With no roles it denies everything (fail
// closed). A [Router] puts it in front of [AnyRole] routes.
func (a *Auth) RequireRoles(roles ...string) gin.HandlerFunc {
	return a.require(AnyRole(roles...), nil)
}

// RequireAllRoles lets the request through only when the principal has
// every one of roles; with no roles it denies everything. A [Router] puts
// it in front of [AllRoles] routes.
func (a *Auth) RequireAllRoles(roles ...string) gin.HandlerFunc {
	return a.require(AllRoles(roles...), nil)
}

// require lets the request through when the principal meets r's step-up
// requirement (else 401 step_up_required) and every role clause of r:
// has at least one of its roles, never for an empty clause (else 403).
// Authentication comes first, so a principal who meets neither gets the
// 401. So that this holds also when a group declares one and its route
// the other, a missing role is answered with the 401 when route (if not
// nil) finds a step-up requirement of the matched route that the
// principal does not meet.
func (a *Auth) require(r Rule, route func(*gin.Context) stepUp) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := a.principal(c)
		if !ok {
			return
		}
		if !r.stepUp.metBy(p, a.cfg.Now()) {
			a.fail(c, &errStepUp{maxAge: r.stepUp.maxAge})
			return
		}
		for _, clause := range r.allOf {
			if !slices.ContainsFunc(clause, p.HasRole) {
				if route != nil {
					if su := route(c); !su.metBy(p, a.cfg.Now()) {
						a.fail(c, &errStepUp{maxAge: su.maxAge})
						return
					}
				}
				a.fail(c, ErrForbidden)
				return
			}
		}
		c.Next()
	}
}

// Authenticate establishes the principal when the request carries a valid
// credential, and always continues: an invalid or missing credential is
// remembered, not answered. A public page behind it can tell who is
// logged in ([PrincipalFrom] is false for anonymous callers), and the
// checks after it ([Auth.Required], [Auth.RequireRoles], …) only read
// what it found and answer 401, 403, 429 or 503 from that. It enforces
// nothing: routes behind it still need a [Rule], such as
// rt.Group("", ginauth.Open(), auth.Authenticate()).
func (a *Auth) Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		if resultOf(c) == nil {
			a.record(c)
		}
		c.Next()
	}
}

// authenticate checks the request's credential and records the outcome.
// On success it returns the principal; on failure it has already written
// the response.
func (a *Auth) authenticate(c *gin.Context) (*Principal, bool) {
	pc := a.record(c)
	if pc.err != nil {
		a.fail(c, pc.err)
		return nil, false
	}
	return &pc.p, true
}

// record checks the request's credential once and keeps the outcome in
// the request context, for the checks and [PrincipalFrom].
func (a *Auth) record(c *gin.Context) *principalContext {
	if a.obs != nil {
		end := a.begin(c, observe.Authenticate)
		p, err := a.check(c)
		end(err, http.StatusOK)
		return a.keep(c, p, err)
	}
	p, err := a.check(c)
	return a.keep(c, p, err)
}

// keep records the outcome of the request's check in its context.
func (a *Auth) keep(c *gin.Context, p Principal, err error) *principalContext {
	pc := &principalContext{Context: c.Request.Context(), p: p, err: err}
	c.Request = c.Request.WithContext(pc)
	return pc
}

func (a *Auth) check(c *gin.Context) (Principal, error) {
	if _, ok := a.cfg.Extractors[0].(bearerExtractor); ok {
		tok, found, err := bearerToken(c.Request)
		if err != nil {
			return Principal{}, err
		}
		if found {
			return a.checkBearer(c, tok)
		}
	}
	cred, err := a.extract(c)
	if err != nil {
		return Principal{}, err
	}
	switch cred := cred.(type) {
	case BearerToken:
		return a.checkBearer(c, string(cred))
	case BasicCredentials:
		return a.checkPassword(c, cred)
	case SessionCookie:
		sid := store.HashSecret(cred.Secret)
		auth, carried, err := a.cookieAuth(cred, sid)
		if err != nil {
			return Principal{}, err
		}
		p, err := a.checkSession(c, cred.Username, sid, SchemeCookie)
		if err == nil && carried {
			authn := auth.authn()
			p.AMR, p.AuthTime = authn.AMR, authn.Time
		}
		return p, err
	case nil:
		return Principal{}, ErrCredentialsMissing
	default:
		return Principal{}, fmt.Errorf("%w: unsupported credential %T", ErrCredentialsMissing, cred)
	}
}

// extract runs the extractors in order; the first credential found wins.
// It returns (nil, nil) when there is none.
func (a *Auth) extract(c *gin.Context) (Credential, error) {
	for _, x := range a.cfg.Extractors {
		found, err := x.Extract(c.Request)
		if err != nil || found != nil {
			return found, err
		}
	}
	if a.cookie != nil {
		return a.cookie.Extract(c.Request)
	}
	return nil, nil
}

func (a *Auth) checkBearer(c *gin.Context, token string) (Principal, error) {
	if a.apiKeys != nil && apikey.Is(token) {
		return a.checkAPIKey(c, a.apiKeys, token)
	}
	claims, verr := a.cfg.Verifier.Verify(token)
	if verr != nil && !errors.Is(verr, tokens.ErrExpired) {
		return Principal{}, classifyToken(verr)
	}
	if claims.ClientID != "" && claims.SessionID == "" {
		return a.checkClientToken(c, claims, verr)
	}
	sid, err := parseSessionClaim(claims.SessionID)
	if err != nil {
		return Principal{}, errors.Join(ErrTokenInvalid, err)
	}
	if verr != nil {
		return Principal{}, a.checkExpired(c, claims, sid, verr)
	}
	if a.cfg.Stateless {
		// SessionID lets logout revoke the session (and so its refresh
		// token) even though requests do not consult it.
		return Principal{Username: claims.Subject, Roles: claims.Roles, Scheme: SchemeBearer,
			SessionID: sid, TokenID: claims.ID, ExpiresAt: claims.ExpiresAt.Time,
			AMR: claims.AMR, AuthTime: authTimeOf(claims), claims: claims.Extra}, nil
	}
	p, err := a.checkSession(c, claims.Subject, sid, SchemeBearer)
	if err != nil {
		return Principal{}, err
	}
	p.TokenID, p.ExpiresAt = claims.ID, claims.ExpiresAt.Time
	p.AMR, p.AuthTime, p.claims = claims.AMR, authTimeOf(claims), claims.Extra
	return p, nil
}

// checkExpired answers an access token whose only fault is its expiry:
// token_expired (refresh) while its session is alive, looked at without
// touching it, and only within Refresh.ExpiredTokenWindow after the expiry; past
// that, invalid_token without asking the store, so an old token neither
// tells its holder whether the session lives nor keeps it from idling out.
func (a *Auth) checkExpired(c *gin.Context, claims *tokens.Claims, sid store.Digest, verr error) error {
	if a.pastExpiredWindow(claims) {
		return errors.Join(ErrTokenInvalid, verr)
	}
	if !a.cfg.Stateless {
		ctx, cancel := a.storeCtx(c)
		_, err := a.session(ctx, claims.Subject, sid, a.store.PeekSession)
		cancel()
		if err != nil {
			return err
		}
	}
	return classifyToken(verr)
}

// pastExpiredWindow reports an expired token whose expiry lies more than
// Refresh.ExpiredTokenWindow back (always, when the window is negative).
func (a *Auth) pastExpiredWindow(claims *tokens.Claims) bool {
	w := a.cfg.Refresh.ExpiredTokenWindow
	return w < 0 || claims.ExpiresAt == nil || a.cfg.Now().After(claims.ExpiresAt.Add(w))
}

func (a *Auth) checkSession(c *gin.Context, username string, sid store.Digest, scheme string) (Principal, error) {
	ctx, cancel := a.storeCtx(c)
	defer cancel()
	s, err := a.session(ctx, username, sid, a.store.Session)
	if err != nil {
		return Principal{}, err
	}
	authn := sessionAuthn(s)
	return Principal{Username: s.Username, Roles: s.Roles, Scheme: scheme, SessionID: s.ID,
		AMR: authn.AMR, AuthTime: authn.Time}, nil
}

// userRead is the result of one UserSource.User call.
type userRead struct {
	u   store.User
	err error
}

// session reads a session with read (Store.Session or PeekSession). When
// users live apart from sessions, it reads the owner from Users at the
// same time, so that the check costs the slower of the two round trips
// rather than their sum, and returns the session with the owner's roles
// only if the owner is enabled and still in the session's generation.
func (a *Auth) session(ctx context.Context, username string, sid store.Digest,
	read func(context.Context, string, store.Digest) (store.Session, error)) (store.Session, error) {
	if !a.external {
		s, err := read(ctx, username, sid)
		return s, classifyStore(err, ErrTokenInvalid)
	}
	owner := make(chan userRead, 1)
	go func() {
		u, err := a.users.User(ctx, username)
		owner <- userRead{u, err}
	}()
	s, err := read(ctx, username, sid)
	o := <-owner
	if err != nil {
		return store.Session{}, classifyStore(err, ErrTokenInvalid)
	}
	return owned(s, o.u, o.err, ErrTokenInvalid)
}

// errOwnerChanged: the session's owner was disabled, or moved to another
// generation (a password change, say), after the session was created.
var errOwnerChanged = fmt.Errorf("%w: the owner of the session was disabled or changed password", store.ErrNotFound)

// owned checks session s against its owner u as the user source has it
// now (uerr being the source's error) and gives it the owner's roles. An
// owner that is gone, disabled or in another generation ends the
// session: the error wraps asNotFound. A source that failed is a 503.
func owned(s store.Session, u store.User, uerr error, asNotFound error) (store.Session, error) {
	if uerr != nil {
		return store.Session{}, classifyStore(uerr, asNotFound)
	}
	if u.Disabled || u.Generation != s.Generation {
		return store.Session{}, classifyStore(errOwnerChanged, asNotFound)
	}
	s.Roles = u.Roles
	return s, nil
}

func (a *Auth) checkPassword(c *gin.Context, cred BasicCredentials) (Principal, error) {
	u, dv, err := a.verifyPassword(c, cred.Username, cred.Password)
	if err != nil {
		return Principal{}, err
	}
	if err := a.secondFactor(c, u, dv, false, true); err != nil {
		return Principal{}, err
	}
	// A Basic client gets a device credential only when it asks (or
	// renews one it presented): most send no cookies and would get a new
	// one, pushing out the user's older ones, on every request.
	if (!dv.known && c.GetHeader(DeviceHeader) == DeviceRequest) || dv.renew {
		if raw := a.issueDevice(c, u.Username); raw != "" {
			c.Header(DeviceHeader, raw)
			c.Header("Cache-Control", "no-store")
		}
	}
	return Principal{Username: u.Username, Roles: u.Roles, Scheme: SchemeBasic,
		AMR: passwordAMR, AuthTime: a.cfg.Now()}, nil
}

// deviceVerdict is what a password check found of the client's device
// credential.
type deviceVerdict struct {
	// known: the client presented a live credential of the account and
	// was judged as a known client.
	known bool
	// renew: that credential is past half its lifetime and was revoked;
	// the caller hands out a new one.
	renew bool
}

// verifyPassword checks a username and password for a login or a Basic
// request. The attempt is counted first, as pending, in one round trip
// (a locked key or a busy address answers 429 at once, without waiting
// for a hashing slot); then it waits for a slot, in the known clients'
// lane when it presents a device credential of the account, and is
// settled after the comparison. The verdict says what it found of the
// client's device credential.
func (a *Auth) verifyPassword(c *gin.Context, username, password string) (u store.User, dv deviceVerdict, err error) {
	withAttempt(c, username)
	name := throttleName(username)
	dev := a.presentedDevice(c, name)
	if dv.known, dv.renew, err = a.knownDevice(c.Request.Context(), dev); err != nil {
		return store.User{}, dv, err
	}
	addr := a.clientAddr(c)
	// In this process, at most AddressConcurrency checks of one address
	// (strangers), or of one account (its known clients, so that one
	// account's devices cannot fill the known clients' lane), wait or run
	// at once: more are refused before they cost a store round trip.
	gateKey, reason := "addr|"+addressBucket(addr), "address_concurrency"
	if dv.known {
		gateKey, reason = "known|"+name, "account_concurrency"
	} else {
		dev = nil
	}
	if t := &a.cfg.Throttle; !t.Disabled {
		leave, ok := a.gate.enter(gateKey, t.AddressConcurrency)
		if !ok {
			return store.User{}, dv, &errThrottled{retryAfter: busyRetry, reason: reason}
		}
		defer leave()
	}
	at, err := a.throttleBegin(c, a.counters(name, addr, dev), dev)
	if err != nil {
		return store.User{}, dv, err
	}
	release, err := a.acquireSlot(c, dv.known)
	if err != nil {
		// Not judged: the attempt leaves no trace.
		_ = a.throttleEnd(c, at, ErrUnavailable)
		return store.User{}, dv, errors.Join(ErrUnavailable, err)
	}
	u, verr := a.verifyHash(c, username, password)
	release()
	if err := a.throttleEnd(c, at, verr); err != nil {
		return store.User{}, dv, err
	}
	if dv.known {
		a.auditRequest(c, audit.Event{Kind: audit.DeviceUsed, Status: statusOf(verr), Username: name, Device: deviceRef(dev.id)})
		if verr == nil && dv.renew {
			a.retireDevice(c, dev)
		}
	}
	dv.renew = dv.renew && verr == nil
	return u, dv, verr
}

// statusOf is the status a password check's verdict is answered with,
// for audit events written before the answer.
func statusOf(verdict error) int {
	switch {
	case verdict == nil:
		return http.StatusOK
	case errors.Is(verdict, ErrBadCredentials):
		return http.StatusUnauthorized
	}
	return http.StatusServiceUnavailable
}
