package ginauth

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// orderedHasher records the passwords it compares, in order, and holds
// the comparison of hold until gate is closed.
type orderedHasher struct {
	accounts.Hasher
	hold    string
	entered chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	order   []string
}

func (h *orderedHasher) Compare(ctx context.Context, hash, pw []byte) error {
	if string(pw) == h.hold {
		h.entered <- struct{}{}
		<-h.gate
	}
	h.mu.Lock()
	h.order = append(h.order, string(pw))
	h.mu.Unlock()
	return h.Hasher.Compare(ctx, hash, pw)
}

// TestKnownClientLane: with the only hashing slot taken, a known client
// that arrives after a stranger is served first: the login path puts
// device-credential logins in the known clients' lane.
func TestKnownClientLane(t *testing.T) {
	h := &orderedHasher{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, hold: "held-guess",
		entered: make(chan struct{}), gate: make(chan struct{})}
	st := memstore.New(memstore.Options{})
	m, err := accounts.New(accounts.Config{Users: st, Hasher: h, AllowTestCosts: true})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := tokens.NewHMACKey("k", []byte(strings.Repeat("s", 32)))
	opts := []tokens.Option{tokens.WithIssuer("i"), tokens.WithAudience("a")}
	iss, _ := tokens.NewIssuer(key, opts...)
	ver, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	a, err := New(Config{Store: st, Accounts: m, Issuer: iss, Verifier: ver,
		Throttle: Throttle{PasswordConcurrency: 1, PasswordWait: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := m.CreateUser(context.Background(), u, u+"-password", nil); err != nil {
			t.Fatal(err)
		}
	}
	r := gin.New()
	r.POST("/login", a.LoginHandler())
	login := func(peer, user, pw, device string) int {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = peer + ":40000"
		if device != "" {
			req.Header.Set(DeviceHeader, device)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if device == "" && w.Code == 200 {
			var tok TokenResponse
			_ = json.Unmarshal(w.Body.Bytes(), &tok)
			h.mu.Lock()
			h.order = append(h.order, "device:"+tok.DeviceToken)
			h.mu.Unlock()
		}
		return w.Code
	}
	if code := login("192.0.2.1", "bob", "bob-password", ""); code != 200 {
		t.Fatalf("bob's first login: %d", code)
	}
	h.mu.Lock()
	dev := strings.TrimPrefix(h.order[len(h.order)-1], "device:")
	h.order = nil
	h.mu.Unlock()

	done := make(chan int, 3)
	go func() { done <- login("198.51.100.1", "alice", "held-guess", "") }()
	<-h.entered // the only slot is taken
	waiting := func(known, other int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if k, o := a.slots.waiting(); k == known && o == other {
				return
			}
			if time.Now().After(deadline) {
				k, o := a.slots.waiting()
				t.Fatalf("waiting: %d known, %d others; want %d, %d", k, o, known, other)
			}
		}
	}
	go func() { done <- login("198.51.100.2", "alice", "stranger-guess", "") }()
	waiting(0, 1)
	go func() { done <- login("192.0.2.1", "bob", "bob-password", dev) }()
	waiting(1, 1)
	close(h.gate)
	for range 3 {
		<-done
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.order) != 3 || h.order[1] != "bob-password" || h.order[2] != "stranger-guess" {
		t.Errorf("comparisons in the order %q, want the held one, then the known client's, then the stranger's", h.order)
	}
}
