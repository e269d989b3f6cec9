package ginauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/store"
)

// maxBodyBytes caps handler bodies: credentials are small, and an
// unbounded body is a cheap denial of service.
const maxBodyBytes = 8 << 10

// TokenResponse is the body of a successful login or refresh, in the shape
// of RFC 6749 §5.1.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
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
	// when a [CookieExtractor] is configured.
	Cookie bool `json:"cookie"`
}

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

// LoginHandler handles POST {"username","password"}. On success it creates
// a session and answers 200 with a [TokenResponse] and Cache-Control:
// no-store. With "cookie": true and a [CookieExtractor] configured, it sets
// the session and CSRF cookies instead and answers with a
// [CookieLoginResponse]. Unknown user, wrong password and disabled user
// get the same 401 invalid_credentials after the same bcrypt work.
func (a *Auth) LoginHandler() gin.HandlerFunc {
	return annotate(Requirement{Public: true, Endpoint: true}, func(c *gin.Context) {
		var req loginRequest
		if err := decodeBody(c, &req); err != nil {
			a.fail(c, err)
			return
		}
		if req.Username == nil || req.Password == nil || *req.Username == "" {
			a.fail(c, fmt.Errorf("%w: username and password are required", ErrBadRequest))
			return
		}
		u, err := a.verifyPassword(c, *req.Username, *req.Password)
		if err != nil {
			a.fail(c, err)
			return
		}
		secret, err := newSecret()
		if err != nil {
			a.fail(c, err)
			return
		}
		sid := store.HashSecret(secret)
		refresh, err := newRefreshToken(u.Username, sid)
		if err != nil {
			a.fail(c, err)
			return
		}
		expires := a.cfg.Now().Add(a.cfg.SessionLifetime)
		ctx, cancel := a.storeCtx(c)
		err = a.cfg.Store.CreateSession(ctx, store.NewSession{
			ID: sid, Username: u.Username, Refresh: store.HashSecret([]byte(refresh)),
			IdleTimeout: a.cfg.SessionIdleTimeout, ExpiresAt: expires,
		})
		cancel()
		if err != nil {
			// The user was disabled or deleted since the password check.
			a.fail(c, classifyStore(err, ErrBadCredentials))
			return
		}
		noStore(c)
		if req.Cookie && a.cookie != nil {
			maxAge := int(a.cfg.SessionLifetime.Seconds())
			a.cookie.set(c.Writer, c.Request, u.Username, secret, maxAge)
			c.JSON(http.StatusOK, CookieLoginResponse{CSRFToken: csrfToken(secret), ExpiresIn: maxAge})
			return
		}
		a.sendTokens(c, u.Username, sid, u.Roles, refresh)
	})
}

// RefreshHandler handles POST {"refresh_token"}. It rotates the refresh
// token atomically and answers 200 with a new [TokenResponse]. An unknown,
// expired or already-used refresh token gets 401 invalid_grant; a reused
// one also revokes its whole session, since only a copy of the token can
// be presented twice.
func (a *Auth) RefreshHandler() gin.HandlerFunc {
	return annotate(Requirement{Public: true, Endpoint: true}, func(c *gin.Context) {
		var req refreshRequest
		if err := decodeBody(c, &req); err != nil {
			a.fail(c, err)
			return
		}
		if req.RefreshToken == nil || *req.RefreshToken == "" {
			a.fail(c, fmt.Errorf("%w: refresh_token is required", ErrBadRequest))
			return
		}
		old := *req.RefreshToken
		username, sid, err := parseRefreshToken(old)
		if err != nil {
			a.fail(c, errors.Join(ErrInvalidGrant, err))
			return
		}
		next, err := newRefreshToken(username, sid)
		if err != nil {
			a.fail(c, err)
			return
		}
		ctx, cancel := a.storeCtx(c)
		s, err := a.cfg.Store.RotateRefresh(ctx, username, sid,
			store.HashSecret([]byte(old)), store.HashSecret([]byte(next)))
		cancel()
		if err != nil {
			a.fail(c, classifyStore(err, ErrInvalidGrant))
			return
		}
		noStore(c)
		a.sendTokens(c, s.Username, s.ID, s.Roles, next)
	})
}

