package ginauth_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testhash"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
)

// loginFrom logs user in from ip and returns the response.
func (k *kit) loginFrom(ip, user, pw string) resp {
	k.t.Helper()
	return k.do("POST", "/auth/login", map[string]string{"username": user, "password": pw}, from(ip)...)
}

// TestThrottle walks the default limits step by step on one kit: the
// pair lock, its growing back-off, the same answer for unknown accounts,
// other addresses unaffected, a success clearing the pair, and Basic.
func TestThrottle(t *testing.T) {
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}}
	k := newKit(t, func(c *kitConfig) { c.hasher = h })
	const a, b, c = "198.51.100.1", "198.51.100.2", "198.51.100.3"
	var bobLocked resp

	t.Run("PairLock", func(t *testing.T) {
		for range ginauth.DefaultPairLimit {
			expect(t, k.loginFrom(a, "bob", "wrong-password"), 401, "invalid_credentials")
		}
		h.Take()
		// Locked now, even with the right password, and before any hashing.
		bobLocked = k.loginFrom(a, "bob", bobPW)
		expect(t, bobLocked, 429, "too_many_attempts")
		if got := bobLocked.Header().Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After = %q, want 30 (the first lock)", got)
		}
		if n := len(h.Take()); n != 0 {
			t.Errorf("a throttled login ran %d comparisons, want 0", n)
		}
	})
	t.Run("UnknownAccountAnsweredAlike", func(t *testing.T) {
		for range ginauth.DefaultPairLimit {
			expect(t, k.loginFrom(b, "mallory", "wrong-password"), 401, "invalid_credentials")
		}
		r := k.loginFrom(b, "mallory", "wrong-password")
		expect(t, r, 429, "too_many_attempts")
		if r.Body.String() != bobLocked.Body.String() || r.Header().Get("Retry-After") != bobLocked.Header().Get("Retry-After") {
			t.Errorf("unknown account answered differently:\n%s %v\n%s %v", r.Body, r.Header(), bobLocked.Body, bobLocked.Header())
		}
	})
	t.Run("OtherAddressUnaffected", func(t *testing.T) {
		expect(t, k.loginFrom(c, "bob", bobPW), 200, "")
		expect(t, k.loginFrom(c, "BOB", bobPW), 200, "") // one account whatever the case
	})
	t.Run("BackoffGrows", func(t *testing.T) {
		k.clock.Advance(30 * time.Second)
		expect(t, k.loginFrom(a, "bob", "wrong-password"), 401, "invalid_credentials")
		r := k.loginFrom(a, "bob", "wrong-password")
		expect(t, r, 429, "too_many_attempts")
		if got := r.Header().Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After after one more failure = %q, want 60", got)
		}
	})
	t.Run("SuccessClearsPair", func(t *testing.T) {
		k.clock.Advance(time.Minute)
		expect(t, k.loginFrom(a, "bob", bobPW), 200, "")
		for range ginauth.DefaultPairLimit {
			expect(t, k.loginFrom(a, "bob", "wrong-password"), 401, "invalid_credentials")
		}
		expect(t, k.loginFrom(a, "bob", "wrong-password"), 429, "too_many_attempts")
	})
	t.Run("Basic", func(t *testing.T) {
		wrong := []string{"Authorization", "Basic " + b64std("alice:wrong-password")}
		for range ginauth.DefaultPairLimit {
			expect(t, k.do("GET", "/api/me", nil, append(from(c), wrong...)...), 401, "invalid_credentials")
		}
		right := []string{"Authorization", "Basic " + b64std("alice:"+alicePW)}
		expect(t, k.do("GET", "/api/me", nil, append(from(c), right...)...), 429, "too_many_attempts")
	})
	t.Run("WindowForgets", func(t *testing.T) {
		k.clock.Advance(ginauth.DefaultThrottleWindow)
		expect(t, k.loginFrom(b, "mallory", "wrong-password"), 401, "invalid_credentials")
		expect(t, k.loginFrom(a, "bob", bobPW), 200, "")
	})
}

