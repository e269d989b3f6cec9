package ginauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// Throttle configures how failed password checks (login and HTTP Basic)
// slow down guessing. Failures are counted per account and client address
// pair, per client address and per account across all addresses, whether
// the account exists or not. A counter at its limit locks its key: the
// answer is 429 with Retry-After, before any hashing work, the same for
// existing and unknown accounts. Zero values mean the defaults stated per
// field.
//
// The client address is gin's c.ClientIP(). gin trusts X-Forwarded-For from
// every peer unless the engine is told otherwise: call
// engine.SetTrustedProxies with your own proxies (or nil), or every client
// picks its own address and only the per-account limit holds.
//
// The lock-out trade-off: a per-account limit lets anyone lock an account
// by failing on purpose. The pair limit is low, so one attacker address is
// stopped early, while the account-wide limit is high, so an attacker
// elsewhere must spend many failures (each slower than the last) before
// the owner, from the owner's own address, is locked out too.
type Throttle struct {
	// Disabled turns throttling off. Default false.
	Disabled bool
	// PairLimit is the failures allowed per account and address. Default 5.
	PairLimit int
	// AddressLimit is the failures allowed per address, over all accounts.
	// Default 50. IPv6 addresses count per /64, which one client usually
	// holds whole.
	AddressLimit int
	// AccountLimit is the failures allowed per account, over all addresses.
	// Default 100.
	AccountLimit int
	// Window caps the lock, and a counter is forgotten 2×Window after its
	// last failure, so the back-off persists past the longest lock; a
	// success clears the pair's counter at once. Default 15m.
	Window time.Duration
	// BaseLock is the first lock once a counter reaches its limit; every
	// further failure doubles it, up to Window. Default 30s.
	BaseLock time.Duration
}

// Defaults of [Throttle].
const (
	DefaultPairLimit      = 5
	DefaultAddressLimit   = 50
	DefaultAccountLimit   = 100
	DefaultThrottleWindow = 15 * time.Minute
	DefaultBaseLock       = 30 * time.Second
)

func (t *Throttle) init() error {
	setDefault(&t.PairLimit, DefaultPairLimit)
	setDefault(&t.AddressLimit, DefaultAddressLimit)
	setDefault(&t.AccountLimit, DefaultAccountLimit)
	setDefault(&t.Window, DefaultThrottleWindow)
	setDefault(&t.BaseLock, DefaultBaseLock)
	if t.PairLimit < 0 || t.AddressLimit < 0 || t.AccountLimit < 0 || t.Window < 0 || t.BaseLock < 0 {
		return fmt.Errorf("%w: Throttle values must not be negative", ErrConfig)
	}
	if t.BaseLock > t.Window {
		return fmt.Errorf("%w: Throttle.BaseLock exceeds Throttle.Window", ErrConfig)
	}
	return nil
}

// lockedUntil is when a counter with n failures, the last at last, opens
// again for a key whose limit is limit; zero when it is open.
func (t *Throttle) lockedUntil(a store.Attempt, limit int) time.Time {
	if a.Failures < limit {
		return time.Time{}
	}
	lock := t.Window
	if k := a.Failures - limit; k < 30 {
		lock = min(t.Window, time.Duration(float64(t.BaseLock)*math.Pow(2, float64(k))))
	}
	return a.Last.Add(lock)
}

// throttleKeys are the counters of one attempt: pair, address, account.
type throttleKeys [3]string

func newThrottleKeys(username, clientIP string) throttleKeys {
	// An invalid name has no account, but it is still counted, so that
	// the answers for names that exist and names that do not are the same.
	if len(username) > store.MaxUsernameLen*4 {
		username = username[:store.MaxUsernameLen*4]
	}
	addr := addressBucket(clientIP)
	return throttleKeys{"pair|" + username + "|" + addr, "addr|" + addr, "user|" + username}
}