func (a *Auth) sendTokens(c *gin.Context, username string, sid store.Digest, roles []string, refresh string) {
	access, _, err := a.cfg.Issuer.Issue(username, sid.String(), roles)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, TokenResponse{
		AccessToken: access, TokenType: SchemeBearer,
		ExpiresIn:    int(math.Ceil(a.cfg.Issuer.TTL().Seconds())),
		RefreshToken: refresh,
	})
}

// LogoutHandler revokes the caller's session and answers 204. Mount it
// behind [Auth.Required]; it authenticates by itself otherwise. In
// stateless mode the access token stays valid until it expires; only its
// session and refresh token die. HTTP Basic has no session: the answer is
// 204 and nothing changes.
func (a *Auth) LogoutHandler() gin.HandlerFunc {
	return annotate(Requirement{Authenticated: true, Endpoint: true}, func(c *gin.Context) {
		p, ok := a.principal(c)
		if !ok {
			return
		}
		if !p.SessionID.IsZero() {
			ctx, cancel := a.storeCtx(c)
			err := a.cfg.Store.RevokeSession(ctx, p.Username, p.SessionID)
			cancel()
			if err != nil {
				a.fail(c, classifyStore(err, ErrTokenInvalid))
				return
			}
		}
		a.loggedOut(c)
	})
}

// LogoutAllHandler revokes every session of the caller ("log out
// everywhere") and answers 204.
func (a *Auth) LogoutAllHandler() gin.HandlerFunc {
	return annotate(Requirement{Authenticated: true, Endpoint: true}, func(c *gin.Context) {
		p, ok := a.principal(c)
		if !ok {
			return
		}
		ctx, cancel := a.storeCtx(c)
		err := a.cfg.Store.RevokeAll(ctx, p.Username)
		cancel()
		if err != nil {
			a.fail(c, classifyStore(err, ErrTokenInvalid))
			return
		}
		a.loggedOut(c)
	})
}

// HealthHandler answers 200 {"status":"ok"} when the store answers within
// StoreTimeout, and 503 with Retry-After otherwise.
func (a *Auth) HealthHandler() gin.HandlerFunc {
	return annotate(Requirement{Public: true, Endpoint: true}, func(c *gin.Context) {
		ctx, cancel := a.storeCtx(c)
		err := a.cfg.Store.Ping(ctx)
		cancel()
		if err != nil {
			a.fail(c, errors.Join(ErrUnavailable, err))
			return
		}
		noStore(c)
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
}

// principal returns the principal an earlier annotation recorded, or
// authenticates the request now (writing the error response on failure).
func (a *Auth) principal(c *gin.Context) (*Principal, bool) {
	if p, ok := PrincipalFrom(c); ok {
		return p, true
	}
	return a.authenticate(c)
}

func (a *Auth) loggedOut(c *gin.Context) {
	if p, _ := PrincipalFrom(c); a.cookie != nil && p != nil && p.Scheme == SchemeCookie {
		a.cookie.clear(c.Writer, c.Request)
	}
	noStore(c)
	c.Status(http.StatusNoContent)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

// decodeBody reads one JSON object of at most maxBodyBytes. It insists on
// Content-Type application/json: a cross-site HTML form cannot send that
// type without a CORS preflight, so a form cannot log a victim in to the
// attacker's account (login CSRF).
func decodeBody(c *gin.Context, v any) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type must be application/json", ErrBadRequest)
	}
	if c.GetHeader("Sec-Fetch-Site") == "cross-site" {
		return fmt.Errorf("%w: cross-site request", ErrBadRequest)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body must be a JSON object: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body must hold exactly one JSON object", ErrBadRequest)
	}
	return nil
}
