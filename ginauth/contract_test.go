package ginauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// foreignToken signs a token for alice with a key, claims or options this
// kit does not accept.
func (k *kit) foreignToken(secret, kid, iss, aud string, opts ...tokens.Option) string {
	k.t.Helper()
	key, err := tokens.NewHMACKey(kid, []byte(secret))
	if err != nil {
		k.t.Fatal(err)
	}
	opts = append([]tokens.Option{tokens.WithIssuer(iss), tokens.WithAudience(aud), tokens.WithClock(k.clock.Now)}, opts...)
	iss1, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		k.t.Fatal(err)
	}
	tok, _, err := iss1.Issue("alice", strings.Repeat("ab", 32), []string{"admin"})
	if err != nil {
		k.t.Fatal(err)
	}
	return tok
}

// TestStatusContract walks every row of the README's status table over
// HTTP through a real gin engine and the test Redis.
func TestStatusContract(t *testing.T) { forEachKit(t, testStatusContract) }

func testStatusContract(t *testing.T, newK kitMaker) {
	k := newK(t)
	alice := k.login("alice", alicePW)
	bob := k.login("bob", bobPW)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","sid":"x","roles":["admin"],"exp":9999999999}`)) + "."

	tests := []struct {
		name      string
		path      string
		headers   []string
		status    int
		code      string
		challenge []string // WWW-Authenticate values expected, in order
	}{
		{name: "no credentials", path: "/api/me", status: 401, code: "authentication_required",
			challenge: []string{`Bearer realm="test-realm"`, `Basic realm="test-realm", charset="UTF-8"`}},
		{name: "unknown scheme only", path: "/api/me", headers: []string{"Authorization", "Digest username=alice"},
			status: 401, code: "authentication_required",
			challenge: []string{`Bearer realm="test-realm"`, `Basic realm="test-realm", charset="UTF-8"`}},
		{name: "empty bearer token", path: "/api/me", headers: []string{"Authorization", "Bearer "},
			status: 400, code: "invalid_request", challenge: []string{`Bearer realm="test-realm", error="invalid_request"`, `Basic realm="test-realm", charset="UTF-8"`}},
		{name: "two bearer tokens", path: "/api/me", headers: []string{"Authorization", "Bearer a b"}, status: 400, code: "invalid_request"},
		{name: "two authorization headers", path: "/api/me", headers: append(bearer(alice.AccessToken), bearer(bob.AccessToken)...), status: 400, code: "invalid_request"},
		{name: "basic bad base64", path: "/api/me", headers: []string{"Authorization", "Basic !!!notbase64"}, status: 400, code: "invalid_request"},
		{name: "basic without colon", path: "/api/me", headers: []string{"Authorization", "Basic " + b64("alice")}, status: 400, code: "invalid_request"},
		{name: "garbage token", path: "/api/me", headers: bearer("garbage.token.here"), status: 401, code: "invalid_token",
			challenge: []string{`Bearer realm="test-realm", error="invalid_token"`, `Basic realm="test-realm", charset="UTF-8"`}},
		{name: "alg none", path: "/api/me", headers: bearer(none), status: 401, code: "invalid_token"},
		{name: "bad signature", path: "/api/me", headers: bearer(k.foreignToken(strings.Repeat("x", 32), "k1", "authkit-test", "api")), status: 401, code: "invalid_token"},
		{name: "wrong issuer", path: "/api/me", headers: bearer(k.foreignToken(testSecret, "k1", "evil", "api")), status: 401, code: "invalid_token"},
		{name: "wrong audience", path: "/api/me", headers: bearer(k.foreignToken(testSecret, "k1", "authkit-test", "other")), status: 401, code: "invalid_token"},
		{name: "unknown session", path: "/api/me", headers: bearer(k.foreignToken(testSecret, "k1", "authkit-test", "api")), status: 401, code: "invalid_token"},
		{name: "basic wrong password", path: "/api/me", headers: []string{"Authorization", "Basic " + b64("alice:nope-nope")}, status: 401, code: "invalid_credentials"},
		{name: "basic unknown user", path: "/api/me", headers: []string{"Authorization", "Basic " + b64("mallory:nope-nope")}, status: 401, code: "invalid_credentials"},
		{name: "basic ok", path: "/api/me", headers: []string{"Authorization", "Basic " + b64("bob:"+bobPW)}, status: 200},
		{name: "bearer ok", path: "/api/me", headers: bearer(bob.AccessToken), status: 200},
		{name: "missing role", path: "/api/admin/stats", headers: bearer(bob.AccessToken), status: 403, code: "forbidden",
			challenge: []string{`Bearer realm="test-realm", error="insufficient_scope"`}},
		{name: "any-of role ok", path: "/api/reports", headers: bearer(alice.AccessToken), status: 200},
		{name: "any-of role missing", path: "/api/reports", headers: bearer(bob.AccessToken), status: 403, code: "forbidden"},
		{name: "all-of ok", path: "/api/both", headers: bearer(alice.AccessToken), status: 200},
		{name: "all-of missing one", path: "/api/both", headers: bearer(bob.AccessToken), status: 403, code: "forbidden"},
		{name: "basic missing role", path: "/api/admin/stats", headers: []string{"Authorization", "Basic " + b64("bob:"+bobPW)}, status: 403, code: "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := k.do("GET", tt.path, nil, tt.headers...)
			expect(t, r, tt.status, tt.code)
			if tt.challenge != nil {
				got := r.Header().Values("WWW-Authenticate")
				if strings.Join(got, "\n") != strings.Join(tt.challenge, "\n") {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
				}
			}
			if tt.status == 401 && len(r.Header().Values("WWW-Authenticate")) == 0 {
				t.Error("401 without WWW-Authenticate challenge")
			}
			if tt.status == 403 && strings.Contains(r.Header().Get("WWW-Authenticate"), "admin") {
				t.Error("403 challenge names a role")
			}
		})
	}
}

