package ginauth_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testredis"
)

// TestRoundTrips asserts one store round trip per authenticated request in
// session mode, zero in stateless mode, and none for anonymous requests.
func TestRoundTrips(t *testing.T) {
	tests := []struct {
		name      string
		stateless bool
		want      int64
	}{
		{"session mode", false, 1},
		{"stateless mode", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKit(t, func(c *kitConfig) { c.Stateless = tt.stateless })
			tok := k.login("alice", alicePW)
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "") // warms the script cache
			for _, path := range []string{"/api/me", "/api/admin/stats", "/api/reports"} {
				before := k.trips.n.Load()
				expect(t, k.do("GET", path, nil, bearer(tok.AccessToken)...), 200, "")
				if got := k.trips.n.Load() - before; got != tt.want {
					t.Errorf("%s: %d round trips, want %d", path, got, tt.want)
				}
			}
			before := k.trips.n.Load()
			expect(t, k.do("GET", "/api/me", nil), 401, "authentication_required")
			expect(t, k.do("GET", "/api/me", nil, bearer("garbage.token.x")...), 401, "invalid_token")
			if got := k.trips.n.Load() - before; got != 0 {
				t.Errorf("anonymous requests made %d round trips, want 0", got)
			}
		})
	}
}

// TestAnonymousWritesNothing checks the key space itself: requests without
// a valid credential — including a correctly signed token for an unknown
// session and a well-formed refresh token with a wrong secret, which reach
// the store's scripts — leave every key and value as it was.
func TestAnonymousWritesNothing(t *testing.T) {
	k := newKit(t)
	tok := k.login("alice", alicePW)
	unknownSession := k.foreignToken(testSecret, "k1", "authkit-test", "api")
	wrongSecret := withRefreshSecret(tok.RefreshToken, strings.Repeat("A", 43))
	before := k.snapshot()
	for range 5 {
		k.do("GET", "/api/me", nil)
		k.do("GET", "/api/me", nil, bearer("a.b.c")...)
		k.do("GET", "/api/me", nil, bearer(unknownSession)...)
		k.do("POST", "/auth/refresh", map[string]string{"refresh_token": "nope"})
		k.do("POST", "/auth/refresh", map[string]string{"refresh_token": wrongSecret})
		k.do("POST", "/auth/login", map[string]string{"username": "mallory", "password": "whatever"})
		k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "whatever"})
	}
	after := k.snapshot()
	// Failed logins are counted for throttling, in keys of their own;
	// nothing else may change.
	counters := 0
	for key := range after {
		if strings.Contains(key, "{a:") {
			counters++
			delete(after, key)
		}
	}
	if counters != 5 {
		t.Errorf("%d failure counters, want 5 (two account-address pairs, one address, two accounts)", counters)
	}
	if len(after) != len(before) {
		t.Fatalf("keys went from %d to %d", len(before), len(after))
	}
	for key, v := range before {
		if after[key] != v {
			t.Errorf("key %s changed:\n%s\n%s", key, v, after[key])
		}
	}
}

