package ginauth_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testhash"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
)

// loginKnown logs in from ip presenting the device credential dev in
// DeviceHeader.
func (k *kit) loginKnown(ip, user, pw, dev string) resp {
	k.t.Helper()
	return k.do("POST", "/auth/login", map[string]string{"username": user, "password": pw},
		append(from(ip), ginauth.DeviceHeader, dev)...)
}

// strangerLockout fails 100 times on bob's account from 20 addresses, 5
// each: every failure is judged, and the last locks the account.
func strangerLockout(t *testing.T, k *kit) {
	t.Helper()
	for i := range ginauth.DefaultAccountLimit {
		ip := fmt.Sprintf("203.0.113.%d", 10+i/ginauth.DefaultPairLimit)
		expect(t, k.loginFrom(ip, "bob", "wrong-password"), 401, "invalid_credentials")
	}
}

// TestKnownClientSurvivesLockout: after a stranger's 100 failures from 20
// addresses lock bob's account, a new client with the right password gets
// 429, while bob's known client gets in every time, by JSON login (header
// or cookie), Basic and the OAuth password grant; on both backends. A
// success never re-arms the lock: once it has ended, new clients get in
// one after another.
func TestKnownClientSurvivesLockout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		ev := &eventLog{}
		k := newK(t, ev.hook)
		first := k.loginFrom("198.51.100.5", "bob", bobPW)
		expect(t, first, 200, "")
		dev := first.str("device_token")
		if !strings.HasPrefix(dev, "dv1.") {
			t.Fatalf("login answer without a device credential: %s", first.Body)
		}
		var cookie string
		for _, c := range first.Result().Cookies() {
			if strings.HasSuffix(c.Name, "authkit_device") {
				cookie = c.Name + "=" + c.Value
			}
		}
		if len(ev.take(audit.DeviceIssued)) != 1 {
			t.Errorf("want one device_issued event")
		}

		strangerLockout(t, k)
		if locks := ev.take(audit.Locked); len(locks) == 0 || locks[len(locks)-1].Reason != "account" {
			t.Errorf("locked events %+v, want the account's last", locks)
		}
		expect(t, k.loginFrom("198.51.100.200", "bob", bobPW), 429, "too_many_attempts")
		for i := range 5 {
			r := k.loginKnown(fmt.Sprintf("198.51.100.%d", 20+i), "bob", bobPW, dev)
			expect(t, r, 200, "")
			if r.str("device_token") != "" {
				t.Errorf("a known client got a new device credential")
			}
		}
		if used := ev.take(audit.DeviceUsed); len(used) != 5 {
			t.Errorf("%d device_used events, want 5", len(used))
		}
		expect(t, k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW},
			append(from("198.51.100.30"), "Cookie", cookie)...), 200, "")
		basic := "Basic " + b64std("bob:"+bobPW)
		expect(t, k.do("GET", "/api/me", nil, append(from("198.51.100.31"), "Authorization", basic)...), 429, "too_many_attempts")
		expect(t, k.do("GET", "/api/me", nil, append(from("198.51.100.31"), "Authorization", basic, ginauth.DeviceHeader, dev)...), 200, "")
		form := url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {bobPW}}.Encode()
		if r := k.doCT("POST", "/oauth/token", form, "application/x-www-form-urlencoded", from("198.51.100.32")...); r.Code != 429 || r.str("error") != "too_many_attempts" {
			t.Errorf("token endpoint, new client: %d %s, want 429 too_many_attempts", r.Code, r.Body)
		}
		expect(t, k.doCT("POST", "/oauth/token", form, "application/x-www-form-urlencoded",
			append(from("198.51.100.32"), ginauth.DeviceHeader, dev)...), 200, "")
		// A credential of another account does not count for bob.
		alice := k.loginFrom("198.51.100.6", "alice", alicePW).str("device_token")
		expect(t, k.loginKnown("198.51.100.33", "bob", bobPW, alice), 429, "too_many_attempts")
		// Nor does a forged one.
		expect(t, k.loginKnown("198.51.100.34", "bob", bobPW, dev[:len(dev)-2]+"AA"), 429, "too_many_attempts")

		// The lock (30 s after the last failure) is not moved by the
		// refused attempts nor by successes: when it ends, new clients
		// get in, one after another.
		k.clock.Advance(ginauth.DefaultBaseLock + time.Second)
		for i := range 3 {
			r := k.loginFrom(fmt.Sprintf("198.51.100.%d", 40+i), "bob", bobPW)
			expect(t, r, 200, "")
		}
	})
}

