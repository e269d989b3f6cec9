package ginauth

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// TestEveryLoginPaysBcrypt checks that unknown users, malformed usernames
// and bad passwords cost exactly one bcrypt comparison, like a known user,
// and that the dummy hash stands in when there is no user: otherwise the
// response time would tell which usernames exist.
func TestEveryLoginPaysBcrypt(t *testing.T) {
	key, _ := tokens.NewHMACKey("k", bytes.Repeat([]byte("s"), 32))
	opts := []tokens.Option{tokens.WithIssuer("i"), tokens.WithAudience("a")}
	iss, _ := tokens.NewIssuer(key, opts...)
	ver, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	a, err := New(Config{Store: memstore.New(memstore.Options{}), Issuer: iss, Verifier: ver, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateUser(context.Background(), "bob", "bob-password", []string{"user"}); err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	compareHash = func(h, pw []byte) error {
		hashes = append(hashes, h)
		return bcrypt.CompareHashAndPassword(h, pw)
	}
	t.Cleanup(func() { compareHash = bcrypt.CompareHashAndPassword })

	tests := []struct {
		name, user, pw string
		dummy          bool
	}{
		{"known user, right password", "bob", "bob-password", false},
		{"known user, wrong password", "bob", "nope-nope", false},
		{"known user, 73-byte password", "bob", strings.Repeat("b", 73), false},
		{"unknown user", "mallory", "whatever-pw", true},
		{"malformed username", "{bad}", "whatever-pw", true},
		{"unknown user, empty password", "mallory", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hashes = nil
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("POST", "/", nil)
			_, _ = a.verifyPassword(c, tt.user, tt.pw)
			if len(hashes) != 1 {
				t.Fatalf("%d bcrypt comparisons, want 1", len(hashes))
			}
			if got := bytes.Equal(hashes[0], a.dummyHash); got != tt.dummy {
				t.Errorf("compared against the dummy hash = %v, want %v", got, tt.dummy)
			}
		})
	}
	// The dummy hash has the configured cost, so it takes as long as a
	// real one.
	if cost, _ := bcrypt.Cost(a.dummyHash); cost != bcrypt.MinCost {
		t.Errorf("dummy hash cost %d", cost)
	}
}

// TestPasswordConcurrencyBounded: with every bcrypt slot taken, a login
// waits PasswordWait and then gets 503 — never 401, never an unbounded
// queue.
func TestPasswordConcurrencyBounded(t *testing.T) {
	key, _ := tokens.NewHMACKey("k", bytes.Repeat([]byte("s"), 32))
	opts := []tokens.Option{tokens.WithIssuer("i"), tokens.WithAudience("a")}
	iss, _ := tokens.NewIssuer(key, opts...)
	ver, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	a, err := New(Config{Store: memstore.New(memstore.Options{}), Issuer: iss, Verifier: ver,
		BcryptCost: bcrypt.MinCost, PasswordConcurrency: 1, PasswordWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	entered, unblock := make(chan struct{}), make(chan struct{})
	compareHash = func(h, pw []byte) error {
		entered <- struct{}{}
		<-unblock
		return bcrypt.CompareHashAndPassword(h, pw)
	}
	t.Cleanup(func() { compareHash = bcrypt.CompareHashAndPassword })

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
	<-entered // the only slot is now taken

	w := login()
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("busy login: %d %s, want 503 with Retry-After", w.Code, w.Body)
	}
	close(unblock)
	if w := <-first; w.Code != 401 {
		t.Errorf("first login: %d, want 401", w.Code)
	}
}