// snapshot returns every key of the kit's prefix with its value rendered
// as text (members sorted).
func (k *kit) snapshot() map[string]string {
	k.t.Helper()
	ctx := context.Background()
	keys, err := testredis.Keys(ctx, k.rdb, k.prefix)
	if err != nil {
		k.t.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for _, key := range keys {
		var parts []string
		switch typ := k.rdb.Type(ctx, key).Val(); typ {
		case "hash":
			for f, v := range k.rdb.HGetAll(ctx, key).Val() {
				parts = append(parts, f+"="+v)
			}
		case "set":
			parts = k.rdb.SMembers(ctx, key).Val()
		case "zset":
			for _, z := range k.rdb.ZRangeWithScores(ctx, key, 0, -1).Val() {
				parts = append(parts, fmt.Sprint(z.Member, "@", z.Score))
			}
		default:
			parts = []string{typ + ":" + k.rdb.Get(ctx, key).Val()}
		}
		sort.Strings(parts)
		out[key] = strings.Join(parts, " ")
	}
	return out
}

// TestCredentialsStoredHashed logs in twice (tokens and cookie) and checks
// that no key or value in Redis holds the random part of the refresh token
// or the session secret.
func TestCredentialsStoredHashed(t *testing.T) {
	k := newKit(t)
	r := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	expect(t, r, 200, "")
	cookie := cookieValue(r, "__Host-authkit_session")
	tok := k.login("bob", bobPW)
	parts := strings.Split(tok.RefreshToken, ".")
	if len(parts) != 7 || cookie == "" {
		t.Fatalf("refresh token %q or cookie %q not in the documented format", tok.RefreshToken, cookie)
	}
	secrets := []string{parts[4], cookie[strings.Index(cookie, ".")+1:]}
	for key, value := range k.snapshot() {
		for _, secret := range secrets {
			if strings.Contains(key+" "+value, secret) {
				t.Errorf("key %s holds a raw credential", key)
			}
		}
	}
}

// TestStoreDeadline points the kit at a server that accepts connections
// and never answers: requests must get 503, and well before the client's
// 5 s read timeout (the deadline of 300 ms holds; the bound is loose so
// that a busy machine cannot break the test).
func TestStoreDeadline(t *testing.T) {
	real, prefix := testredis.New(t)
	k := newKitOn(t, real, prefix)
	tok := k.login("alice", alicePW)

	hole := testredis.NewBlackhole(t)
	rdb := redis.NewClient(&redis.Options{Addr: hole.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	hung := newKitOnStore(t, k, rdb, prefix)

	// A request that hung would take the 5 s read timeout.
	const hangBound = 3 * time.Second
	for _, path := range []string{"/api/me", "/healthz"} {
		start := time.Now()
		r := hung.do("GET", path, nil, bearer(tok.AccessToken)...)
		took := time.Since(start)
		expect(t, r, 503, "unavailable")
		if r.Header().Get("Retry-After") != "5" {
			t.Errorf("Retry-After = %q, want 5", r.Header().Get("Retry-After"))
		}
		if took > hangBound {
			t.Errorf("%s: 503 after %v, want well within the 5 s read timeout", path, took)
		}
	}
	start := time.Now()
	expect(t, hung.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 503, "unavailable")
	if took := time.Since(start); took > hangBound {
		t.Errorf("refresh: 503 after %v", took)
	}
}

// newKitOnStore builds a second kit sharing k's keys and clock but talking
// to Redis through rdb, without creating users.
func newKitOnStore(t testing.TB, k *kit, rdb redis.UniversalClient, prefix string) *kit {
	t.Helper()
	st, err := newRedisStore(rdb, prefix, k.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	cfg := k.auth.Config()
	m, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Accounts = st, m
	cfg.StoreTimeout = 300 * time.Millisecond // the default, which this kit tests
	a, err := ginauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, rt := demoEngine(a)
	return &kit{t: t, clock: k.clock, auth: a, engine: e, router: rt, rdb: rdb, trips: &counter{}, prefix: prefix}
}

// TestStoreRecovers stops a private Redis under load, expects 503 (never
// 401, never 200), restarts it and expects success without a restart of
// the kit.
func TestStoreRecovers(t *testing.T) {
	srv := testredis.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	k := newKitOn(t, rdb, "recover:")
	tok := k.login("alice", alicePW)
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")

	srv.Stop()
	for range 3 {
		expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 503, "unavailable")
	}
	expect(t, k.do("GET", "/healthz", nil), 503, "unavailable")
	expect(t, k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW}), 503, "unavailable")

	srv.Start() // empty again: no persistence
	expect(t, k.do("GET", "/healthz", nil), 200, "")
	// The session died with the server's memory: that is a 401 now, decided
	// by a store that answered.
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
	if err := k.auth.Accounts().CreateUser(context.Background(), "alice", alicePW, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	tok = k.login("alice", alicePW)
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
}

// withRefreshSecret replaces the random part of a refresh token, keeping
// its signed prefix, so the token reaches the store and fails there.
func withRefreshSecret(tok, secret string) string {
	parts := strings.Split(tok, ".")
	parts[4] = secret
	return strings.Join(parts, ".")
}
