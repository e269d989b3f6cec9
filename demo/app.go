package main

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
)

// app is the demo's HTTP application: the engine and what its handlers
// share.
type app struct {
	auth    *ginauth.Auth
	logger  *slog.Logger
	mode    string // "memory" or "redis"
	metrics *metrics
	engine  *gin.Engine
	router  *ginauth.Router // the engine's routes with their rules
	routes  []pageRoute     // for the page's route table
}

// newApp mounts the demo's routes through auth's router, each with its
// rule, which the router enforces and lists. TestRoutes checks the list
// against the README.
func newApp(auth *ginauth.Auth, logger *slog.Logger, mode string) *app {
	a := &app{auth: auth, logger: logger, mode: mode, metrics: newMetrics()}
	r := gin.New()
	// Behind no proxy: the client address is the peer's, whatever
	// X-Forwarded-For claims.
	_ = r.SetTrustedProxies(nil)
	// The request log is outermost, so that it also sees the 500 of a
	// recovered panic.
	r.Use(a.logRequests, a.recoverPanics, securityHeaders, a.crossOriginGuard())
	// A known path with the wrong method gets 405 and an Allow header
	// (set by gin), not 404.
	r.HandleMethodNotAllowed = true
	// No redirect from /healthz/ to /healthz (gin's default is true):
	// gin writes that redirect before any middleware runs, so it would go
	// out without the security headers and without a line in the request
	// log, and an uptime check or script that follows it would hide its
	// wrong URL. The paths are the API: a trailing slash gets the usual
	// 404 body.
	r.RedirectTrailingSlash = false

	// HEAD answers as GET without the body (net/http drops it), for
	// uptime checks and curl -I. Gin does not route HEAD to GET by itself.
	rt := auth.Router(r)
	rt.GET("/", ginauth.Open(), a.page)
	rt.HEAD("/", ginauth.Open(), a.page)
	health := auth.HealthHandler()
	rt.GET("/healthz", ginauth.Open(), health)
	rt.HEAD("/healthz", ginauth.Open(), health)

	ag := rt.Group("/auth", ginauth.Open())
	ag.POST("/login", ginauth.Open(), auth.LoginHandler())
	ag.POST("/refresh", ginauth.Open(), auth.RefreshHandler())
	// Logout authenticates by itself and is idempotent: a second logout,
	// or one with an expired token, is 204 again. Behind a sign-in rule
	// it would answer 401 for a session that is already gone.
	ag.POST("/logout", ginauth.Open(), auth.LogoutHandler())
	ag.POST("/logout-all", ginauth.SignedIn(), auth.LogoutAllHandler())
	// Second factors: the login's second step (/auth/mfa), TOTP enrolment
	// (/auth/totp/...) and passkeys (/auth/passkeys/...).
	auth.MountTOTP(ag)
	auth.MountPasskeys(ag)
	// API keys for machines (/auth/apikeys/...): a signed-in user manages
	// their own; the keys themselves are Bearer credentials on /api.
	auth.MountAPIKeys(ag)

	// OAuth 2.0 clients (golang.org/x/oauth2 and the like): the password
	// and refresh_token grants of RFC 6749, and RFC 7009 revocation.
	rt.POST("/oauth/token", ginauth.Open(), auth.TokenHandler())
	rt.POST("/oauth/revoke", ginauth.Open(), auth.RevokeHandler())
	// The public keys other services verify tokens with (an empty set
	// with AUTHKIT_SECRET, whose key must never be published).
	rt.GET("/.well-known/jwks.json", ginauth.Open(), auth.JWKSHandler())

	api := rt.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), a.me)
	api.GET("/admin/stats", ginauth.AnyRole("admin"), a.stats)
	api.GET("/reports", ginauth.AnyRole("admin", "analyst"), a.reports)
	// Step-up (RFC 9470): a second factor used within the last 5 minutes.
	api.GET("/step-up", ginauth.SignedIn().WithMFA(5*time.Minute), a.stepUp)

	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not_found", "message": "There is nothing here – see / for the routes"})
	})
	r.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "method_not_allowed", "message": "This route does not accept " + c.Request.Method + " – see / for the routes"})
	})
	a.engine, a.router = r, rt
	a.routes = describeRoutes(rt)
	return a
}

// me answers who the caller is.
func (a *app) me(c *gin.Context) {
	p, ok := ginauth.PrincipalFrom(c)
	if !ok { // unreachable behind ginauth.SignedIn; fail closed all the same
		a.logger.Error("no principal behind ginauth.SignedIn", "path", c.FullPath())
		internalError(c)
		return
	}
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	c.Header("Cache-Control", "no-store")
	if p.ClientID != "" { // an OAuth client acting as itself
		c.JSON(http.StatusOK, gin.H{"client_id": p.ClientID, "roles": roles})
		return
	}
	c.JSON(http.StatusOK, gin.H{"username": p.Username, "roles": roles})
}