// TestThrottleLimits: the address limit spans accounts, the account limit
// spans addresses (so an owner can be locked out: the documented
// trade-off), and IPv6 addresses count per /64.
func TestThrottleLimits(t *testing.T) {
	tests := []struct {
		name     string
		throttle ginauth.Throttle
		// fail lists (ip, user) failures; then probe must be throttled
		// and control must not be.
		fail           [][2]string
		probe, control [2]string
	}{
		{"address spans accounts", ginauth.Throttle{AddressLimit: 3},
			[][2]string{{"203.0.113.1", "u1"}, {"203.0.113.1", "u2"}, {"203.0.113.1", "u3"}},
			[2]string{"203.0.113.1", "bob"}, [2]string{"203.0.113.2", "bob"}},
		{"account spans addresses", ginauth.Throttle{AccountLimit: 3},
			[][2]string{{"203.0.113.1", "bob"}, {"203.0.113.2", "bob"}, {"203.0.113.3", "bob"}},
			[2]string{"203.0.113.4", "bob"}, [2]string{"203.0.113.4", "alice"}},
		{"ipv6 per /64", ginauth.Throttle{AddressLimit: 2},
			[][2]string{{"2001:db8:1:1::1", "u1"}, {"2001:db8:1:1:ffff::2", "u2"}},
			[2]string{"2001:db8:1:1::3", "bob"}, [2]string{"2001:db8:1:2::1", "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKit(t, func(c *kitConfig) { c.Throttle = tt.throttle })
			for _, f := range tt.fail {
				expect(t, k.loginFrom(f[0], f[1], "wrong-password"), 401, "invalid_credentials")
			}
			pw := map[string]string{"bob": bobPW, "alice": alicePW}
			expect(t, k.loginFrom(tt.probe[0], tt.probe[1], pw[tt.probe[1]]), 429, "too_many_attempts")
			expect(t, k.loginFrom(tt.control[0], tt.control[1], pw[tt.control[1]]), 200, "")
		})
	}
}

// TestThrottleParallelGuesses: sixty guesses sent at once, with sixteen
// hashing slots and no cap on one address's checks, cannot all pass a
// limit they would read at the same time: exactly PairLimit are judged,
// the rest get 429; on both backends.
func TestThrottleParallelGuesses(t *testing.T) {
	for name, newK := range map[string]kitMaker{"redis": newKit, "memory": newMemKit} {
		t.Run(name, func(t *testing.T) {
			k := newK(t, func(c *kitConfig) {
				c.Throttle.PasswordConcurrency, c.Throttle.AddressConcurrency = 16, 100
				// A busy machine must not turn a slow check into a 503.
				c.Throttle.PasswordWait = time.Minute
			})
			statuses := make([]int, 60)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range statuses {
				wg.Go(func() {
					<-start
					statuses[i] = k.loginFrom("198.51.100.77", "bob", "wrong-password").Code
				})
			}
			close(start)
			wg.Wait()
			count := map[int]int{}
			for _, s := range statuses {
				count[s]++
			}
			if count[401] != ginauth.DefaultPairLimit || count[429] != len(statuses)-ginauth.DefaultPairLimit {
				t.Errorf("answers %v, want %d × 401 and the rest 429", count, ginauth.DefaultPairLimit)
			}
			// The refused attempts were taken back: the lock is the one
			// five failures earn, not sixty.
			r := k.loginFrom("198.51.100.77", "bob", bobPW)
			expect(t, r, 429, "too_many_attempts")
			if got := r.Header().Get("Retry-After"); got != "30" {
				t.Errorf("Retry-After = %q, want 30", got)
			}
		})
	}
}

// TestThrottledNeverWaitsForSlot: with every hashing slot held, a
// throttled login answers 429 at once, not 503 after PasswordWait.
func TestThrottledNeverWaitsForSlot(t *testing.T) {
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}}
	k := newKit(t, func(c *kitConfig) {
		c.hasher, c.Throttle.PasswordConcurrency, c.Throttle.PasswordWait = h, 1, time.Minute
	})
	for range ginauth.DefaultPairLimit {
		expect(t, k.loginFrom("198.51.100.9", "bob", "wrong-password"), 401, "invalid_credentials")
	}
	h.Entered, h.Gate = make(chan struct{}), make(chan struct{})
	held := make(chan resp)
	go func() { held <- k.loginFrom("198.51.100.10", "alice", alicePW) }()
	<-h.Entered
	start := time.Now()
	expect(t, k.loginFrom("198.51.100.9", "bob", bobPW), 429, "too_many_attempts")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("throttled login took %v", took)
	}
	close(h.Gate)
	expect(t, <-held, 200, "")
}

