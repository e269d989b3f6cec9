package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mrand "math/rand/v2"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/redisproc"
)

// loadCost is the bcrypt cost of the load run: the load measures the
// kit, not bcrypt.
const loadCost = 4

// goroutineSlack is how many more goroutines than before the load the
// demo may have once the load is over.
const goroutineSlack = 10

type config struct {
	duration    time.Duration
	maxRequests int64
	users       int
	demoBin     string
	faults      []string
	seed        uint64

	redisMode string // -redis: single, sentinel or cluster

	attack bool          // run the attack scenarios instead of the load
	flood  time.Duration // how long scenario 2 of the attacks lasts
}

func main() {
	var (
		c      config
		faults string
	)
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "how long the load runs (5s to 10m)")
	flag.Int64Var(&c.maxRequests, "max-requests", 5_000_000, "stop after this many requests")
	flag.IntVar(&c.users, "users", 24, "simulated users, each its own client (1 to 200); every fourth is an admin")
	flag.StringVar(&c.demoBin, "demo", "", "demo binary to run (default: go build the demo of ../)")
	flag.StringVar(&faults, "faults", strings.Join(defaultFaults, ","), "faults to inject, in order, spread over the run (\"\" for none): "+strings.Join(faultKinds, ",")+
		"; with -redis sentinel or cluster: "+strings.Join(failoverKinds, ",")+" (the default there)")
	flag.StringVar(&c.redisMode, "redis", modeSingle, "Redis topology for the demo: single (one server, faults "+strings.Join(faultKinds, ",")+
		"), sentinel (master, replica, three Sentinels) or cluster (three masters with a replica each); the last two force failovers")
	flag.Uint64Var(&c.seed, "seed", 0, "seed of the request mix (default: random)")
	flag.BoolVar(&c.attack, "attack", false, "run the three attack scenarios at the demo's default bcrypt cost instead of the load")
	flag.DurationVar(&c.flood, "flood", 15*time.Second, "with -attack: how long the 40-address flood lasts (5s to 20s)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	known := faultKinds
	switch c.redisMode {
	case modeSingle:
	case modeSentinel, modeCluster:
		known = failoverKinds
		if !set["faults"] {
			faults = strings.Join(failoverKinds, ",")
		}
		if !set["duration"] {
			// The run ends 6 s after the last failover; this only bounds it.
			c.duration = 2 * time.Minute
		}
		if c.attack {
			fmt.Fprintln(os.Stderr, "loadtest: -attack runs on a single Redis only")
			os.Exit(2)
		}
	default:
		fmt.Fprintln(os.Stderr, "loadtest: -redis must be single, sentinel or cluster")
		os.Exit(2)
	}
	if c.flood < 5*time.Second || c.flood > 20*time.Second {
		fmt.Fprintln(os.Stderr, "loadtest: -flood must be 5s to 20s")
		os.Exit(2)
	}
	if c.duration < 5*time.Second || c.duration > 10*time.Minute || c.users < 1 || c.users > 200 || c.maxRequests < 1 {
		fmt.Fprintln(os.Stderr, "loadtest: -duration must be 5s to 10m, -users 1 to 200, -max-requests positive")
		os.Exit(2)
	}
	for _, f := range strings.Split(faults, ",") {
		if f == "" {
			continue
		}
		if !slices.Contains(known, f) {
			fmt.Fprintf(os.Stderr, "loadtest: unknown fault %q for -redis %s (known: %s)\n", f, c.redisMode, strings.Join(known, ","))
			os.Exit(2)
		}
		c.faults = append(c.faults, f)
	}
	if c.seed == 0 {
		c.seed = mrand.Uint64()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if c.attack {
		err = runAttack(ctx, c)
	} else {
		err = run(ctx, c)
	}
	stop()
	switch {
	case errors.Is(err, errFailed):
		fmt.Println("FAIL")
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	fmt.Println("PASS")
}

// errFailed: a pass criterion was not met (the report says which).
var errFailed = errors.New("pass criteria not met")

// loadtest is the state of one run.
type loadtest struct {
	base    string // http://host:port of the demo
	demo    *demo
	mode    string            // -redis
	redis   *redisproc.Server // -redis single
	ctl     *redis.Client     // -redis single: fault injection and nothing else
	topo    topology          // -redis sentinel or cluster
	users   []user            // every account, the monitor's included
	tl      *timeline
	tally   *tally
	garbage *http.Client
	budget  atomic.Int64
	// storm counts the outages over: a worker that has seen fewer
	// refreshes before anything else.
	storm atomic.Uint64
}

// take spends one request of the budget; false when none is left.
func (lt *loadtest) take() bool { return lt.budget.Add(-1) >= 0 }

// countLost counts a session lost to the restart that destroyed it.
func (lt *loadtest) countLost(s *session, end time.Time) {
	if f := lt.tl.lostTo(s, end); f != nil {
		lt.tl.mu.Lock()
		f.lost++
		lt.tl.mu.Unlock()
	}
}

// stack is what both modes run on: the demo binary, a directory for its
// and Redis's logs, a private redis-server (or with -redis sentinel or
// cluster, a private topology) and the demo's free address.
type stack struct {
	bin, dir, addr string
	srv            *redisproc.Server
	topo           topology
}

// withStack builds the demo, starts a private redis-server or topology
// and picks the demo's address, runs f on them, and cleans up; the logs
// are kept when f fails.
func withStack(ctx context.Context, c config, name string, f func(s stack) error) (err error) {
	dir, err := os.MkdirTemp("", "authkit-"+name+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(dir)
			return
		}
		fmt.Fprintf(os.Stderr, "loadtest: the demo's and Redis's logs are kept in %s\n", dir)
	}()
	bin, err := demoBinary(ctx, c.demoBin, dir)
	if err != nil {
		return err
	}
	s := stack{bin: bin, dir: dir}
	if c.redisMode == modeSingle || c.redisMode == "" {
		if s.srv, err = redisproc.Start(dir); err != nil {
			return err
		}
		defer s.srv.Close()
	} else {
		if s.topo, err = startTopology(c.redisMode, dir); err != nil {
			return err
		}
		defer s.topo.close()
	}
	if s.addr, err = redisproc.FreeAddr(); err != nil {
		return err
	}
	return f(s)
}

func run(ctx context.Context, c config) error {
	return withStack(ctx, c, "loadtest", func(s stack) error { return runLoad(ctx, c, s) })
}

func runLoad(ctx context.Context, c config, s stack) error {
	lt, mon := newLoadtest(c, s)
	if lt.ctl != nil {
		defer lt.ctl.Close()
	}

	if err := lt.demo.start(ctx); err != nil {
		return err
	}
	defer func() {
		if err := lt.demo.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
	}()
	t0 := time.Now()
	if err := lt.demo.createUsers(ctx, lt.users); err != nil {
		return err
	}
	where := "private redis-server on " + lt.ctlAddr()
	if lt.topo != nil {
		where = "private " + lt.topo.describe()
	}
	fmt.Printf("loadtest: demo on %s, %s, %d users (%d admins) created with the demo CLI in %v; seed %d\n",
		s.addr, where, c.users, (c.users+3)/4, time.Since(t0).Round(time.Millisecond), c.seed)

	before, err := mon.settle(ctx, -1)
	if err != nil {
		return err
	}
	threadsBefore := lt.demo.threads()
	workers := make([]*worker, c.users)
	for i := range workers {
		workers[i] = &worker{lt: lt, u: lt.users[i], c: newClient(byte(10 + i)), rng: mrand.New(mrand.NewPCG(c.seed, uint64(i)))}
	}
	warm503, err := lt.warmUp(ctx, workers)
	if err != nil {
		return err
	}
	fmt.Printf("loadtest: warm-up: every user logged in once, four at a time (%d answers 503 on the cold connection pool, retried)\n", warm503)

	elapsed, peak, err := lt.drive(ctx, c, workers, mon)
	if err != nil {
		return err
	}
	for _, w := range workers {
		closeIdle(w.c)
	}
	closeIdle(lt.garbage)
	after, err := mon.settle(ctx, before.goroutines+goroutineSlack)
	if err != nil {
		return err
	}
	g := growth{before: before.goroutines, peak: max(peak, before.goroutines), after: after.goroutines,
		threadsBefore: threadsBefore, threadsAfter: lt.demo.threads()}
	if !lt.report(c, elapsed, g) {
		return errFailed
	}
	return nil
}

// newLoadtest prepares a run against the demo of s, which will listen on
// s.addr and use its Redis: a random secret, the users (every fourth an
// admin) with random passwords, and the monitor's admin account.
func newLoadtest(c config, s stack) (*loadtest, *monitor) {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails: since Go 1.24 it crashes the program instead
	lt := &loadtest{
		base:    "http://" + s.addr,
		mode:    c.redisMode,
		redis:   s.srv,
		topo:    s.topo,
		tl:      newTimeline(),
		garbage: newClient(250),
	}
	mode, url := modeSingle, ""
	if s.srv != nil {
		url = "redis://" + s.srv.Addr + "/0"
		lt.ctl = redis.NewClient(&redis.Options{Addr: s.srv.Addr, ContextTimeoutEnabled: true, PoolSize: 1})
	} else {
		mode, url = s.topo.env()
	}
	lt.demo = newDemo(s.bin, s.dir, mode, url, s.addr, hex.EncodeToString(secret), loadCost)
	if s.topo != nil {
		// A store deadline well above any pause of a busy machine: a 503
		// then means Redis failed over, not that the demo was descheduled
		// past 300 ms (seen on a shared 2-core machine: every request in
		// flight timing out at one instant, nothing in Redis's logs).
		lt.demo.env = append(lt.demo.env, "AUTHKIT_STORE_TIMEOUT="+failoverStoreTimeout.String())
	}
	lt.budget.Store(c.maxRequests)
	pw := "pw-" + randomHex(8) + "-"
	for i := range c.users {
		lt.users = append(lt.users, user{name: fmt.Sprintf("load%03d", i), password: pw + strconv.Itoa(i), admin: i%4 == 0})
	}
	mon := &monitor{lt: lt, u: user{name: "monitor", password: pw + "monitor", admin: true}, c: newClient(251)}
	lt.users = append(lt.users, mon.u)
	return lt, mon
}

// drive runs the workers, the faults and the monitor for c.duration and
// returns how long the load ran and the monitor's peak goroutine count.
func (lt *loadtest) drive(ctx context.Context, c config, workers []*worker, mon *monitor) (elapsed time.Duration, peak int, err error) {
	start := time.Now()
	lt.tally = newTally(start)
	lctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(lctx) })
	}
	var faultErr error
	wg.Go(func() {
		if lt.topo == nil {
			faultErr = lt.injectFaults(lctx, c.faults, start, c.duration)
			return
		}
		// The run ends settleAfter after the last failover.
		if faultErr = lt.injectFailovers(lctx, c.faults, start, c.duration); faultErr == nil {
			select {
			case <-lctx.Done():
			case <-time.After(settleAfter):
			}
		}
		cancel()
	})
	wg.Go(func() { peak = mon.watch(lctx) })
	wg.Wait()
	elapsed = time.Since(start)
	if faultErr != nil {
		return elapsed, peak, faultErr
	}
	if !lt.demo.alive() {
		return elapsed, peak, errors.New("the demo died during the load")
	}
	return elapsed, peak, nil
}

