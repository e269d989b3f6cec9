package ginauth_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testredis"
)

// TestRestartWithPersistence restarts a private Redis that keeps an
// append-only file (appendfsync everysec) while requests run: once
// gracefully (SIGTERM: the server fsyncs the file and exits) and once
// killed (SIGKILL, a crash of the process: what it wrote before replying
// is in the kernel's page cache, so nothing acknowledged may be lost; the
// last second a machine crash can lose is out of a test's reach). It
// checks that
//   - throughout, a live session's requests and refreshes answer 200 or
//     503, never 401, and a logged-out session's answer 401 or 503, never
//     200; a request sent and answered while the server is down gets 503;
//   - after the restart, without a new login, every session authenticates,
//     every refresh chain rotates on from its latest token, and the first
//     token of each chain is detected as reuse: the session is revoked;
//   - the logged-out session stays logged out.
func TestRestartWithPersistence(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test restarts a private Redis under load")
	}
	for _, tc := range []struct {
		name string
		stop func(*testredis.Server)
	}{
		{"SIGTERM", (*testredis.Server).Shutdown},
		{"SIGKILL", (*testredis.Server).Stop},
	} {
		t.Run(tc.name, func(t *testing.T) { testRestartWithPersistence(t, tc.stop) })
	}
}

// The phases of a restart, as the workers see them.
const (
	phaseUp int32 = iota
	phaseDown
	phaseRestarting
	phaseRecovered
)

// restartLoad is the shared state of the workers of one restart.
type restartLoad struct {
	k       *kit
	phase   atomic.Int32
	revoked ginauth.TokenResponse // a logged-out session's tokens

	mu      sync.Mutex
	answers map[string]int // "phase kind status" → count
	wrong   []string       // answers the rules forbid, the first few
	firstOK time.Time      // the first 200 after the restart
}

// chain is one user's session: the refresh token of its login and the
// latest pair, which only the chain's worker changes while the load runs.
type chain struct {
	user  string
	first string
	tok   ginauth.TokenResponse
	// Progress, read by the test while the worker runs.
	okUp, unavailable, okMe, okRefresh atomic.Int64
}

func testRestartWithPersistence(t *testing.T, stop func(*testredis.Server)) {
	srv := testredis.StartServerWith(t, "--appendonly", "yes", "--appendfsync", "everysec")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	k := newKitOn(t, rdb, "aof:")
	l := &restartLoad{k: k, answers: map[string]int{}}

	chains := sessionChains(t, k)
	l.revoked = k.login("bob", bobPW)
	expect(t, k.do("POST", "/auth/logout", nil, bearer(l.revoked.AccessToken)...), 204, "")

	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range chains {
		wg.Add(1)
		go func() { defer wg.Done(); l.work(c, done) }()
	}
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			close(done)
			wg.Wait()
		}
	}
	defer stopLoad()

	// The load runs until each worker has seen the server up, down and up
	// again; a wait that times out still reports the answers.
	down, restart := time.Now(), time.Now()
	err := l.waitAll("3 answers 200 from each worker", chains, func(c *chain) bool { return c.okUp.Load() >= 3 })
	if err == nil {
		stop(srv)
		down = time.Now()
		l.phase.Store(phaseDown)
		err = l.waitAll("3 answers 503 to each worker while Redis is down", chains, func(c *chain) bool { return c.unavailable.Load() >= 3 })
	}
	if err == nil {
		l.phase.Store(phaseRestarting)
		restart = time.Now()
		srv.Start() // the same directory and port: the file is loaded
		l.phase.Store(phaseRecovered)
		err = l.waitAll("a 200 to each worker's request and refresh after the restart", chains, func(c *chain) bool {
			return c.okMe.Load() >= 1 && c.okRefresh.Load() >= 1
		})
	}
	stopLoad()

	l.mu.Lock()
	t.Logf("outage %v (server down to restart begun); first 200 %v after the restart began",
		restart.Sub(down).Round(time.Millisecond), l.firstOK.Sub(restart).Round(time.Millisecond))
	t.Logf("answers (phase, request, status): %v", l.answers)
	for _, w := range l.wrong {
		t.Error(w)
	}
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range chains {
		checkChain(t, k, c)
	}
	expect(t, k.do("GET", "/api/me", nil, bearer(l.revoked.AccessToken)...), 401, "invalid_token")
}

// sessionChains logs in three users and rotates each one's refresh token
// three times.
func sessionChains(t *testing.T, k *kit) []*chain {
	t.Helper()
	var chains []*chain
	for i, name := range []string{"carol", "dave", "erin"} {
		pw := fmt.Sprintf("%s-password-%d", name, i)
		if err := k.auth.Accounts().CreateUser(t.Context(), name, pw, []string{"user"}); err != nil {
			t.Fatal(err)
		}
		c := &chain{user: name, tok: k.login(name, pw)}
		c.first = c.tok.RefreshToken
		for range 3 {
			r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": c.tok.RefreshToken})
			expect(t, r, 200, "")
			c.tok = ginauth.TokenResponse{AccessToken: r.str("access_token"), RefreshToken: r.str("refresh_token")}
		}
		chains = append(chains, c)
	}
	return chains
}