// TestLoginRaceWithPasswordChange runs logins with the old password while
// the password changes: every session they obtained must be dead
// afterwards, on both backends, however the steps interleaved.
func TestLoginRaceWithPasswordChange(t *testing.T) {
	for name, newK := range map[string]kitMaker{"redis": newKit, "memory": newMemKit} {
		t.Run(name, func(t *testing.T) {
			k := newK(t, func(c *kitConfig) {
				// Generous waits: on a loaded machine a 503 here would be
				// noise, and the point is which logins get a session.
				c.Throttle.Disabled, c.Throttle.PasswordWait, c.StoreTimeout = true, time.Minute, 10*time.Second
			})
			var (
				mu     sync.Mutex
				tokens []string
				ok     atomic.Int64
				stop   = make(chan struct{})
				wg     sync.WaitGroup
			)
			for range 8 {
				wg.Go(func() {
					for i := 0; i < 200; i++ { // bounded: at most 200 logins each
						select {
						case <-stop:
							return
						default:
						}
						r := k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW})
						if r.Code == 200 {
							ok.Add(1)
							mu.Lock()
							tokens = append(tokens, r.str("access_token"))
							mu.Unlock()
						} else if r.Code != 401 {
							t.Errorf("login during the change: %d %s", r.Code, r.Body)
						}
					}
				})
			}
			deadline := time.Now().Add(10 * time.Second)
			for ok.Load() < 5 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if err := k.auth.Accounts().SetPassword(context.Background(), "bob", "the-new-password"); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			if len(tokens) == 0 {
				t.Fatal("no login succeeded before the change: the race was not exercised")
			}
			for _, tok := range tokens {
				expect(t, k.do("GET", "/api/me", nil, bearer(tok)...), 401, "invalid_token")
			}
			expect(t, k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW}), 401, "invalid_credentials")
			expect(t, k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": "the-new-password"}), 200, "")
		})
	}
}

// TestExpiredTokenReadOnly: an expired access token is checked without
// touching its session, and says token_expired only within the window.
func TestExpiredTokenReadOnly(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		name := map[bool]string{false: "session", true: "stateless"}[stateless]
		t.Run(name, func(t *testing.T) {
			k := newKit(t, func(c *kitConfig) {
				c.Stateless, c.Sessions.IdleTimeout = stateless, 40*time.Minute
			})
			tok := k.login("bob", bobPW)
			claims, _ := k.auth.Config().Verifier.Verify(tok.AccessToken)
			raw, _ := base64.RawURLEncoding.DecodeString(claims.SessionID)
			var sid store.Digest
			copy(sid[:], raw)
			seen := func() time.Time {
				s, err := k.auth.Config().Store.PeekSession(context.Background(), "bob", sid)
				if err != nil {
					t.Fatalf("PeekSession: %v", err)
				}
				return s.LastSeen
			}
			before := seen()
			k.clock.Advance(16 * time.Minute)
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "token_expired")
			if after := seen(); !after.Equal(before) {
				t.Errorf("an expired token moved the session's last use from %v to %v", before, after)
			}
			k.clock.Advance(ginauth.DefaultExpiredTokenWindow)
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
		})
	}
	t.Run("does not keep the session alive", func(t *testing.T) {
		k := newKit(t, func(c *kitConfig) { c.Sessions.IdleTimeout = 20 * time.Minute })
		tok := k.login("bob", bobPW)
		k.clock.Advance(16 * time.Minute)
		expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "token_expired")
		k.clock.Advance(5 * time.Minute) // 21 min after the last real use
		expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
		expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 401, "invalid_grant")
	})
}

