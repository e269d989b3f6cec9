package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/internal/redisproc"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// demoDefaultCost is the demo's bcrypt cost when AUTHKIT_BCRYPT_COST is
// unset; the attack run checks that the stored hashes have it.
const demoDefaultCost = 12

// The client addresses of the attack run, 127.0.0.<host>; the demo
// throttles each on its own.
const (
	burstHost     = 2  // scenario 1's attacker
	ownerHost     = 5  // the owner's known client
	newClientHost = 6  // scenario 3's new client of the owner
	floodHost     = 10 // scenario 2: floodAddrs addresses from here
	lockHost      = 60 // scenario 3: lockAddrs addresses from here
)

// The attacks' sizes, and the throttle defaults of ginauth they are
// measured against.
const (
	burstSize   = 120 // wrong logins at once: half at the victim, half at made-up names
	burstNames  = 30  // made-up names of the burst
	floodAddrs  = 40
	floodPer10s = 6 // logins per address in 10 s: under every per-address limit
	lockAddrs   = 20
	pairLimit   = 5   // ginauth.DefaultPairLimit
	lockTotal   = 100 // ginauth.DefaultAccountLimit = lockAddrs × pairLimit
	ownerAfter  = 10  // the owner's logins once the account is locked
	// ownerDuringLock spaces the owner's logins during scenario 3's
	// attack: each takes a hashing slot from the stranger.
	ownerDuringLock = 3 * time.Second

	ownerGoal = time.Second // p99 of the owner's known-client logins
	// attackBound bounds the three scenarios together (the build and the
	// processes' start are bounded apart).
	attackBound = 110 * time.Second
	// lockBound bounds the stranger's 100 failures.
	lockBound = 60 * time.Second
)

// attack is the state of an attack run.
type attack struct {
	base   string
	owner  user
	victim user
	device string // the owner's device credential
	ownerC *http.Client
}

// runAttack starts the demo at its default bcrypt cost on a private
// redis-server and runs the three attack scenarios in order.
func runAttack(ctx context.Context, c config) error {
	return withStack(ctx, c, "attack", func(s stack) error { return attackStack(ctx, c, s) })
}

func attackStack(ctx context.Context, c config, s stack) error {
	srv, addr := s.srv, s.addr
	d := newDemo(s.bin, s.dir, modeSingle, "redis://"+srv.Addr+"/0", addr, randomHex(32), 0)
	if err := d.start(ctx); err != nil {
		return err
	}
	defer func() {
		if err := d.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
	}()
	pw := "pw-" + randomHex(8) + "-"
	at := &attack{
		base:   "http://" + addr,
		owner:  user{name: "owner", password: pw + "owner"},
		victim: user{name: "victim", password: pw + "victim"},
		ownerC: newClient(ownerHost),
	}
	t0 := time.Now()
	if err := d.createUsers(ctx, []user{at.owner, at.victim}); err != nil {
		return err
	}
	created := time.Since(t0)
	cost, err := storedCost(ctx, srv, at.owner.name)
	if err != nil {
		return err
	}
	if cost != demoDefaultCost {
		return fmt.Errorf("the owner's stored hash has bcrypt cost %d, not the demo's default %d", cost, demoDefaultCost)
	}
	actx, cancel := context.WithTimeout(ctx, attackBound)
	defer cancel()
	enrolled, err := at.enroll(actx)
	if err != nil {
		return err
	}
	fmt.Printf("attack: demo on %s (bcrypt cost %d, read from the owner's stored hash; %d CPUs here, and the demo's hashing slots default to its GOMAXPROCS), private redis-server on %s; 2 users created in %v; the owner's first login, alone, took %s and returned a device credential\n",
		addr, cost, runtime.NumCPU(), srv.Addr, created.Round(time.Millisecond), ms(enrolled))

	scenarios := []*scenario{at.burst(actx)}
	scenarios = append(scenarios, at.flood(actx, c.flood))
	scenarios = append(scenarios, at.lockout(actx))
	pass := true
	for _, sc := range scenarios {
		sc.print(os.Stdout)
		pass = pass && sc.passed()
	}
	if actx.Err() != nil {
		fmt.Printf("\nthe scenarios were cut short by the run's bound (%v)\n", attackBound)
		pass = false
	}
	if !d.alive() {
		return errors.New("the demo died during the attacks")
	}
	if !pass {
		return errFailed
	}
	return nil
}