// work sends, until done or for at most 100,000 rounds, a GET /api/me and
// a refresh of c's session and a GET /api/me of the logged-out one, and
// tallies the answers.
func (l *restartLoad) work(c *chain, done <-chan struct{}) {
	for range 100_000 {
		select {
		case <-done:
			return
		default:
		}
		p := l.phase.Load()
		r := l.k.do("GET", "/api/me", nil, bearer(c.tok.AccessToken)...)
		l.note(c, p, "me", r, 200)
		r = l.k.do("POST", "/auth/refresh", map[string]string{"refresh_token": c.tok.RefreshToken})
		if l.note(c, p, "refresh", r, 200) {
			// A 503 keeps the token: if the rotation was stored before the
			// answer was lost, the retry is within the grace period and
			// gets the same successor.
			c.tok = ginauth.TokenResponse{AccessToken: r.str("access_token"), RefreshToken: r.str("refresh_token")}
		}
		r = l.k.do("GET", "/api/me", nil, bearer(l.revoked.AccessToken)...)
		l.note(c, p, "revoked", r, 401)
		time.Sleep(2 * time.Millisecond) // leaves the cores to Redis and the test
	}
}

// note tallies an answer to a request sent in phase p and checks it: ok
// (200 for a live session, 401 for the logged-out one) or 503, and 503
// only if the server was down from the request to its answer. It reports
// whether the answer was a 200.
func (l *restartLoad) note(c *chain, p int32, kind string, r resp, ok int) bool {
	now := l.phase.Load()
	phase := "transition"
	switch {
	case p != now:
	case p == phaseDown:
		phase = "down"
	default:
		phase = "steady"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers[fmt.Sprintf("%s %s %d", phase, kind, r.Code)]++
	switch {
	case r.Code == 503 && r.str("error") == "unavailable":
		if phase == "down" {
			c.unavailable.Add(1)
		}
	case r.Code == ok && phase != "down":
	default:
		if len(l.wrong) < 10 {
			l.wrong = append(l.wrong, fmt.Sprintf("%s, %s (%s): %d %s, want %d or 503", c.user, kind, phase, r.Code, r.Body, ok))
		}
		return false
	}
	if r.Code != 200 {
		return false
	}
	switch {
	case p == phaseUp && now == phaseUp:
		c.okUp.Add(1)
	case p == phaseRecovered:
		if l.firstOK.IsZero() {
			l.firstOK = time.Now()
		}
		if kind == "me" {
			c.okMe.Add(1)
		} else {
			c.okRefresh.Add(1)
		}
	}
	return true
}

// waitAll waits, at most 20 s, until cond holds for every chain; it gives
// up at once when an answer broke the rules.
func (l *restartLoad) waitAll(what string, chains []*chain, cond func(*chain) bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		l.mu.Lock()
		wrong := len(l.wrong)
		l.mu.Unlock()
		if wrong > 0 {
			return fmt.Errorf("gave up waiting for %s: %d wrong answers", what, wrong)
		}
		all := true
		for _, c := range chains {
			all = all && cond(c)
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited 20 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkChain checks c's session after the restart: it authenticates, its
// latest refresh token rotates, and its first one is a replay that
// revokes it.
func checkChain(t *testing.T, k *kit, c *chain) {
	t.Helper()
	expect(t, k.do("GET", "/api/me", nil, bearer(c.tok.AccessToken)...), 200, "")
	r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": c.tok.RefreshToken})
	expect(t, r, 200, "")
	access, refresh := r.str("access_token"), r.str("refresh_token")
	expect(t, k.do("GET", "/api/me", nil, bearer(access)...), 200, "")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": c.first}), 401, "invalid_grant")
	// An unknown token would leave the session alone: the revocation shows
	// that the replay was recognised.
	expect(t, k.do("GET", "/api/me", nil, bearer(access)...), 401, "invalid_token")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": refresh}), 401, "invalid_grant")
}

// TestLostRotation plays what a crash of the host does to a rotation
// acknowledged in the last second before it, which the append-only file
// had not yet fsynced (store/redisstore's "Recommended Redis settings"):
// the sessions hash is put back as it was before the rotation. The new
// refresh token is then unknown, 401 invalid_grant, without revoking the
// session (no reuse is detected): its access token still works, and the
// spent token rotates again, to the same successor.
func TestLostRotation(t *testing.T) {
	k := newKit(t)
	ctx := t.Context()
	tok := k.login("alice", alicePW)
	key := k.prefix + "{u:alice}:s"
	before, err := k.rdb.HGetAll(ctx, key).Result()
	if err != nil || len(before) == 0 {
		t.Fatalf("HGETALL %s = %v, %v; want the sessions hash", key, before, err)
	}
	r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
	expect(t, r, 200, "")
	lost := r.str("refresh_token")

	// The crash: the hash as the file last held it.
	ttl := k.rdb.PTTL(ctx, key).Val()
	if err := k.rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if err := k.rdb.HSet(ctx, key, before).Err(); err != nil {
		t.Fatal(err)
	}
	if err := k.rdb.PExpire(ctx, key, ttl).Err(); err != nil {
		t.Fatal(err)
	}

	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": lost}), 401, "invalid_grant")
	expect(t, k.do("GET", "/api/me", nil, bearer(r.str("access_token"))...), 200, "")
	again := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
	expect(t, again, 200, "")
	if again.str("refresh_token") != lost {
		t.Errorf("the spent token rotated to another successor than before the crash")
	}
}
