package ginauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// Throttle configures how failed password checks (login and HTTP Basic)
// slow down guessing, and which clients they spare.
//
// Failures are counted per account and client address pair, per client
// address and per account across all addresses, whether the account
// exists or not. A counter at its limit locks its key: the answer is 429
// with Retry-After, before any hashing work, the same for existing and
// unknown accounts. Every attempt is counted before it waits for a
// hashing slot, as pending, so a request over a limit is refused at once
// and parallel guesses cannot all pass a limit read at the same time; an
// attempt that succeeds, or is never judged (no slot in time, a store
// failure), leaves its counters exactly as they were, so a success never
// extends a lock or a counter's life.
//
// Known clients. Every successful password login hands the client a
// device credential for the account (a cookie, and
// [TokenResponse].DeviceToken for clients without cookies; HTTP Basic
// requests ask for one with [DeviceRequest]). A login that
// presents one for the account it names counts only against the device's
// own budget (DeviceLimit): the account-wide lock and the per-address
// limits, which strangers can drive, do not apply to it, and it goes
// ahead of other logins waiting for a hashing slot. So a stranger's
// failures lock out only clients the account has not seen: after
// AccountLimit failures from anywhere, a new client with the right
// password gets 429 until the lock ends, while the owner's known clients
// log in at once. Device credentials need a Store that implements
// store.DeviceStore (redisstore and memstore do); log out everywhere,
// a password change and disabling the user end them, and a login with one
// past half its lifetime renews it. One account's known clients may have
// at most AddressConcurrency checks waiting or running per process, so
// one account's devices cannot fill the known clients' lane.
//
// The lock-out trade-off that remains: PairLimit stops one address early;
// AccountLimit is reached by AccountLimit/PairLimit addresses (20 with
// the defaults) at the speed they can send, each failure costing them one
// hashing slot; then the account is locked for new clients for BaseLock,
// doubling with each further failure up to Window. A user on a new
// client (a new browser, a cleared cookie jar) is locked out meanwhile.
//
// The client address is [Config].ClientAddress: by default the peer's
// address, never a header the client writes.
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
	// AddressConcurrency is how many password checks of one client address
	// may wait or run at once; more get 429 at once, so one address cannot
	// fill the hashing queue. Default 2. Known clients are not counted: a
	// script that sends Basic requests in parallel presents a device
	// credential (see [DeviceRequest]) or needs a higher value.
	AddressConcurrency int
	// Window caps the lock, and a counter is forgotten 2×Window after its
	// last failure, so the back-off persists past the longest lock; a
	// success clears the pair's counter at once. Default 15m.
	Window time.Duration
	// BaseLock is the first lock once a counter reaches its limit; every
	// further failure doubles it, up to Window. Default 30s.
	BaseLock time.Duration

	// DeviceLimit is the failures a device credential may collect (within
	// 2×Window) before it is revoked and its client becomes a stranger
	// again. Default 5.
	DeviceLimit int
	// DeviceLifetime is how long a device credential lasts. Default 90
	// days: a client that logs in less often than that is a new client.
	DeviceLifetime time.Duration
	// MaxDevices caps each user's device credentials; a new one beyond it
	// ends the user's oldest. Default 20.
	MaxDevices int
	// NoDevices turns device credentials off: every client is a stranger.
	// Default false (on when the Store implements store.DeviceStore).
	NoDevices bool

	// PasswordConcurrency caps the password comparisons running at once
	// (login and HTTP Basic). Each takes about 250 ms of CPU at bcrypt
	// cost 12, so without a cap a flood of made-up logins starves every
	// other request. When it is two or more, one slot is kept for known
	// clients. Default GOMAXPROCS. It applies even when Disabled.
	PasswordConcurrency int
	// PasswordWait is how long a login or Basic request waits for a free
	// comparison slot before it gets 503 with Retry-After (its attempt
	// not counted). Default 2s.
	PasswordWait time.Duration
}

// Defaults of [Throttle].
const (
	defaultPairLimit          = 5
	defaultAddressLimit       = 50
	defaultAccountLimit       = 100
	defaultAddressConcurrency = 2
	defaultThrottleWindow     = 15 * time.Minute
	defaultBaseLock           = 30 * time.Second
	defaultDeviceLimit        = 5
	defaultDeviceLifetime     = 90 * 24 * time.Hour
	defaultMaxDevices         = 20
)