// TestDeviceBudget: a known client that fails DeviceLimit times loses its
// credential; from then on it is a stranger like any other.
func TestDeviceBudget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		ev := &eventLog{}
		k := newK(t, ev.hook, func(c *kitConfig) { c.Throttle.DeviceLimit = 3 })
		dev := k.loginFrom("198.51.100.5", "bob", bobPW).str("device_token")
		for range 3 {
			expect(t, k.loginKnown("198.51.100.5", "bob", "wrong-password", dev), 401, "invalid_credentials")
		}
		revoked := ev.take(audit.DeviceRevoked)
		if len(revoked) != 1 || revoked[0].Reason != "failures" || revoked[0].Device == "" {
			t.Errorf("device_revoked events %+v, want one for failures", revoked)
		}
		// The device's failures did not count for the pair: the stranger
		// it has become has its whole pair budget (3 + 4 would be over it).
		for range ginauth.DefaultPairLimit - 1 {
			expect(t, k.loginKnown("198.51.100.5", "bob", "wrong-password", dev), 401, "invalid_credentials")
		}
		r := k.loginKnown("198.51.100.5", "bob", bobPW, dev)
		expect(t, r, 200, "")
		if r.str("device_token") == "" {
			t.Errorf("a revoked device was still known")
		}
	})
}

// TestDeviceSuccessClearsItsFailures: a known client's earlier failures
// are forgotten when it succeeds, as a pair's are.
func TestDeviceSuccessClearsItsFailures(t *testing.T) {
	k := newMemKit(t, func(c *kitConfig) { c.Throttle.DeviceLimit = 3 })
	dev := k.loginFrom("198.51.100.5", "bob", bobPW).str("device_token")
	for range 5 {
		expect(t, k.loginKnown("198.51.100.5", "bob", "wrong-password", dev), 401, "invalid_credentials")
		expect(t, k.loginKnown("198.51.100.5", "bob", "wrong-password", dev), 401, "invalid_credentials")
		expect(t, k.loginKnown("198.51.100.5", "bob", bobPW, dev), 200, "")
	}
}

// TestDevicesEndWithTheAccount: log out everywhere, a password change and
// disabling the user end every device credential of the user.
func TestDevicesEndWithTheAccount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		k := newK(t)
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			end  func(t *testing.T, access string)
		}{
			{"LogoutAll", func(t *testing.T, access string) {
				expect(t, k.do("POST", "/auth/logout-all", nil, bearer(access)...), 204, "")
			}},
			{"PasswordChange", func(t *testing.T, _ string) {
				if err := k.auth.Accounts().SetPassword(ctx, "bob", bobPW); err != nil {
					t.Fatal(err)
				}
			}},
			{"Disable", func(t *testing.T, _ string) {
				for _, off := range []bool{true, false} {
					if err := k.auth.Accounts().SetDisabled(ctx, "bob", off); err != nil {
						t.Fatal(err)
					}
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := k.loginFrom("198.51.100.5", "bob", bobPW)
				expect(t, r, 200, "")
				dev := r.str("device_token")
				expect(t, k.loginKnown("198.51.100.5", "bob", bobPW, dev), 200, "")
				tc.end(t, k.loginKnown("198.51.100.5", "bob", bobPW, dev).str("access_token"))
				// Known no more: the answer hands out a new credential.
				if r := k.loginKnown("198.51.100.5", "bob", bobPW, dev); r.Code != 200 || r.str("device_token") == "" {
					t.Errorf("after %s: %d, device_token %q; want 200 and a new credential", tc.name, r.Code, r.str("device_token"))
				}
			})
		}
	})
}

// TestOneAddressBurst: 120 wrong logins sent at once from one address, at
// one account and at thirty made-up names, with one hashing slot, get 401
// up to the limits and 429 after, never 503: at most AddressConcurrency
// of them wait for the slot.
func TestOneAddressBurst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		slow := &slowHasher{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, delay: 20 * time.Millisecond}
		k := newK(t, func(c *kitConfig) { c.hasher, c.Throttle.PasswordConcurrency = slow, 1 })
		statuses := make([]int, 120)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range statuses {
			user := "bob"
			if i%2 == 1 {
				user = fmt.Sprintf("nobody%d", i%30)
			}
			wg.Go(func() {
				<-start
				statuses[i] = k.loginFrom("198.51.100.77", user, "wrong-password").Code
			})
		}
		close(start)
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[401]+count[429] != len(statuses) || count[401] == 0 {
			t.Errorf("answers %v, want only 401 and 429", count)
		}
	})
}

