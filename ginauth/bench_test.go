package ginauth_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/store"
)

// BenchmarkAuthenticatedRequest measures one GET /api/me through the
// middleware: session mode (one store round trip) and stateless mode.
// Set AUTHKIT_TEST_REDIS to measure against a real Redis.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	for _, mode := range []struct {
		name      string
		stateless bool
	}{{"session", false}, {"stateless", true}} {
		b.Run(mode.name, func(b *testing.B) {
			k := newKit(b, func(c *kitConfig) { c.Stateless = mode.stateless })
			tok := k.login("alice", alicePW)
			req := httptest.NewRequest("GET", "/api/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				k.engine.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkLoginTiming times failed logins at the default bcrypt cost:
// an unknown user, a wrong password, a disabled user, and a user whose
// hash was stored at another cost and re-hashed at a good login. Each
// reports its median, which must be the same for all (no enumeration by
// timing). Run with -benchtime 20x; each login takes a bcrypt at cost 12.
func BenchmarkLoginTiming(b *testing.B) {
	k := newKit(b, func(c *kitConfig) {
		c.hasher, c.Throttle.Disabled = accounts.Bcrypt{Cost: accounts.DefaultBcryptCost}, true
	})
	ctx := context.Background()
	if err := k.auth.Accounts().CreateUser(ctx, "dora", "dora-password", nil); err != nil {
		b.Fatal(err)
	}
	if err := k.auth.Accounts().SetDisabled(ctx, "dora", true); err != nil {
		b.Fatal(err)
	}
	old, _ := bcrypt.GenerateFromPassword([]byte("rehash-password"), 10)
	if err := k.users.CreateUser(ctx, store.User{Username: "rita", PasswordHash: old}); err != nil {
		b.Fatal(err)
	}
	if r := k.do("POST", "/auth/login", map[string]string{"username": "rita", "password": "rehash-password"}); r.Code != 200 {
		b.Fatalf("re-hashing login: %d", r.Code)
	}
	if u, _ := k.users.User(ctx, "rita"); !strings.HasPrefix(string(u.PasswordHash), "$2a$12$") {
		b.Fatalf("rita's hash was not re-hashed: %.7s", u.PasswordHash)
	}
	for _, tc := range []struct{ name, user, pw string }{
		{"unknown_user", "nobody", "wrong-password"},
		{"wrong_password", "bob", "wrong-password"},
		{"disabled_user", "dora", "dora-password"},
		{"rehashed_user", "rita", "wrong-password"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			body := `{"username":"` + tc.user + `","password":"` + tc.pw + `"}`
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				r := k.doCT("POST", "/auth/login", body, "application/json")
				took = append(took, time.Since(start))
				if r.Code != 401 {
					b.Fatalf("status %d", r.Code)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// BenchmarkRequestDuringLoginFlood measures authenticated GETs while 100
// clients flood the login with made-up names and wrong passwords at the
// default cost, all from one address (as from one host) or each from its
// own (a distributed flood); every 50th iteration also logs in a real
// user from a quiet address. It reports the GETs' p50 and p99 and what
// the flood and the real logins were answered, per status.
func BenchmarkRequestDuringLoginFlood(b *testing.B) {
	for _, addresses := range []int{1, 100} {
		b.Run(strconv.Itoa(addresses)+"_addresses", func(b *testing.B) { benchFlood(b, addresses) })
	}
}

func benchFlood(b *testing.B, addresses int) {
	k := newKit(b, func(c *kitConfig) { c.hasher = accounts.Bcrypt{Cost: accounts.DefaultBcryptCost} })
	tok := k.login("alice", alicePW)
	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	count := func(who string, code int) { mu.Lock(); statuses[who+"-"+strconv.Itoa(code)]++; mu.Unlock() }
	for i := range 100 {
		wg.Go(func() {
			ip := "10.9." + strconv.Itoa(i%addresses/200) + "." + strconv.Itoa(i%addresses%200+1)
			for n := 0; n < 100_000; n++ { // bounded; stop ends it first
				select {
				case <-stop:
					return
				default:
				}
				body := `{"username":"flood` + strconv.Itoa(n%997) + `","password":"wrong-password"}`
				count("flood", k.doHost("example.com", "POST", "/auth/login", body, append(from(ip), "Content-Type", "application/json")...).Code)
			}
		})
	}
	get := httptest.NewRequest("GET", "/api/me", nil)
	get.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var took []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		w := httptest.NewRecorder()
		k.engine.ServeHTTP(w, get)
		took = append(took, time.Since(start))
		if w.Code != 200 {
			b.Fatalf("authenticated GET during the flood: %d %s", w.Code, w.Body)
		}
		if i++; i%50 == 0 {
			count("real-login", k.loginFrom("10.8.0.1", "bob", bobPW).Code)
		}
	}
	close(stop)
	wg.Wait()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
	for k, n := range statuses {
		b.ReportMetric(float64(n), k)
	}
}

// BenchmarkLoginSecondFactor measures what a TOTP second factor adds to
// a login, in pairs: each iteration logs bob in with his password (no
// factor) and alice with hers and a code (login, then /auth/mfa), in
// alternating order, against the test Redis at bcrypt's minimum cost
// (so the factor's share shows; at cost 12 the hash dominates both).
// It reports the median of the per-pair ratios and each side's mean.
// The clock moves one TOTP step per iteration, since a code's step is
// accepted once.
func BenchmarkLoginSecondFactor(b *testing.B) {
	k := newKit(b, withTOTP)
	k.enrolTOTP("alice")
	password := func() time.Duration {
		start := time.Now()
		w := k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW})
		d := time.Since(start)
		if w.Code != 200 {
			b.Fatalf("login: %d %s", w.Code, w.Body)
		}
		return d
	}
	second := func() time.Duration {
		start := time.Now()
		r := k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW})
		w := k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": r.str("mfa_ticket"), "code": k.code("alice")})
		d := time.Since(start)
		if w.Code != 200 {
			b.Fatalf("mfa: %d %s", w.Code, w.Body)
		}
		return d
	}
	var ratios []float64
	var pt, st time.Duration
	i := 0
	for b.Loop() {
		k.clock.Advance(mfa.Period)
		var dp, ds time.Duration
		if i%2 == 0 {
			dp, ds = password(), second()
		} else {
			ds, dp = second(), password()
		}
		pt, st = pt+dp, st+ds
		ratios = append(ratios, float64(ds)/float64(dp))
		i++
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "mfa/password")
	b.ReportMetric(float64(pt.Nanoseconds())/float64(i), "password-ns/op")
	b.ReportMetric(float64(st.Nanoseconds())/float64(i), "mfa-ns/op")
}

// BenchmarkRefresh measures one POST /auth/refresh end to end on the
// in-memory store, so that what it shows is authkit's own work, not a
// store's round trip: each iteration presents the refresh token the one
// before it was given. Audit events go to a hook that does nothing, as
// the kit's recording hook would dominate.
func BenchmarkRefresh(b *testing.B) {
	k := newMemKit(b, func(c *kitConfig) { c.Audit = func(context.Context, audit.Event) {} })
	refresh := k.login("alice", alicePW).RefreshToken
	const member = `"refresh_token":"`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/refresh", strings.NewReader(`{"refresh_token":"`+refresh+`"}`))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		k.engine.ServeHTTP(w, req)
		body := w.Body.String()
		i := strings.Index(body, member)
		if w.Code != 200 || i < 0 {
			b.Fatalf("status %d: %s", w.Code, body)
		}
		refresh, _, _ = strings.Cut(body[i+len(member):], `"`)
	}
}