// TestSessionsPerUserBounded: a login past the cap ends the oldest session.
func TestSessionsPerUserBounded(t *testing.T) {
	k := newKit(t, func(c *kitConfig) { c.Sessions.MaxPerUser = 2 })
	var toks []ginauth.TokenResponse
	for range 3 {
		toks = append(toks, k.login("bob", bobPW))
		k.clock.Advance(time.Second)
	}
	expect(t, k.do("GET", "/api/me", nil, bearer(toks[0].AccessToken)...), 401, "invalid_token")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": toks[0].RefreshToken}), 401, "invalid_grant")
	for _, tok := range toks[1:] {
		expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
	}
	list, err := k.auth.Config().Store.(store.SessionLister).Sessions(context.Background(), "bob")
	if err != nil || len(list) != 2 {
		t.Errorf("Sessions = %d, %v; want 2", len(list), err)
	}
}

// TestLogoutIdempotent: logging out twice, or with an expired token, is
// 204; what is not a credential of ours still is not.
func TestLogoutIdempotent(t *testing.T) {
	k := newKit(t)
	tok := k.login("bob", bobPW)
	expect(t, k.do("POST", "/auth/logout", nil, bearer(tok.AccessToken)...), 204, "")
	expect(t, k.do("POST", "/auth/logout", nil, bearer(tok.AccessToken)...), 204, "")
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")

	other := k.login("bob", bobPW)
	k.clock.Advance(20 * time.Minute)
	expect(t, k.do("POST", "/auth/logout", nil, bearer(other.AccessToken)...), 204, "")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": other.RefreshToken}), 401, "invalid_grant")

	login := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	cookie := []string{"Cookie", "__Host-authkit_session=" + cookieValue(login, "__Host-authkit_session"), "X-CSRF-Token", login.str("csrf_token")}
	expect(t, k.do("POST", "/auth/logout", nil, cookie...), 204, "")
	expect(t, k.do("POST", "/auth/logout", nil, cookie...), 204, "")

	expect(t, k.do("POST", "/auth/logout", nil), 401, "authentication_required")
	expect(t, k.do("POST", "/auth/logout", nil, bearer("a.b.c")...), 401, "invalid_token")

	// A token expired longer ago than Refresh.ExpiredTokenWindow (found in a log,
	// say) cannot end the session its owner still refreshes.
	old := k.login("bob", bobPW)
	k.clock.Advance(15*time.Minute + ginauth.DefaultExpiredTokenWindow + time.Minute)
	expect(t, k.do("POST", "/auth/logout", nil, bearer(old.AccessToken)...), 401, "invalid_token")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": old.RefreshToken}), 200, "")
}