func TestExpiredAccessToken(t *testing.T) { forEachKit(t, testExpiredAccessToken) }

func testExpiredAccessToken(t *testing.T, newK kitMaker) {
	k := newK(t)
	tok := k.login("bob", bobPW)
	k.clock.Advance(16 * time.Minute) // past the 15-minute access token, inside the session
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "token_expired")

	// The client refreshes and carries on.
	next := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
	expect(t, next, 200, "")
	expect(t, k.do("GET", "/api/me", nil, bearer(next.str("access_token"))...), 200, "")

	// Expired token whose session is gone: log in again, not refresh.
	if err := k.auth.Config().Store.RevokeAll(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
}

func TestSessionsAreAuthoritative(t *testing.T) { forEachKit(t, testSessionsAreAuthoritative) }

func testSessionsAreAuthoritative(t *testing.T, newK kitMaker) {
	ctx := context.Background()
	tests := []struct {
		name   string
		revoke func(k *kit, tok ginauth.TokenResponse)
	}{
		{"logout", func(k *kit, tok ginauth.TokenResponse) {
			expect(k.t, k.do("POST", "/auth/logout", nil, bearer(tok.AccessToken)...), 204, "")
		}},
		{"logout-all from another session", func(k *kit, _ ginauth.TokenResponse) {
			other := k.login("bob", bobPW)
			expect(k.t, k.do("POST", "/auth/logout-all", nil, bearer(other.AccessToken)...), 204, "")
		}},
		{"user disabled", func(k *kit, _ ginauth.TokenResponse) {
			if err := k.users.SetDisabled(ctx, "bob", true); err != nil {
				k.t.Fatal(err)
			}
		}},
		{"password changed", func(k *kit, _ ginauth.TokenResponse) {
			if err := k.auth.Accounts().SetPassword(ctx, "bob", "a-brand-new-password"); err != nil {
				k.t.Fatal(err)
			}
		}},
		{"idle timeout", func(k *kit, _ ginauth.TokenResponse) { k.clock.Advance(25 * time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newK(t)
			tok := k.login("bob", bobPW)
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
			tt.revoke(k, tok)
			// For "idle timeout" the token has expired too, but the dead
			// session decides: log in again, not refresh.
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
			expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 401, "invalid_grant")
		})
	}
}

func TestRoleChangeTakesEffectAtOnce(t *testing.T) { forEachKit(t, testRoleChangeTakesEffectAtOnce) }

func testRoleChangeTakesEffectAtOnce(t *testing.T, newK kitMaker) {
	k := newK(t)
	tok := k.login("bob", bobPW)
	expect(t, k.do("GET", "/api/admin/stats", nil, bearer(tok.AccessToken)...), 403, "forbidden")
	if err := k.users.SetRoles(context.Background(), "bob", []string{"user", "admin"}); err != nil {
		t.Fatal(err)
	}
	expect(t, k.do("GET", "/api/admin/stats", nil, bearer(tok.AccessToken)...), 200, "")
}

func TestLogin(t *testing.T) { forEachKit(t, testLogin) }

