package sqlstore_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/tokens"
)

// BenchmarkRequest measures an authenticated request with the users in
// the same Redis as the sessions, with the users in PostgreSQL (the price
// of the split: a SELECT beside the Redis read), and with them in
// PostgreSQL behind a [sqlstore.Cache]. Compare them from one run:
//
//	go test -run '^$' -bench Request -count 6 ./store/sqlstore
func BenchmarkRequest(b *testing.B) {
	gin.SetMode(gin.TestMode)
	for _, users := range []string{"redis", "postgres", "postgres+cache"} {
		b.Run("users="+users, func(b *testing.B) {
			rdb, prefix := testredis.New(b)
			cfg := ginauth.Config{Logger: slog.New(slog.DiscardHandler), Audit: func(_ context.Context, _ audit.Event) {}}
			st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, ExternalUsers: users != "redis"})
			if err != nil {
				b.Fatal(err)
			}
			cfg.Store = st
			acfg := accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: 4}, AllowTestCosts: true}
			switch users {
			case "postgres":
				acfg.Users, _ = newStore(b, nil)
				acfg.Sessions = st
			case "postgres+cache":
				acfg.Users, _ = newCache(b, nil)
				acfg.Sessions = st
			}
			if cfg.Accounts, err = accounts.New(acfg); err != nil {
				b.Fatal(err)
			}
			key, _ := tokens.NewHMACKey("k", []byte(strings.Repeat("k", 32)))
			opts := []tokens.Option{tokens.WithIssuer("bench"), tokens.WithAudience("bench")}
			cfg.Issuer, _ = tokens.NewIssuer(key, opts...)
			cfg.Verifier, _ = tokens.NewVerifier([]*tokens.Key{key}, opts...)
			auth, err := ginauth.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := auth.Accounts().CreateUser(b.Context(), "alice", "alice-password", []string{"user"}); err != nil {
				b.Fatal(err)
			}
			r := gin.New()
			r.POST("/login", auth.LoginHandler())
			r.GET("/me", auth.Authenticate(), auth.Required(), func(c *gin.Context) { c.Status(204) })
			w := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username":"alice","password":"alice-password"}`))
			req.Header.Set("Content-Type", "application/json")
			r.ServeHTTP(w, req)
			tok := w.Body.String()
			tok = tok[strings.Index(tok, `"access_token":"`)+16:]
			tok = tok[:strings.IndexByte(tok, '"')]
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/me", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				r.ServeHTTP(w, req)
				if w.Code != 204 {
					b.Fatalf("GET /me = %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