func (t *Throttle) init() error {
	setDefault(&t.PairLimit, defaultPairLimit)
	setDefault(&t.AddressLimit, defaultAddressLimit)
	setDefault(&t.AccountLimit, defaultAccountLimit)
	setDefault(&t.AddressConcurrency, defaultAddressConcurrency)
	setDefault(&t.Window, defaultThrottleWindow)
	setDefault(&t.BaseLock, defaultBaseLock)
	setDefault(&t.DeviceLimit, defaultDeviceLimit)
	setDefault(&t.DeviceLifetime, defaultDeviceLifetime)
	setDefault(&t.MaxDevices, defaultMaxDevices)
	setDefault(&t.PasswordConcurrency, runtime.GOMAXPROCS(0))
	setDefault(&t.PasswordWait, defaultPasswordWait)
	if t.PairLimit < 0 || t.AddressLimit < 0 || t.AccountLimit < 0 || t.AddressConcurrency < 0 || t.Window < 0 ||
		t.BaseLock < 0 || t.DeviceLimit < 0 || t.DeviceLifetime < 0 || t.MaxDevices < 0 ||
		t.PasswordConcurrency < 0 || t.PasswordWait < 0 {
		return fmt.Errorf("%w: Throttle values must not be negative", ErrConfig)
	}
	if t.BaseLock > t.Window {
		return fmt.Errorf("%w: Throttle.BaseLock exceeds Throttle.Window", ErrConfig)
	}
	return nil
}

// lockedUntil is when a counter whose limit is limit opens again; zero
// when it is open.
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

// Kinds of throttle counter, named in audit events.
const (
	counterPair    = "pair"
	counterAddress = "address"
	counterAccount = "account"
	counterDevice  = "device"
)

// counter is one throttle counter of an attempt.
type counter struct {
	key   string
	kind  string
	limit int
}

// counters returns the counters of an attempt on the account username
// (canonical when possible) from clientIP: the device's alone for a known
// client, else pair, address and account.
func (a *Auth) counters(username, clientIP string, known *device) []counter {
	t := &a.cfg.Throttle
	if known != nil {
		return []counter{{key: "dev|" + known.id.String(), kind: counterDevice, limit: t.DeviceLimit}}
	}
	// An invalid name has no account, but it is still counted, so that
	// the answers for names that exist and names that do not are the same.
	if len(username) > store.MaxUsernameLen*4 {
		username = username[:store.MaxUsernameLen*4]
	}
	addr := addressBucket(clientIP)
	return []counter{
		{key: "pair|" + username + "|" + addr, kind: counterPair, limit: t.PairLimit},
		{key: "addr|" + addr, kind: counterAddress, limit: t.AddressLimit},
		{key: "user|" + username, kind: counterAccount, limit: t.AccountLimit},
	}
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

// errThrottled carries how long the client must wait and which counter
// refused it.
type errThrottled struct {
	retryAfter time.Duration
	reason     string
}

func (e *errThrottled) Error() string {
	return fmt.Sprintf("ginauth: too many failed attempts (%s), retry after %v", e.reason, e.retryAfter)
}

func (e *errThrottled) Is(target error) bool { return target == ErrThrottled }

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// busyRetry is the Retry-After of an attempt refused because others of
// the same client are still running: they end within a hashing time.
const busyRetry = time.Second

// attempt is a password check counted in advance on its counters.
type attempt struct {
	id       string
	counters []counter
	before   []store.Attempt
	device   *device // the known client's device, if any
}

func (at *attempt) keys() []string {
	keys := make([]string, len(at.counters))
	for i, c := range at.counters {
		keys[i] = c.key
	}
	return keys
}

// throttleBegin counts an attempt as pending on its counters, in one
// round trip, before it waits for a hashing slot, and refuses it (429,
// taking it back) when a counter is locked, when the attempts already
// pending could use up what a counter has left, or when its address has
// AddressConcurrency checks waiting or running. A store failure is
// ErrUnavailable: unread counters could hide a lock. It returns nil when
// throttling is off.
func (a *Auth) throttleBegin(c *gin.Context, counters []counter, known *device) (*attempt, error) {
	t := &a.cfg.Throttle
	if t.Disabled {
		return nil, nil
	}
	id, err := newSecret()
	if err != nil {
		return nil, err
	}
	at := &attempt{id: b64.EncodeToString(id[:12]), counters: counters, device: known}
	ctx, cancel := a.storeCtx(c)
	defer cancel()
	now := a.cfg.Now()
	// A process that dies mid-attempt leaves it pending until then.
	deadline := now.Add(a.cfg.Throttle.PasswordWait + 10*time.Second)
	at.before, err = a.store.BeginAttempt(ctx, at.id, deadline, at.keys()...)
	if err == nil && len(at.before) != len(counters) {
		err = fmt.Errorf("ginauth: store returned %d counters for %d keys", len(at.before), len(counters))
	}
	if err != nil {
		// The store may have registered the attempt before the deadline
		// cut the answer off: take it back, or it would hold the
		// address's and the pair's pending count until its deadline.
		a.abandon(at)
		return nil, errors.Join(ErrUnavailable, err)
	}
	if refused := a.refusal(at, now); refused != nil {
		if _, err := a.store.EndAttempt(ctx, at.id, false, 2*t.Window, at.keys()...); err != nil {
			a.abandon(at)
		}
		return nil, refused
	}
	return at, nil
}

// abandon takes at back in the background, bounded by StoreTimeout, for
// an attempt whose request has already been answered.
func (a *Auth) abandon(at *attempt) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.StoreTimeout)
		defer cancel()
		if _, err := a.store.EndAttempt(ctx, at.id, false, 2*a.cfg.Throttle.Window, at.keys()...); err != nil {
			a.cfg.Logger.Warn("authkit: taking back an unjudged login attempt failed; it counts as pending until its deadline", "err", err)
		}
	}()
}

