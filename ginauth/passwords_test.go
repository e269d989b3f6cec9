package ginauth_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testhash"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// TestPasswordConcurrencyBounded: with every comparison slot taken, a
// login waits Throttle.PasswordWait and then gets 503 — never 401, never an
// unbounded queue.
func TestPasswordConcurrencyBounded(t *testing.T) {
	key, _ := tokens.NewHMACKey("k", bytes.Repeat([]byte("s"), 32))
	opts := []tokens.Option{tokens.WithIssuer("i"), tokens.WithAudience("a")}
	iss, _ := tokens.NewIssuer(key, opts...)
	ver, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, Entered: make(chan struct{}), Gate: make(chan struct{})}
	st := memstore.New(memstore.Options{})
	m, err := accounts.New(accounts.Config{Users: st, Hasher: h, AllowTestCosts: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ginauth.New(ginauth.Config{Store: st, Accounts: m, Issuer: iss, Verifier: ver,
		Throttle: ginauth.Throttle{PasswordConcurrency: 1, PasswordWait: 50 * time.Millisecond},
		Logger:   slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.POST("/login", a.LoginHandler())
	login := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username":"x","password":"y"}`))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- login() }()
	<-h.Entered // the only slot is now taken

	w := login()
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("busy login: %d %s, want 503 with Retry-After", w.Code, w.Body)
	}
	close(h.Gate)
	if w := <-first; w.Code != 401 {
		t.Errorf("first login: %d, want 401", w.Code)
	}
}