// storedCost reads the bcrypt cost of username's stored password hash.
func storedCost(ctx context.Context, srv *redisproc.Server, username string) (int, error) {
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, PoolSize: 1})
	defer client.Close()
	st, err := redisstore.New(client, redisstore.Options{})
	if err != nil {
		return 0, err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u, err := st.User(sctx, username)
	if err != nil {
		return 0, fmt.Errorf("reading %s from the demo's Redis: %w", username, err)
	}
	return bcrypt.Cost(u.PasswordHash)
}

// enroll logs the owner in from its own address, without a device
// credential, and keeps the one the login returns (at most 3 tries on
// 503).
func (at *attack) enroll(ctx context.Context) (time.Duration, error) {
	var a answer
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		a = sendLogin(at.ownerC, at.base, at.owner.name, at.owner.password, "")
		if a.status != 503 {
			break
		}
		time.Sleep(backoff)
	}
	if a.status != 200 || a.err != nil {
		return 0, fmt.Errorf("the owner's first login: %d %s %v", a.status, a.code, a.err)
	}
	if at.device = a.field("device_token"); at.device == "" {
		return 0, errors.New("the owner's first login returned no device_token")
	}
	return a.end.Sub(a.start), nil
}

// ownerLogins logs the owner in with the right password and its device
// credential, one login at a time, every period, n times at most or until
// ctx ends.
func (at *attack) ownerLogins(ctx context.Context, got *answers, n int, period time.Duration) {
	start := time.Now()
	for i := 0; i < n && sleepUntil(ctx, start.Add(period*time.Duration(i))); i++ {
		got.add(sendLogin(at.ownerC, at.base, at.owner.name, at.owner.password, at.device))
	}
}

// hashRate describes how fast the demo judged logins (each one hash)
// while its hashing slots were always taken: judged logins in elapsed.
func hashRate(judged int, elapsed time.Duration) string {
	slots := runtime.NumCPU()
	return fmt.Sprintf("the demo judged %d logins (one hash each) in %.1f s: with its %d slots always taken, %s per hash",
		judged, elapsed.Seconds(), slots, ms(perHash(judged, elapsed, slots)))
}

// perHash is how long one hash took when slots hashing slots judged
// judged logins in elapsed (0 when none was judged).
func perHash(judged int, elapsed time.Duration, slots int) time.Duration {
	if judged <= 0 {
		return 0
	}
	return elapsed * time.Duration(slots) / time.Duration(judged)
}

// sleepUntil waits until t; false when ctx ended first (or had ended).
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return ctx.Err() == nil
	}
}

// burst is scenario 1: burstSize wrong logins at once from one address,
// half at the victim's account and half over burstNames made-up names,
// while the owner logs in three times, 500 ms apart.
func (at *attack) burst(ctx context.Context) *scenario {
	c := newClient(burstHost)
	defer closeIdle(c)
	attacker := newAnswers(fmt.Sprintf("attacker 127.0.0.%d", burstHost))
	owner := newAnswers("owner's known client")
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burstSize {
		name := at.victim.name
		if i%2 == 1 {
			name = fmt.Sprintf("made-up-%02d", i/2%burstNames)
		}
		wg.Go(func() {
			<-gate
			attacker.add(sendLogin(c, at.base, name, fmt.Sprintf("wrong-%03d", i), ""))
		})
	}
	start := time.Now()
	close(gate)
	wg.Go(func() { at.ownerLogins(ctx, owner, 3, 500*time.Millisecond) })
	wg.Wait()
	return &scenario{
		title: fmt.Sprintf("1. one-address burst: %d wrong logins at once from 127.0.0.%d (%d at %q, %d over %d made-up names)",
			burstSize, burstHost, burstSize/2, at.victim.name, burstSize/2, burstNames),
		rows:    []*answers{attacker, owner},
		goals:   []goal{noServerErrors(attacker, owner), onlyStatuses(attacker, 401, 429)},
		elapsed: time.Since(start),
	}
}