// refusal decides from the counters as they were before at began; nil
// lets it go ahead.
func (a *Auth) refusal(at *attempt, now time.Time) error {
	t := &a.cfg.Throttle
	var until time.Time
	reason := ""
	for i, c := range at.counters {
		if u := t.lockedUntil(at.before[i], c.limit); u.After(now) && u.After(until) {
			until, reason = u, c.kind+"_locked"
		}
	}
	if !until.IsZero() {
		return &errThrottled{retryAfter: until.Sub(now), reason: reason}
	}
	for i, c := range at.counters {
		b := at.before[i]
		switch {
		case c.kind == counterAddress && b.Pending >= t.AddressConcurrency:
			return &errThrottled{retryAfter: busyRetry, reason: "address_concurrency"}
		case b.Pending >= max(1, c.limit-b.Failures):
			// The attempts running could use up what is left: one at a time
			// once a lock has ended.
			return &errThrottled{retryAfter: busyRetry, reason: c.kind + "_pending"}
		}
	}
	return nil
}

// throttleEnd ends an attempt counted in advance: a failure stays counted
// (and a counter at or over its limit is reported as a lock, a device's
// as its revocation); anything else leaves no trace, and a success also
// clears the pair's or the device's earlier failures when it had any.
func (a *Auth) throttleEnd(c *gin.Context, at *attempt, verdict error) error {
	if at == nil {
		return nil
	}
	t := &a.cfg.Throttle
	failed := errors.Is(verdict, ErrBadCredentials)
	// The request may be over; the bookkeeping must still happen.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), a.cfg.StoreTimeout)
	defer cancel()
	after, err := a.store.EndAttempt(ctx, at.id, failed, 2*t.Window, at.keys()...)
	if err == nil && len(after) != len(at.counters) {
		err = fmt.Errorf("ginauth: store returned %d counters for %d keys", len(after), len(at.counters))
	}
	if err != nil {
		// A judged attempt whose end cannot be recorded is answered 503
		// whatever its verdict: a 401 would be a free guess, and 401
		// beside 503 would tell a wrong password from a right one. An
		// attempt never judged (verdict ErrUnavailable already) is the
		// caller's 503 anyway.
		return errors.Join(ErrUnavailable, err)
	}
	for i, ct := range at.counters {
		switch {
		case failed && after[i].Failures >= ct.limit: // a lock, or a longer one
			a.auditRequest(c, audit.Event{Kind: audit.Locked, Status: http.StatusUnauthorized, Reason: ct.kind})
			if ct.kind == counterDevice {
				a.revokeDevice(c, ctx, at)
			}
		case verdict == nil && at.before[i].Failures > 0 && (ct.kind == counterPair || ct.kind == counterDevice):
			// The login was right: a counter left behind only costs the
			// client part of its budget, so a failure is logged.
			if err := a.store.ResetAttempts(ctx, ct.key); err != nil {
				a.cfg.Logger.WarnContext(ctx, "authkit: clearing a throttle counter after a good login failed", "err", err)
				continue
			}
			a.auditRequest(c, audit.Event{Kind: audit.Unlocked, Status: http.StatusOK, Reason: ct.kind + "_success"})
		}
	}
	return nil
}

// revokeDevice ends the device credential whose failures reached
// DeviceLimit.
func (a *Auth) revokeDevice(c *gin.Context, ctx context.Context, at *attempt) {
	d := at.device
	if d == nil {
		return
	}
	if err := a.devices.RevokeDevice(ctx, d.username, d.id); err != nil {
		a.cfg.Logger.WarnContext(ctx, "authkit: revoking a device credential failed", "user", d.username, "err", err)
		return
	}
	a.auditRequest(c, audit.Event{Kind: audit.DeviceRevoked, Username: d.username, Device: deviceRef(d.id), Reason: "failures"})
}

// throttleName is the name counted for a login attempt: canonical when
// possible, so "Alice" and "alice" share counters.
func throttleName(username string) string {
	if name, err := store.CanonicalUsername(username); err == nil {
		return name
	}
	return strings.ToLower(username)
}