func testLogin(t *testing.T, newK kitMaker) {
	k := newK(t)
	r := k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW})
	expect(t, r, 200, "")
	if cc := r.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if r.str("token_type") != "Bearer" || r.str("access_token") == "" || r.str("refresh_token") == "" || r.body["expires_in"] != float64(900) {
		t.Errorf("body not in RFC 6749 §5.1 shape: %s", r.Body)
	}
	// The fifth member is the new client's device credential.
	if len(r.body) != 5 || !strings.HasPrefix(r.str("device_token"), "dv1.") {
		t.Errorf("unexpected members in %s", r.Body)
	}

	long72 := strings.Repeat("a", 72)
	if err := k.auth.Accounts().CreateUser(context.Background(), "carol", long72, []string{"user"}); err != nil {
		t.Fatal(err)
	}
	unknown := k.do("POST", "/auth/login", map[string]string{"username": "mallory", "password": "whatever-pass"})
	wrong := k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "whatever-pass"})
	expect(t, unknown, 401, "invalid_credentials")
	expect(t, wrong, 401, "invalid_credentials")
	if unknown.Body.String() != wrong.Body.String() ||
		strings.Join(unknown.Header().Values("WWW-Authenticate"), ",") != strings.Join(wrong.Header().Values("WWW-Authenticate"), ",") {
		t.Errorf("unknown user and wrong password differ:\n%s\n%s", unknown.Body, wrong.Body)
	}

	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"72 bytes ok", map[string]string{"username": "carol", "password": long72}, 200, ""},
		{"73 bytes sharing the first 72", map[string]string{"username": "carol", "password": long72 + "X"}, 401, "invalid_credentials"},
		{"empty password", map[string]string{"username": "alice", "password": ""}, 401, "invalid_credentials"},
		{"disabled user, right password", nil, 401, "invalid_credentials"},
		{"missing password", map[string]string{"username": "alice"}, 400, "invalid_request"},
		{"not JSON", "username=alice", 400, "invalid_request"},
		{"two objects", `{"username":"a","password":"b"}{}`, 400, "invalid_request"},
		{"huge body", `{"username":"` + strings.Repeat("a", 10000) + `","password":"x"}`, 413, "invalid_request"},
		{"invalid username syntax", map[string]string{"username": "{evil}", "password": "whatever-pass"}, 401, "invalid_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == nil {
				if err := k.users.SetDisabled(context.Background(), "bob", true); err != nil {
					t.Fatal(err)
				}
				body = map[string]string{"username": "bob", "password": bobPW}
			}
			expect(t, k.do("POST", "/auth/login", body), tt.status, tt.code)
		})
	}
}

func TestPasswordPolicy(t *testing.T) {
	k := newKit(t)
	ctx := context.Background()
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"empty", "", accounts.ErrPasswordEmpty},
		{"short", "short", accounts.ErrPasswordTooShort},
		{"73 bytes", strings.Repeat("a", 73), accounts.ErrPasswordTooLong},
		{"bad utf-8", "abcdefgh\xff", accounts.ErrPasswordEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := k.auth.Accounts().CreateUser(ctx, "dave", tt.pw, nil); !errors.Is(err, tt.want) {
				t.Errorf("CreateUser: err = %v, want %v", err, tt.want)
			}
			if err := k.auth.Accounts().SetPassword(ctx, "bob", tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("SetPassword: err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := k.auth.Accounts().CreateUser(ctx, "alice", "long-enough-pw", nil); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate: err = %v", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) { forEachKit(t, testRefreshRotationAndReuse) }

func testRefreshRotationAndReuse(t *testing.T, newK kitMaker) {
	k := newK(t)
	first := k.login("bob", bobPW)
	second := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": first.RefreshToken})
	expect(t, second, 200, "")
	if second.str("refresh_token") == first.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	if second.Header().Get("Cache-Control") != "no-store" {
		t.Error("refresh response is cacheable")
	}
	// Within RefreshGrace, a retry of the same refresh (its response was
	// lost, say) gets the same successor and changes nothing.
	retry := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": first.RefreshToken})
	expect(t, retry, 200, "")
	if retry.str("refresh_token") != second.str("refresh_token") {
		t.Fatal("a retry within the grace period forked the token chain")
	}
	// Past it, replaying the rotated token is theft: the whole session dies.
	k.clock.Advance(ginauth.DefaultRefreshGrace)
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": first.RefreshToken}), 401, "invalid_grant")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": second.str("refresh_token")}), 401, "invalid_grant")
	expect(t, k.do("GET", "/api/me", nil, bearer(second.str("access_token"))...), 401, "invalid_token")

	for _, bad := range []string{"garbage", "rt1.a.b.c", first.RefreshToken + "x", `"`} {
		expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": bad}), 401, "invalid_grant")
	}
	expect(t, k.do("POST", "/auth/refresh", map[string]string{}), 400, "invalid_request")

	// Expired with the session's absolute lifetime.
	tok := k.login("alice", alicePW)
	for range 40 { // keep the session from idling out while the days pass
		k.clock.Advance(20 * time.Hour)
		r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
		if r.Code != 200 {
			expect(t, r, 401, "invalid_grant")
			if k.clock.Now().Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) < 720*time.Hour {
				t.Fatalf("refresh failed before the session's lifetime ended")
			}
			return
		}
		tok.RefreshToken = r.str("refresh_token")
	}
	t.Fatal("refresh still works past the session's absolute lifetime")
}