// ctlAddr is the address of the private redis-server, "" with a topology.
func (lt *loadtest) ctlAddr() string {
	if lt.redis == nil {
		return ""
	}
	return lt.redis.Addr
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
	return hex.EncodeToString(b)
}

// warmUp logs every worker in before the load starts, four at a time, so
// that the load does not open with a burst of logins on the demo's cold
// connection pool. A 503 here is retried (at most 20 times per user, 100
// ms apart) and only counted; the load's own answers are judged.
func (lt *loadtest) warmUp(ctx context.Context, workers []*worker) (n503 int, err error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 4)
		errs []error
	)
	for _, w := range workers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for try := 0; try < 20 && ctx.Err() == nil; try++ {
				a := send(w.c, lt.base, "POST", "/auth/login", "", "application/json", loginBody(w.u.name, w.u.password))
				if a.status == 200 {
					w.s = &session{access: a.field("access_token"), refresh: a.field("refresh_token"), loginStart: a.start, acked: a.end}
					return
				}
				mu.Lock()
				if a.status == 503 {
					n503++
				} else {
					errs = append(errs, fmt.Errorf("warm-up login of %s: %d %s %v", w.u.name, a.status, a.code, a.err))
				}
				mu.Unlock()
				if a.status != 503 {
					return
				}
				time.Sleep(backoff)
			}
			mu.Lock()
			errs = append(errs, fmt.Errorf("warm-up login of %s: still 503 after 20 tries", w.u.name))
			mu.Unlock()
		})
	}
	wg.Wait()
	return n503, errors.Join(errs...)
}