// stepUp answers a caller who used a second factor within 5 minutes.
func (a *app) stepUp(c *gin.Context) {
	p, ok := ginauth.PrincipalFrom(c)
	if !ok { // unreachable behind its rule; fail closed all the same
		internalError(c)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"username": p.Username, "amr": p.AMR, "auth_time": p.AuthTime.UTC().Format(time.RFC3339)})
}

// stats is the admins' view of the service.
func (a *app) stats(c *gin.Context) {
	total, byStatus := a.metrics.requests()
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"store":          a.mode,
		"uptime_seconds": int(time.Since(a.metrics.started).Seconds()),
		"goroutines":     runtime.NumGoroutine(),
		"requests":       gin.H{"total": total, "by_status": byStatus},
	})
}

// reports is the analysts' (and admins') report on sign-ins.
func (a *app) reports(c *gin.Context) {
	r := a.metrics.report()
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"generated_at": time.Now().UTC().Format(time.RFC3339),
		"logins":       gin.H{"succeeded": r.loginOK, "failed": r.loginFailed},
		"refreshes":    gin.H{"succeeded": r.refreshOK, "failed": r.refreshFailed},
	})
}

// logRequests writes one line per request: method, path, status,
// duration, client and principal. The principal logs as user and scheme
// only; headers, bodies and query strings are never logged, so no
// password, token or session id reaches the log. It runs outermost and
// logs from a defer: a panic recovered by recoverPanics logs as its 500,
// and a panic that goes on (http.ErrAbortHandler) still leaves a line.
func (a *app) logRequests(c *gin.Context) {
	start := time.Now()
	defer func() {
		v := recover()
		status := c.Writer.Status()
		if v != nil && !c.Writer.Written() {
			status = http.StatusInternalServerError
		}
		a.metrics.record(c.FullPath(), status)
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("path", truncate(c.Request.URL.Path, 200)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", c.ClientIP()),
		}
		if p, ok := ginauth.PrincipalFrom(c); ok {
			attrs = append(attrs, slog.Any("principal", p))
		}
		if v != nil {
			attrs = append(attrs, slog.Bool("aborted", true))
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		a.logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
		if v != nil {
			panic(v) // net/http aborts the connection
		}
	}()
	c.Next()
}

// recoverPanics turns a panic into a 500 without logging the request
// (gin.Recovery would dump its headers, cookies included); logRequests
// logs the request line. http.ErrAbortHandler goes on: it asks net/http
// to abort the connection.
func (a *app) recoverPanics(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v)
		}
		a.logger.Error("panic while serving", "method", c.Request.Method, "path", c.FullPath(), "panic", v)
		internalError(c)
	}()
	c.Next()
}

// internalError answers 500 with the usual error body, unless an answer
// has already started.
func internalError(c *gin.Context) {
	if c.Writer.Written() {
		c.Abort()
		return
	}
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal_error", "message": "Something went wrong – please try again"})
}

// securityHeaders are sent on every response.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	c.Next()
}

// crossOriginGuard refuses unsafe requests sent by a browser from another
// origin (by Sec-Fetch-Site or Origin, see http.CrossOriginProtection)
// with 403 csrf_failed. The CSRF token already guards cookie-authenticated
// requests; this also covers login, which has no session yet (login CSRF).
// curl and scripts send neither header and pass.
func (a *app) crossOriginGuard() gin.HandlerFunc {
	cop := http.NewCrossOriginProtection()
	return func(c *gin.Context) {
		if err := cop.Check(c.Request); err != nil {
			a.auth.Fail(c, errors.Join(ginauth.ErrCSRF, err))
			return
		}
		c.Next()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// metrics counts requests for the stats and reports routes.
type metrics struct {
	started time.Time

	mu       sync.Mutex
	total    int64
	byStatus map[int]int64
	rep      report
}

type report struct{ loginOK, loginFailed, refreshOK, refreshFailed int64 }

func newMetrics() *metrics { return &metrics{started: time.Now(), byStatus: map[int]int64{}} }

func (m *metrics) record(route string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total++
	m.byStatus[status]++
	// Failed means refused credentials: 401, which login answers only
	// with invalid_credentials and refresh only with invalid_grant. A
	// malformed request (400), a cross-site one (403) or an outage (503)
	// is no failed sign-in.
	ok := status < 300
	switch {
	case route == "/auth/login" && ok:
		m.rep.loginOK++
	case route == "/auth/login" && status == http.StatusUnauthorized:
		m.rep.loginFailed++
	case route == "/auth/refresh" && ok:
		m.rep.refreshOK++
	case route == "/auth/refresh" && status == http.StatusUnauthorized:
		m.rep.refreshFailed++
	}
}

func (m *metrics) requests() (int64, map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	by := make(map[string]int64, len(m.byStatus))
	for s, n := range m.byStatus {
		by[strconv.Itoa(s)] = n
	}
	return m.total, by
}

func (m *metrics) report() report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rep
}

// joinRoles renders roles for people.
func joinRoles(roles []string) string {
	if len(roles) == 0 {
		return "(none)"
	}
	return strings.Join(roles, ",")
}