// slowHasher takes at least delay per comparison, as a real cost does.
type slowHasher struct {
	accounts.Hasher
	delay time.Duration
}

func (h *slowHasher) Compare(ctx context.Context, hash, pw []byte) error {
	time.Sleep(h.delay)
	return h.Hasher.Compare(ctx, hash, pw)
}

// TestUnjudgedAttemptLeavesNoTrace: a login that found no hashing slot in
// time (503) is not counted: its address still has its whole pair budget.
func TestUnjudgedAttemptLeavesNoTrace(t *testing.T) {
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}}
	k := newKit(t, func(c *kitConfig) {
		c.hasher, c.Throttle.PasswordConcurrency, c.Throttle.PasswordWait = h, 1, 50*time.Millisecond
	})
	h.Entered, h.Gate = make(chan struct{}), make(chan struct{})
	held := make(chan resp)
	go func() { held <- k.loginFrom("198.51.100.10", "alice", alicePW) }()
	<-h.Entered
	for range 3 {
		expect(t, k.loginFrom("198.51.100.9", "bob", "wrong-password"), 503, "unavailable")
	}
	close(h.Gate)
	expect(t, <-held, 200, "")
	h.Entered, h.Gate = nil, nil
	for range ginauth.DefaultPairLimit {
		expect(t, k.loginFrom("198.51.100.9", "bob", "wrong-password"), 401, "invalid_credentials")
	}
	expect(t, k.loginFrom("198.51.100.9", "bob", bobPW), 429, "too_many_attempts")
}

