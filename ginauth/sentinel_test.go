package ginauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// TestSentinelFailover runs the kit through go-redis's failover client on
// a private master, replica and three Sentinels, under concurrent load,
// and forces a failover: with SENTINEL FAILOVER, and by killing the
// master. It asserts outcomes, never speed:
//
//   - no wrong answer: a revoked or unknown session never gets 200, a
//     session created and replicated before the failover never gets 401,
//     and a refresh token acknowledged before a WAIT barrier that the
//     replica acknowledged is never refused; with WaitReplicas, no
//     acknowledged refresh token is ever refused;
//   - 503 only once the failover has started;
//   - recovery within 30 s, after which every request succeeds.
//
// The 503 window, the recovery time and the rotations lost (acknowledged
// after the barrier, not replicated, and refused on the new master) are
// logged as information.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master, a replica and three Sentinels")
	}
	failover := func(t *testing.T, s *testredis.Sentinel, _ string) {
		if err := s.Failover(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// waitReplicas is the store's Options.WaitReplicas: with it, a
		// rotation acknowledged at any time is never lost.
		waitReplicas int
		force        func(t *testing.T, s *testredis.Sentinel, master string)
	}{
		{"SENTINEL FAILOVER", 0, failover},
		{"master killed", 0, func(t *testing.T, s *testredis.Sentinel, master string) {
			s.Server(master).Stop() // SIGKILL
		}},
		// Not with the master killed: the new master then has no replica
		// and every login and refresh would wait in vain.
		{"SENTINEL FAILOVER with WaitReplicas", 1, failover},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testFailover(t, tt.waitReplicas, tt.force) })
	}
}

// failoverLoad is the fixture of one failover run: the kit, its sessions
// and what the load saw.
type failoverLoad struct {
	k       *kit
	valid   []string // access tokens of live, replicated sessions
	revoked []string // access tokens of sessions logged out before the failover
	unknown string   // a well-signed token for a session that never existed

	barrier time.Time    // writes acknowledged before it were replicated
	durable bool         // the store waits for a replica: every write acknowledged was replicated
	last503 atomic.Int64 // end of the latest 503, Unix nanoseconds
	mu      sync.Mutex
	results []result
}

// result is one request of the load.
type result struct {
	kind       string // get-valid, get-revoked, get-unknown, refresh, login
	start, end time.Time
	code       int
	// acked is when the refresh token presented was acknowledged to the
	// client (refresh only).
	acked time.Time
}

func testFailover(t *testing.T, waitReplicas int, force func(*testing.T, *testredis.Sentinel, string)) {
	s := testredis.StartSentinel(t)
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: s.Name, SentinelAddrs: s.Addrs,
		ContextTimeoutEnabled: true, DialTimeout: 250 * time.Millisecond,
	})
	t.Cleanup(func() { rdb.Close() })
	l := newFailoverLoad(t, rdb, waitReplicas)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	master, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.run(t, failoverSteps{
		replicated: func(ctx context.Context) error {
			if n, err := testredis.Wait(ctx, master, 1, 5*time.Second); err != nil || n != 1 {
				return fmt.Errorf("WAIT acknowledged by %d replicas, %v", n, err)
			}
			return nil
		},
		force: func(t *testing.T) { force(t, s, master) },
		promoted: func(t *testing.T) string {
			newMaster, err := s.WaitNewMaster(30*time.Second, master)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("master %s → %s: Sentinels named the new master", master, newMaster)
		},
	})
}

// newFailoverLoad builds the kit on rdb with a store that waits for
// waitReplicas replicas, and creates the fixture's users and sessions.
func newFailoverLoad(t *testing.T, rdb redis.UniversalClient, waitReplicas int) *failoverLoad {
	// A store timeout well above any pause of a busy machine: a 503 then
	// means the store failed, not that the test was slow. The logins all
	// come from one address, which the throttle would soon refuse.
	// The load's thousands of events and tokens stay out of the suite's
	// audit log, which TestMain searches for secrets.
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: "failover:", Now: clk.Now,
		WaitReplicas: waitReplicas, WaitTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k := newKitWith(t, st, nil, clk, func(c *kitConfig) {
		c.StoreTimeout, c.Throttle.Disabled = 2*time.Second, true
		c.Audit = func(context.Context, audit.Event) {}
	})
	k.rdb, k.trips, k.prefix = rdb, &counter{}, "failover:"
	l := &failoverLoad{k: k, durable: waitReplicas > 0}
	l.setup(t)
	return l
}

// failoverSteps are what a failover test supplies to [failoverLoad.run].
type failoverSteps struct {
	// replicated returns once the replicas acknowledged every write
	// acknowledged so far.
	replicated func(ctx context.Context) error
	// force starts the failover.
	force func(t *testing.T)
	// promoted waits until the new master is in place, and describes it.
	promoted func(t *testing.T) string
}

