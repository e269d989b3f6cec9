package ginauth

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Required authenticates the request and rejects it when that fails (401,
// 400, 403 for CSRF, 503 when the store cannot answer). On success the
// principal is available through [PrincipalFrom]. Use it on route groups.
func (a *Auth) Required() gin.HandlerFunc {
	return annotate(Requirement{Authenticated: true}, func(c *gin.Context) {
		if _, ok := a.principal(c); ok {
			c.Next()
		}
	})
}

// RequireRoles lets the request through when the principal has at least
// one of roles, and answers 403 otherwise. It authenticates first when no
// earlier middleware did. With no roles it denies everything (fail
// closed) and [Routes] reports the route as misconfigured.
func (a *Auth) RequireRoles(roles ...string) gin.HandlerFunc {
	return a.requireRoles(Requirement{Authenticated: true, AnyOf: [][]string{slices.Clone(roles)}})
}

// RequireAllRoles lets the request through only when the principal has
// every one of roles.
func (a *Auth) RequireAllRoles(roles ...string) gin.HandlerFunc {
	req := Requirement{Authenticated: true}
	for _, r := range roles {
		req.AnyOf = append(req.AnyOf, []string{r})
	}
	if len(roles) == 0 {
		req.AnyOf = [][]string{{}}
	}
	return a.requireRoles(req)
}

func (a *Auth) requireRoles(req Requirement) gin.HandlerFunc {
	return annotate(req, func(c *gin.Context) {
		p, ok := a.principal(c)
		if !ok {
			return
		}
		for _, clause := range req.AnyOf {
			if !slices.ContainsFunc(clause, p.HasRole) {
				a.fail(c, ErrForbidden)
				return
			}
		}
		c.Next()
	})
}

// Public marks a route as deliberately open to anyone. It does nothing at
// request time; it exists so [Routes] and ginauthtest can tell a public
// route from one that was forgotten.
func Public() gin.HandlerFunc {
	return annotate(Requirement{Public: true}, func(c *gin.Context) { c.Next() })
}

// authenticate runs the extractors and checks the credential found. On
// success it stores the principal in the request context; on failure it
// has already written the response.
func (a *Auth) authenticate(c *gin.Context) (*Principal, bool) {
	p, err := a.check(c)
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	c.Request = c.Request.WithContext(WithPrincipal(c.Request.Context(), p))
	return p, true
}

func (a *Auth) check(c *gin.Context) (*Principal, error) {
	var cred Credential
	for _, x := range a.cfg.Extractors {
		found, err := x.Extract(c.Request)
		if err != nil {
			return nil, err
		}
		if found != nil {
			cred = found
			break
		}
	}
	switch cred := cred.(type) {
	case BearerToken:
		return a.checkBearer(c, string(cred))
	case Password:
		return a.checkPassword(c, cred)
	case SessionCookie:
		return a.checkSession(c, cred.Username, store.HashSecret(cred.Secret), SchemeCookie)
	case nil:
		return nil, ErrCredentialsMissing
	default:
		return nil, fmt.Errorf("%w: unsupported credential %T", ErrCredentialsMissing, cred)
	}
}

func (a *Auth) checkBearer(c *gin.Context, token string) (*Principal, error) {
	claims, verr := a.cfg.Verifier.Verify(token)
	if verr != nil && !errors.Is(verr, tokens.ErrExpired) {
		return nil, classifyToken(verr)
	}
	sid, err := store.ParseDigest(claims.SessionID)
	if err != nil {
		return nil, errors.Join(ErrTokenInvalid, err)
	}
	if a.cfg.Stateless {
		if verr != nil {
			return nil, classifyToken(verr)
		}
		// SessionID lets logout revoke the session (and so its refresh
		// token) even though requests do not consult it.
		return &Principal{Username: claims.Subject, Roles: claims.Roles, Scheme: SchemeBearer,
			SessionID: sid, TokenID: claims.ID, ExpiresAt: claims.ExpiresAt.Time}, nil
	}
	// Even an expired token is checked against its session: only a live
	// session makes it refreshable (token_expired); otherwise the client
	// must log in again (invalid_token).
	p, err := a.checkSession(c, claims.Subject, sid, SchemeBearer)
	if err != nil {
		return nil, err
	}
	if verr != nil {
		return nil, classifyToken(verr)
	}
	p.TokenID, p.ExpiresAt = claims.ID, claims.ExpiresAt.Time
	return p, nil
}

func (a *Auth) checkSession(c *gin.Context, username string, sid store.Digest, scheme string) (*Principal, error) {
	ctx, cancel := a.storeCtx(c)
	defer cancel()
	s, err := a.cfg.Store.Session(ctx, username, sid)
	if err != nil {
		return nil, classifyStore(err, ErrTokenInvalid)
	}
	return &Principal{Username: s.Username, Roles: s.Roles, Scheme: scheme, SessionID: s.ID}, nil
}

func (a *Auth) checkPassword(c *gin.Context, cred Password) (*Principal, error) {
	u, err := a.verifyPassword(c, cred.Username, cred.Password)
	if err != nil {
		return nil, err
	}
	return &Principal{Username: u.Username, Roles: u.Roles, Scheme: SchemeBasic}, nil
}

// compareHash is bcrypt's comparison; a variable so that a test can check
// it runs for unknown users too.
var compareHash = bcrypt.CompareHashAndPassword

// verifyPassword checks a username and password. Unknown users, disabled
// users, wrong and unacceptable passwords all fail the same way, after the
// same bcrypt work.
func (a *Auth) verifyPassword(c *gin.Context, username, password string) (store.User, error) {
	var u store.User
	err := store.ValidateUsername(username)
	if err == nil {
		ctx, cancel := a.storeCtx(c)
		u, err = a.cfg.Store.User(ctx, username)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
			return u, errors.Join(ErrUnavailable, err)
		}
	}
	hash := u.PasswordHash
	if err != nil || len(hash) == 0 {
		hash = a.dummyHash
	}
	release, werr := a.passwordSlot(c)
	if werr != nil {
		return store.User{}, werr
	}
	defer release()
	// bcrypt ignores bytes past the 72nd and hashes the empty password: a
	// password outside 1..72 bytes never matches, whatever it is compared to.
	cmpErr := compareHash(hash, []byte(password))
	if err != nil || cmpErr != nil || u.Disabled || checkPasswordBytes(password) != nil {
		return store.User{}, ErrBadCredentials
	}
	return u, nil
}

// errPasswordBusy: every password-check slot stayed taken for PasswordWait.
var errPasswordBusy = errors.New("ginauth: too many password checks at once")

// passwordSlot waits for a free bcrypt slot, at most PasswordWait. Busy is
// answered like a store outage (503, Retry-After): the caller's credentials
// were not judged, so they must not hear 401.
func (a *Auth) passwordSlot(c *gin.Context) (release func(), err error) {
	select {
	case a.passwordSlots <- struct{}{}:
		return func() { <-a.passwordSlots }, nil
	default:
	}
	t := time.NewTimer(a.cfg.PasswordWait)
	defer t.Stop()
	select {
	case a.passwordSlots <- struct{}{}:
		return func() { <-a.passwordSlots }, nil
	case <-t.C:
		return nil, errors.Join(ErrUnavailable, errPasswordBusy)
	case <-c.Request.Context().Done():
		return nil, errors.Join(ErrUnavailable, c.Request.Context().Err())
	}
}