// TestRefreshFailureChallenges: every 401 carries a challenge (RFC 9110
// §15.5.2), the refresh endpoint's too.
func TestRefreshFailureChallenges(t *testing.T) {
	k := newKit(t)
	r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": "rt2.nope"})
	expect(t, r, 401, "invalid_grant")
	if got := strings.Join(r.Header().Values("WWW-Authenticate"), ", "); !strings.Contains(got, `Bearer realm="`+testRealm+`", error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

// TestRefreshTokenTampering: a refresh token whose signed parts were
// changed is refused before the store is asked, and cannot end a session
// by claiming an old sequence number.
func TestRefreshTokenTampering(t *testing.T) {
	k := newKit(t)
	tok := k.login("bob", bobPW)
	for range 2 {
		r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
		expect(t, r, 200, "")
		tok.RefreshToken, tok.AccessToken = r.str("refresh_token"), r.str("access_token")
	}
	parts := strings.Split(tok.RefreshToken, ".")
	for name, p := range map[string][]string{
		"seq lowered":     {parts[0], parts[1], parts[2], "0", parts[4], parts[5]},
		"seq not decimal": {parts[0], parts[1], parts[2], "02", parts[4], parts[5]},
		"tag changed":     {parts[0], parts[1], parts[2], parts[3], parts[4], strings.Repeat("A", 22)},
		"other user":      {parts[0], b64url("alice"), parts[2], parts[3], parts[4], parts[5]},
	} {
		t.Run(name, func(t *testing.T) {
			k.trips.n.Store(0)
			expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": strings.Join(p, ".")}), 401, "invalid_grant")
			if n := k.trips.n.Load(); n != 0 {
				t.Errorf("%d store round trips for a forged token, want 0", n)
			}
		})
	}
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
}

// TestAuthorizationHeaderCap: an Authorization header over the token cap
// is a malformed request (400), never a 5xx.
func TestAuthorizationHeaderCap(t *testing.T) {
	k := newKit(t)
	huge := strings.Repeat("a", 9<<10)
	expect(t, k.do("GET", "/api/me", nil, "Authorization", "Bearer "+huge), 400, "invalid_request")
	expect(t, k.do("GET", "/api/me", nil, "Authorization", "Basic "+huge), 400, "invalid_request")
}

// TestCookiePersistOption: Persist makes the cookies outlive the browser.
func TestCookiePersistOption(t *testing.T) {
	k := newKit(t, func(c *kitConfig) {
		c.Extractors, c.Cookie = []ginauth.Extractor{ginauth.Bearer()}, &ginauth.CookieConfig{Persist: true, NoHostPrefix: true}
	})
	r := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	expect(t, r, 200, "")
	var cookies []*http.Cookie
	for _, c := range r.Result().Cookies() {
		if !strings.HasSuffix(c.Name, "authkit_device") {
			cookies = append(cookies, c)
		}
	}
	if len(cookies) != 2 {
		t.Fatalf("cookies = %v", cookies)
	}
	for _, c := range cookies {
		if c.MaxAge != int(ginauth.DefaultSessionLifetime.Seconds()) || strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("cookie %s: Max-Age %d, want the session lifetime and no __Host- prefix", c.Name, c.MaxAge)
		}
	}
}

// TestRefreshRetryAfterStall: a refresh answered 503 because Redis
// stalled past StoreTimeout is applied once Redis catches up; the client's
// retry must then get the successor, not a reuse verdict that ends the
// session. A private server is paused, never the shared one.
func TestRefreshRetryAfterStall(t *testing.T) {
	srv := testredis.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	k := newKitOn(t, rdb, "stall:", func(c *kitConfig) { c.StoreTimeout = 100 * time.Millisecond })
	tok := k.login("bob", bobPW)

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	if err := admin.Do(context.Background(), "CLIENT", "PAUSE", 500, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 503, "unavailable")
	time.Sleep(600 * time.Millisecond) // real time: the pause ends and the queued rotation runs

	// A client retries after a 503 until it gets an answer (bounded here);
	// the answer must be the successor, never a verdict of reuse.
	var retry resp
	for try := 0; try < 30; try++ {
		if retry = k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}); retry.Code != 503 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	expect(t, retry, 200, "")
	expect(t, k.do("GET", "/api/me", nil, bearer(retry.str("access_token"))...), 200, "")
	// The rotation did happen while the client heard 503: the chain moved
	// on, and the retry joined it rather than forking it.
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": retry.str("refresh_token")}), 200, "")
}

func b64url(s string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(b64std(s)), "=")
}

// TestLoginRoundTrips pins what throttling adds to a login: reading the
// counters, counting the attempt in advance and taking it back (one round
// trip each); clearing the pair's earlier failures costs one more, and
// only when there were some. The rest is the user read and the session's
// creation.
func TestLoginRoundTrips(t *testing.T) {
	k := newKit(t)
	trips := func(pw string) int64 {
		before := k.trips.n.Load()
		k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": pw})
		return k.trips.n.Load() - before
	}
	trips(bobPW) // the first calls also load the scripts into Redis
	trips("wrong-password")
	trips(bobPW)
	clean := trips(bobPW)
	trips("wrong-password")
	if got := trips(bobPW); got != clean+1 {
		t.Errorf("a login after a failure took %d round trips, want %d (one more, to clear the pair)", got, clean+1)
	}
	if got := trips(bobPW); got != clean {
		t.Errorf("a login with a clean pair took %d round trips, want %d as before", got, clean)
	}
	if clean > 6 {
		t.Errorf("a successful login takes %d round trips, want at most 6", clean)
	}
}