// run puts the fixture under load from four clients, forces a failover
// once a second of load has passed and a barrier has been replicated,
// waits for recovery (no 503 for 2 s since the new master was in place,
// at most 30 s after the failover started), and checks the outcomes.
func (l *failoverLoad) run(t *testing.T, steps failoverSteps) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := steps.replicated(ctx); err != nil {
		t.Fatalf("setup not replicated: %v", err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); l.work(w, stop) }()
	}
	defer func() { close(stop); wg.Wait() }()

	time.Sleep(time.Second) // load before the failover
	l.barrier = time.Now()
	if err := steps.replicated(ctx); err != nil {
		t.Fatalf("barrier: %v", err)
	}
	start := time.Now()
	steps.force(t)
	what := steps.promoted(t)
	promoted := time.Now()

	// Recovered: no 503 for 2 s since the new master was in place. The
	// load runs for at most 30 s after the failover started.
	deadline := start.Add(30 * time.Second)
	for {
		quiet := promoted
		if t503 := time.Unix(0, l.last503.Load()); t503.After(quiet) {
			quiet = t503
		}
		if time.Since(quiet) >= 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("not recovered 30 s after the failover: latest 503 at +%v", quiet.Sub(start))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close

	l.check(t, start)
	t.Logf("%s %v after the failover started", what, promoted.Sub(start).Round(time.Millisecond))

	// After recovery every session answers as it should.
	for _, tok := range l.valid {
		expect(t, l.k.do("GET", "/api/me", nil, bearer(tok)...), 200, "")
	}
	for _, tok := range append(l.revoked, l.unknown) {
		expect(t, l.k.do("GET", "/api/me", nil, bearer(tok)...), 401, "invalid_token")
	}
}

// setup creates users, one live and one logged-out session each.
func (l *failoverLoad) setup(t *testing.T) {
	k := l.k
	for i := range 4 {
		name := fmt.Sprintf("user%d", i)
		if err := k.auth.Accounts().CreateUser(context.Background(), name, alicePW, []string{"user"}); err != nil {
			t.Fatal(err)
		}
		l.valid = append(l.valid, k.login(name, alicePW).AccessToken)
		gone := k.login(name, alicePW).AccessToken
		expect(t, k.do("POST", "/auth/logout", nil, bearer(gone)...), 204, "")
		l.revoked = append(l.revoked, gone)
	}
	l.unknown = k.foreignToken(testSecret, "k1", "authkit-test", "api")
}

// work sends requests until stop, at most 20,000: the sessions of the
// fixture in turn, and refreshes of a chain of its own, logging in again
// when a rotation was lost.
func (l *failoverLoad) work(w int, stop <-chan struct{}) {
	user := fmt.Sprintf("user%d", w)
	var refresh string // empty: log in first
	var acked time.Time
	for i := range 20_000 {
		select {
		case <-stop:
			return
		default:
		}
		r := result{start: time.Now()}
		switch i % 4 {
		case 0:
			r.kind, r.code = "get-valid", l.send("GET", "/api/me", "", l.valid[i/4%len(l.valid)]).Code
		case 1:
			r.kind, r.code = "get-revoked", l.send("GET", "/api/me", "", l.revoked[i/4%len(l.revoked)]).Code
		case 2:
			r.kind, r.code = "get-unknown", l.send("GET", "/api/me", "", l.unknown).Code
		case 3:
			var resp *httptest.ResponseRecorder
			if refresh == "" {
				r.kind = "login"
				resp = l.send("POST", "/auth/login", `{"username":"`+user+`","password":"`+alicePW+`"}`, "")
			} else {
				r.kind, r.acked = "refresh", acked
				resp = l.send("POST", "/auth/refresh", `{"refresh_token":"`+refresh+`"}`, "")
			}
			r.code = resp.Code
			switch resp.Code {
			case 200:
				var tr ginauth.TokenResponse
				_ = json.Unmarshal(resp.Body.Bytes(), &tr)
				refresh, acked = tr.RefreshToken, time.Now()
			case 401:
				refresh = "" // the rotation was lost: log in again
			}
		}
		r.end = time.Now()
		if r.code == 503 {
			l.last503.Store(r.end.UnixNano())
		}
		l.mu.Lock()
		l.results = append(l.results, r)
		l.mu.Unlock()
	}
}

// send serves one request with a JSON body and, unless empty, a bearer
// token; unlike kit.do it leaves the tokens out of the suite's audit
// check.
func (l *failoverLoad) send(method, path, body, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	l.k.engine.ServeHTTP(w, req)
	return w
}

// check asserts the outcomes of the load and logs the 503 window.
func (l *failoverLoad) check(t *testing.T, start time.Time) {
	var first, last time.Time
	counts := map[string]int{}
	lost := 0
	for _, r := range l.results {
		counts[fmt.Sprintf("%s %d", r.kind, r.code)]++
		if r.code == 503 {
			if r.end.Before(start) {
				t.Errorf("%s: 503 at %v, before the failover started", r.kind, r.end.Sub(start))
			}
			if first.IsZero() || r.start.Before(first) {
				first = r.start
			}
			if r.end.After(last) {
				last = r.end
			}
			continue
		}
		want := map[string]int{"get-valid": 200, "get-revoked": 401, "get-unknown": 401, "login": 200, "refresh": 200}[r.kind]
		switch {
		case r.code == want:
		case r.kind == "refresh" && r.code == 401 && !l.durable && !r.acked.Before(l.barrier):
			lost++ // acknowledged after the barrier, not replicated: a documented loss
		default:
			t.Errorf("wrong answer: %s got %d, want %d (at %v from the failover start)", r.kind, r.code, want, r.end.Sub(start).Round(time.Millisecond))
		}
	}
	t.Logf("%d requests: %v", len(l.results), counts)
	if first.IsZero() {
		t.Logf("no 503 at all")
	} else {
		t.Logf("503s from %v to %v after the failover started: every request succeeded again %v after it",
			first.Sub(start).Round(time.Millisecond), last.Sub(start).Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
	}
	t.Logf("%d rotations acknowledged after the barrier lost in the failover", lost)
}
