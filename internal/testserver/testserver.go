// Package testserver builds a small authkit service on the in-memory
// store for the tests of the telemetry packages: login, refresh, logout
// and one guarded route, with users alice (admin) and bob.
package testserver

import (
	"context"
	"log/slog"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// Passwords of the users.
const (
	AlicePassword = "alice-password-1"
	BobPassword   = "bob-password-12"
)

// New returns the Auth, observed by obs, and its engine. Middleware mw
// runs before every route (a tracing middleware, say).
func New(t testing.TB, obs observe.Observer, mw ...gin.HandlerFunc) (*ginauth.Auth, *gin.Engine) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	key, err := tokens.NewHMACKey("k1", []byte("0123456789abcdef0123456789abcdef-test-only"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := tokens.NewIssuer(key, tokens.WithIssuer("authkit-test"), tokens.WithAudience("api"))
	if err != nil {
		t.Fatal(err)
	}
	ver, err := tokens.NewVerifier([]*tokens.Key{key}, tokens.WithIssuer("authkit-test"), tokens.WithAudience("api"))
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(memstore.Options{})
	logger := slog.New(slog.DiscardHandler)
	m, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ginauth.New(ginauth.Config{Store: st, Accounts: m, Issuer: iss, Verifier: ver, Logger: logger,
		Observer: obs, Cookie: &ginauth.CookieConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.CreateUser(ctx, "alice", AlicePassword, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateUser(ctx, "bob", BobPassword, nil); err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(mw...)
	rt := auth.Router(r)
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	rt.POST("/auth/refresh", ginauth.Open(), auth.RefreshHandler())
	rt.POST("/auth/logout", ginauth.Open(), auth.LogoutHandler())
	rt.GET("/api/me", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(200, gin.H{"username": p.Username})
	})
	return auth, r
}