// flood is scenario 2: floodAddrs addresses each send floodPer10s
// logins in 10 s with made-up names (one at a time), for d, while the
// owner logs in once a second.
func (at *attack) flood(ctx context.Context, d time.Duration) *scenario {
	fctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	period := 10 * time.Second / floodPer10s
	perAddr := int(d/period) + 1
	strangers := newAnswers(fmt.Sprintf("strangers 127.0.0.%d-%d, made-up names", floodHost, floodHost+floodAddrs-1))
	owner := newAnswers("owner's known client, once a second")
	start := time.Now()
	var wg sync.WaitGroup
	for i := range floodAddrs {
		wg.Go(func() {
			c := newClient(byte(floodHost + i))
			defer closeIdle(c)
			first := start.Add(period * time.Duration(i) / floodAddrs)
			for k := 0; k < perAddr && sleepUntil(fctx, first.Add(period*time.Duration(k))); k++ {
				strangers.add(sendLogin(c, at.base, fmt.Sprintf("ghost-%02d-%03d", i, k), "wrong-password", ""))
			}
		})
	}
	wg.Go(func() { at.ownerLogins(fctx, owner, int(d/time.Second)+1, time.Second) })
	wg.Wait()
	elapsed := time.Since(start)
	return &scenario{
		title: fmt.Sprintf("2. %d-address flood for %v: each address %d logins per 10 s with made-up names, one at a time",
			floodAddrs, d, floodPer10s),
		notes: []string{
			fmt.Sprintf("strangers sent %.1f logins/s; a 503 is the demo's real overload (no hashing slot within PasswordWait)",
				float64(strangers.sent())/elapsed.Seconds()),
			hashRate(strangers.count(401)+owner.count(200), elapsed),
		},
		rows:    []*answers{strangers, owner},
		goals:   []goal{allOK(owner, ownerGoal), onlyStatuses(strangers, 401, 429, 503)},
		elapsed: elapsed,
	}
}

// lockout is scenario 3: lockAddrs addresses send pairLimit wrong
// passwords each for the owner's account, one at a time (lockTotal
// failures; a 503 or a 429 for attempts still pending is retried), while
// the owner logs in every ownerDuringLock; then a new client with the
// right password, and the owner's known client ownerAfter times.
func (at *attack) lockout(ctx context.Context) *scenario {
	lctx, cancel := context.WithTimeout(ctx, lockBound)
	defer cancel()
	strangers := newAnswers(fmt.Sprintf("strangers 127.0.0.%d-%d, wrong passwords", lockHost, lockHost+lockAddrs-1))
	during := newAnswers(fmt.Sprintf("owner's known client, every %v meanwhile", ownerDuringLock))
	newcomer := newAnswers(fmt.Sprintf("new client 127.0.0.%d, right password", newClientHost))
	after := newAnswers("owner's known client, account locked")
	var (
		failures atomic.Int64
		took     atomic.Int64 // until the lockTotal-th failure, in ns
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i := range lockAddrs {
		wg.Go(func() {
			c := newClient(byte(lockHost + i))
			defer closeIdle(c)
			mine := 0
			for k := 0; k < 60 && mine < pairLimit && failures.Load() < lockTotal && lctx.Err() == nil; k++ {
				a := sendLogin(c, at.base, at.owner.name, fmt.Sprintf("guess-%02d-%02d", i, k), "")
				strangers.add(a)
				if a.status == 401 {
					mine++
					if failures.Add(1) == lockTotal {
						took.Store(int64(time.Since(start)))
					}
					continue
				}
				sleepUntil(lctx, time.Now().Add(200*time.Millisecond))
			}
		})
	}
	octx, stopOwner := context.WithCancel(lctx)
	var ow sync.WaitGroup
	ow.Go(func() { at.ownerLogins(octx, during, int(lockBound/ownerDuringLock), ownerDuringLock) })
	wg.Wait()
	attacked := time.Since(start)
	stopOwner()
	ow.Wait()

	c := newClient(newClientHost)
	a := sendLogin(c, at.base, at.owner.name, at.owner.password, "")
	closeIdle(c)
	newcomer.add(a)
	at.ownerLogins(ctx, after, ownerAfter, 200*time.Millisecond)

	n := int(failures.Load())
	note := fmt.Sprintf("the stranger needed %.1f s for its %d failures", time.Duration(took.Load()).Seconds(), n)
	if n < lockTotal {
		note = fmt.Sprintf("the stranger got only %d failures within %v", n, lockBound)
	}
	return &scenario{
		title: fmt.Sprintf("3. stranger's lock-out: %d addresses × %d wrong passwords for %q, then a new client and the owner's known client with the right password",
			lockAddrs, pairLimit, at.owner.name),
		notes: []string{note, hashRate(n+during.count(200), attacked),
			fmt.Sprintf("the new client's answer: %s %s, Retry-After %q", statusName(a.status), a.code, a.wait)},
		rows:    []*answers{strangers, during, newcomer, after},
		goals:   []goal{reached("the stranger's failures", n, lockTotal), answeredWith(newcomer, 429), allOK(after, ownerGoal), onlyStatuses(strangers, 401, 429, 503)},
		elapsed: time.Since(start),
	}
}