// TestClientAddressIsThePeer: by default a client that writes its own
// X-Forwarded-For is still one client, its peer address, even on an engine
// that trusts every proxy (gin's default); with Config.ClientAddress set to
// GinClientIP, the engine's trusted proxies decide.
func TestClientAddressIsThePeer(t *testing.T) {
	ev := &eventLog{}
	k := newKit(t, ev.hook)
	for i := range ginauth.DefaultPairLimit {
		r := k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": "wrong-password"},
			append(from("198.51.100.9"), "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))...)
		expect(t, r, 401, "invalid_credentials")
	}
	r := k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW},
		append(from("198.51.100.9"), "X-Forwarded-For", "192.0.2.99")...)
	expect(t, r, 429, "too_many_attempts")
	for _, e := range ev.take(audit.LoginFailed) {
		if e.ClientIP != "198.51.100.9" {
			t.Errorf("audit ClientIP = %q, want the peer", e.ClientIP)
		}
	}

	proxied := newKit(t, func(c *kitConfig) { c.ClientAddress = ginauth.GinClientIP })
	if err := proxied.engine.SetTrustedProxies([]string{"198.51.100.9"}); err != nil {
		t.Fatal(err)
	}
	for i := range ginauth.DefaultPairLimit + 1 {
		r := proxied.do("POST", "/auth/login", map[string]string{"username": "bob", "password": "wrong-password"},
			append(from("198.51.100.9"), "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))...)
		expect(t, r, 401, "invalid_credentials")
	}
}

// forEachBackend runs test on the Redis kit, the in-memory kit and the
// split kit (users apart from the sessions).
func forEachBackend(t *testing.T, test func(t *testing.T, newK kitMaker)) {
	for _, m := range []struct {
		name string
		newK kitMaker
	}{{"redis", newKit}, {"memory", newMemKit}, {"split", newSplitKit}} {
		t.Run(m.name, func(t *testing.T) { test(t, m.newK) })
	}
}

// TestBasicDeviceOnRequest: a Basic request gets a device credential only
// when it asks for one, and can then use it through a lock.
func TestBasicDeviceOnRequest(t *testing.T) {
	k := newMemKit(t)
	basic := []string{"Authorization", "Basic " + b64std("bob:"+bobPW)}
	r := k.do("GET", "/api/me", nil, append(from("198.51.100.5"), basic...)...)
	expect(t, r, 200, "")
	if got := r.Header().Get(ginauth.DeviceHeader); got != "" {
		t.Errorf("a Basic request that did not ask got a device credential")
	}
	r = k.do("GET", "/api/me", nil, append(from("198.51.100.5"), append(basic, ginauth.DeviceHeader, ginauth.DeviceRequest)...)...)
	expect(t, r, 200, "")
	dev := r.Header().Get(ginauth.DeviceHeader)
	if !strings.HasPrefix(dev, "dv1.") {
		t.Fatalf("Basic with %s: %s = %q, want a device credential", ginauth.DeviceRequest, ginauth.DeviceHeader, dev)
	}
	strangerLockout(t, k)
	expect(t, k.do("GET", "/api/me", nil, append(from("198.51.100.6"), basic...)...), 429, "too_many_attempts")
	r = k.do("GET", "/api/me", nil, append(from("198.51.100.6"), append(basic, ginauth.DeviceHeader, dev)...)...)
	expect(t, r, 200, "")
	if r.Header().Get(ginauth.DeviceHeader) != "" {
		t.Errorf("a known Basic client got a new credential")
	}
}

// lostAnswers is a store whose BeginAttempt does its work and then fails,
// as when the deadline cuts off the store's answer.
type lostAnswers struct {
	*memstore.Store
	lose atomic.Bool
}

func (s *lostAnswers) BeginAttempt(ctx context.Context, id string, deadline time.Time, keys ...string) ([]store.Attempt, error) {
	got, err := s.Store.BeginAttempt(ctx, id, deadline, keys...)
	if s.lose.Load() {
		return nil, context.DeadlineExceeded
	}
	return got, err
}

// TestLostBeginIsTakenBack: an attempt whose registration answer was lost
// (503) is taken back, so it does not hold its address's concurrency
// until its deadline.
func TestLostBeginIsTakenBack(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st := &lostAnswers{Store: memstore.New(memstore.Options{Now: clk.Now})}
	k := newKitWith(t, st, nil, clk)
	st.lose.Store(true)
	for range ginauth.DefaultAddressConcurrency + 1 {
		expect(t, k.loginFrom("198.51.100.9", "bob", bobPW), 503, "unavailable")
	}
	st.lose.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := k.loginFrom("198.51.100.9", "bob", bobPW)
		if r.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login still %d %s: the lost attempts were not taken back", r.Code, r.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAddressConcurrency: with two checks of one address running, a third
// from the same address is refused at once (429, Retry-After 1), before
// it waits; another address is not held back.
func TestAddressConcurrency(t *testing.T) {
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, Entered: make(chan struct{}), Gate: make(chan struct{})}
	// Three slots: two for strangers, one kept for known clients.
	k := newMemKit(t, func(c *kitConfig) { c.hasher, c.Throttle.PasswordConcurrency = h, 3 })
	held := make(chan resp, 2)
	for _, user := range []string{"alice", "bob"} {
		go func() { held <- k.loginFrom("198.51.100.9", user, "wrong-password") }()
		<-h.Entered
	}
	r := k.loginFrom("198.51.100.9", "bob", bobPW)
	expect(t, r, 429, "too_many_attempts")
	if got := r.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	close(h.Gate)
	for range 2 {
		expect(t, <-held, 401, "invalid_credentials")
	}
	h.Entered, h.Gate = nil, nil
	expect(t, k.loginFrom("198.51.100.9", "bob", bobPW), 200, "")
}

// TestDeviceRenewed: a known client past half its credential's lifetime
// gets a new credential at its next login, and the old one ends, so a
// client in steady use stays known.
func TestDeviceRenewed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		ev := &eventLog{}
		k := newK(t, ev.hook)
		old := k.loginFrom("198.51.100.5", "bob", bobPW).str("device_token")
		k.clock.Advance(ginauth.DefaultDeviceLifetime/2 - time.Hour)
		if r := k.loginKnown("198.51.100.5", "bob", bobPW, old); r.Code != 200 || r.str("device_token") != "" {
			t.Fatalf("before half its lifetime: %d, device_token %q; want 200 and none", r.Code, r.str("device_token"))
		}
		k.clock.Advance(2 * time.Hour)
		r := k.loginKnown("198.51.100.5", "bob", bobPW, old)
		renewed := r.str("device_token")
		if r.Code != 200 || renewed == "" || renewed == old {
			t.Fatalf("past half its lifetime: %d, device_token %q; want 200 and a new one", r.Code, renewed)
		}
		if got := ev.take(audit.DeviceRevoked); len(got) != 1 || got[0].Reason != "renewed" {
			t.Errorf("device_revoked events %+v, want one, renewed", got)
		}
		if r := k.loginKnown("198.51.100.5", "bob", bobPW, renewed); r.Code != 200 || r.str("device_token") != "" {
			t.Errorf("the renewed credential: %d, device_token %q; want 200 and none", r.Code, r.str("device_token"))
		}
		if r := k.loginKnown("198.51.100.5", "bob", bobPW, old); r.str("device_token") == "" {
			t.Errorf("the retired credential is still known")
		}
	})
}