// monitor is an admin client that reads the demo's goroutine count from
// GET /api/admin/stats. Its requests are not part of the load.
type monitor struct {
	lt     *loadtest
	u      user
	c      *http.Client
	access string
}

type stats struct{ goroutines int }

// sample reads the stats once, logging in first when needed; ok is false
// when the demo did not answer them.
func (m *monitor) sample(ctx context.Context) (stats, bool) {
	if m.access == "" {
		m.lt.tl.waitUsers(ctx)
		a := send(m.c, m.lt.base, "POST", "/auth/login", "", "application/json", loginBody(m.u.name, m.u.password))
		if a.status != 200 {
			return stats{}, false
		}
		m.access = a.field("access_token")
	}
	a := send(m.c, m.lt.base, "GET", "/api/admin/stats", "Bearer "+m.access, "", nil)
	if a.status == 401 {
		m.access = ""
	}
	if a.status != 200 {
		return stats{}, false
	}
	return stats{goroutines: a.number("goroutines")}, true
}

// watch samples every 250 ms until ctx ends and returns the peak.
func (m *monitor) watch(ctx context.Context) int {
	peak := 0
	for ctx.Err() == nil {
		if s, ok := m.sample(ctx); ok {
			peak = max(peak, s.goroutines)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	return peak
}

// settle waits (at most 5 s) until the goroutine count is at most limit
// (any count when limit < 0, after a short pause) and returns the last
// sample.
func (m *monitor) settle(ctx context.Context, limit int) (stats, error) {
	var last stats
	seen := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		if s, ok := m.sample(ctx); ok {
			last, seen = s, true
			if limit < 0 || s.goroutines <= limit {
				break
			}
		}
	}
	if !seen {
		return last, errors.New("the monitor could not read GET /api/admin/stats")
	}
	return last, nil
}