// addressBucket groups IPv6 clients by /64: one subscriber usually holds a
// whole /64, so counting single addresses would not slow them down.
func addressBucket(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil || parsed.To4() != nil {
		return ip
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// errThrottled carries how long the client must wait.
type errThrottled struct{ retryAfter time.Duration }

func (e *errThrottled) Error() string {
	return fmt.Sprintf("ginauth: too many failed attempts, retry after %v", e.retryAfter)
}

func (e *errThrottled) Is(target error) bool { return target == ErrThrottled }

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// throttleCheck refuses an attempt on a locked key before it waits for a
// hashing slot or counts: an error wrapping ErrThrottled, or ErrUnavailable
// when the counters cannot be read (failing closed: unread counters could
// hide a lock). It returns the counters read, for throttleCount.
func (a *Auth) throttleCheck(ctx context.Context, keys throttleKeys) ([]store.Attempt, error) {
	t := &a.cfg.Throttle
	if t.Disabled {
		return nil, nil
	}
	sctx, cancel := context.WithTimeout(ctx, a.cfg.StoreTimeout)
	got, err := a.cfg.Store.Attempts(sctx, keys[:]...)
	cancel()
	if err == nil && len(got) != len(keys) {
		err = fmt.Errorf("ginauth: store returned %d counters for %d keys", len(got), len(keys))
	}
	if err != nil {
		return nil, errors.Join(ErrUnavailable, err)
	}
	now := a.cfg.Now()
	var until time.Time
	for i, limit := range t.limits() {
		if u := t.lockedUntil(got[i], limit); u.After(now) && u.After(until) {
			until = u
		}
	}
	if !until.IsZero() {
		return nil, &errThrottled{retryAfter: until.Sub(now)}
	}
	return got, nil
}

func (t *Throttle) limits() [3]int { return [3]int{t.PairLimit, t.AddressLimit, t.AccountLimit} }

// throttleCount counts the attempt as a failure before its hashing work,
// in one atomic step per counter, and takes it back (429) when attempts
// running in parallel got there first: each sees its own count, so of
// many parallel guesses no more pass a limit than it allows. before is
// what throttleCheck read; a count that only grew by this attempt since is
// the one try a lock that just ended allows.
func (a *Auth) throttleCount(ctx context.Context, keys throttleKeys, before []store.Attempt) error {
	t := &a.cfg.Throttle
	if t.Disabled {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, a.cfg.StoreTimeout)
	defer cancel()
	got, err := a.cfg.Store.AddFailure(sctx, 2*t.Window, keys[:]...)
	if err == nil && len(got) != len(keys) {
		err = fmt.Errorf("ginauth: store returned %d counters for %d keys", len(got), len(keys))
	}
	if err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	now := a.cfg.Now()
	var wait time.Duration
	for i, limit := range t.limits() {
		prior := got[i].Failures - 1 // counted before this attempt
		if prior >= limit && prior > before[i].Failures {
			wait = max(wait, t.lockedUntil(store.Attempt{Failures: prior, Last: now}, limit).Sub(now))
		}
	}
	if wait == 0 {
		return nil
	}
	if err := a.cfg.Store.ForgiveFailure(sctx, keys[:]...); err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	return &errThrottled{retryAfter: wait}
}

// throttleSettle finishes the bookkeeping of an attempt counted in
// advance: a success or an attempt that could not be judged (the store
// failed) is taken back from every counter, in one round trip, and a
// success also clears the pair's earlier failures when it had any (a
// second round trip, only then); a failure stays counted.
func (a *Auth) throttleSettle(ctx context.Context, keys throttleKeys, before []store.Attempt, verdict error) error {
	if a.cfg.Throttle.Disabled || errors.Is(verdict, ErrBadCredentials) {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, a.cfg.StoreTimeout)
	defer cancel()
	err := a.cfg.Store.ForgiveFailure(sctx, keys[:]...)
	if err == nil && verdict == nil && before[0].Failures > 0 {
		err = a.cfg.Store.ResetAttempts(sctx, keys[0])
	}
	if err != nil && verdict == nil {
		return errors.Join(ErrUnavailable, err)
	}
	return nil
}

// throttleName is the name counted for a login attempt: canonical when
// possible, so "Alice" and "alice" share counters.
func throttleName(username string) string {
	if name, err := store.CanonicalUsername(username); err == nil {
		return name
	}
	return strings.ToLower(username)
}