// TestConcurrentRefresh: fifty refreshes of one token at once (two tabs, a
// retry storm) converge on one successor within the grace period; with the
// grace disabled, exactly one wins and the others count as reuse.
func TestConcurrentRefresh(t *testing.T) {
	t.Run("Grace", func(t *testing.T) {
		// Fifty scripts queued at once on a busy machine with the race
		// detector can outlast the default StoreTimeout: this test is
		// about the verdicts, not the speed.
		k := newKit(t, func(c *kitConfig) { c.StoreTimeout = 10 * time.Second })
		tok := k.login("bob", bobPW)
		results := refreshAll(k, tok.RefreshToken, 50)
		for _, r := range results {
			expect(t, r, 200, "")
			if r.str("refresh_token") != results[0].str("refresh_token") {
				t.Fatal("concurrent refreshes forked the token chain")
			}
		}
		k.clock.Advance(time.Minute)
		expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": results[0].str("refresh_token")}), 200, "")
	})
	t.Run("NoGrace", testConcurrentRefreshNoGrace)
}

func refreshAll(k *kit, token string, n int) []resp {
	results := make([]resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = k.do("POST", "/auth/refresh", map[string]string{"refresh_token": token})
		})
	}
	close(start)
	wg.Wait()
	return results
}

func testConcurrentRefreshNoGrace(t *testing.T) {
	k := newKit(t, func(c *kitConfig) { c.Refresh.Grace, c.StoreTimeout = -1, 10*time.Second })
	tok := k.login("bob", bobPW)
	results := refreshAll(k, tok.RefreshToken, 50)
	var winner string
	for _, r := range results {
		switch r.Code {
		case 200:
			if winner != "" {
				t.Fatal("more than one concurrent refresh succeeded")
			}
			winner = r.str("refresh_token")
		default:
			expect(t, r, 401, "invalid_grant")
		}
	}
	if winner == "" {
		t.Fatal("no concurrent refresh succeeded, want exactly 1")
	}
	// The losers presented a token that had just been rotated: that is
	// reuse, so the session is revoked and the winner's token dies too
	// (RFC 9700 §4.14.2). Clients must not refresh concurrently.
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": winner}), 401, "invalid_grant")
}

func TestCookieSessionAndCSRF(t *testing.T) {
	k := newKit(t)
	r := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	expect(t, r, 200, "")
	if r.str("access_token") != "" || r.str("refresh_token") != "" {
		t.Fatal("cookie login leaked tokens to the page")
	}
	csrf := r.str("csrf_token")
	var session, csrfCookie *http.Cookie
	for _, c := range r.Result().Cookies() {
		switch c.Name {
		case "__Host-authkit_session":
			session = c
		case "__Host-authkit_csrf":
			csrfCookie = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || !session.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Secure (host is example.com)", session)
	}
	if csrfCookie == nil || csrfCookie.Value != csrf || csrfCookie.HttpOnly {
		t.Fatalf("csrf cookie = %+v", csrfCookie)
	}
	cookie := []string{"Cookie", session.Name + "=" + session.Value}
	expect(t, k.do("GET", "/api/me", nil, cookie...), 200, "")
	expect(t, k.do("POST", "/api/me", nil, cookie...), 403, "csrf_failed")
	expect(t, k.do("POST", "/api/me", nil, append(cookie, "X-CSRF-Token", "forged")...), 403, "csrf_failed")
	expect(t, k.do("POST", "/api/me", nil, append(cookie, "X-CSRF-Token", csrf)...), 204, "")

	// A second login issues a new session id.
	r2 := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	for _, c := range r2.Result().Cookies() {
		if c.Name == "__Host-authkit_session" && c.Value == session.Value {
			t.Error("login reused the session id")
		}
	}
	expect(t, k.do("POST", "/auth/logout", nil, append(cookie, "X-CSRF-Token", csrf)...), 204, "")
	expect(t, k.do("GET", "/api/me", nil, cookie...), 401, "invalid_token")
	expect(t, k.do("GET", "/api/me", nil, "Cookie", "__Host-authkit_session=garbage"), 401, "invalid_token")
}

func TestErrorHandlerHook(t *testing.T) {
	k := newKit(t, func(c *kitConfig) {
		c.ErrorHandler = func(_ *gin.Context, e *ginauth.Error) { e.Message = "custom: " + e.Code }
	})
	r := k.do("GET", "/api/me", nil)
	expect(t, r, 401, "authentication_required")
	if r.str("message") != "custom: authentication_required" {
		t.Errorf("message = %q", r.str("message"))
	}
}
