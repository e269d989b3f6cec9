package ginauth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/mfa"
)

// enrolTOTP gives user a confirmed TOTP factor and returns its recovery
// codes; the clock moves to the next time step, so that the code that
// confirmed the factor is not the current one.
func (k *kit) enrolTOTP(user string) []string {
	k.t.Helper()
	ctx := context.Background()
	if _, err := k.totp.EnrollTOTP(ctx, user); err != nil {
		k.t.Fatal(err)
	}
	recovery, err := k.totp.ConfirmTOTP(ctx, user, k.code(user))
	if err != nil {
		k.t.Fatal(err)
	}
	k.clock.Advance(mfa.Period)
	return recovery
}

// code is the user's current TOTP code.
func (k *kit) code(user string) string {
	k.t.Helper()
	c, err := k.totp.CurrentCode(context.Background(), user)
	if err != nil {
		k.t.Fatal(err)
	}
	return c
}

// mfaLogin logs in with the password and returns the ticket of the 401
// mfa_required answer.
func (k *kit) mfaLogin(user, pw string, extra ...string) string {
	k.t.Helper()
	r := k.do("POST", "/auth/login", map[string]string{"username": user, "password": pw}, extra...)
	expect(k.t, r, 401, "mfa_required")
	ticket := r.str("mfa_ticket")
	if ticket == "" || r.str("refresh_token") != "" || r.str("access_token") != "" {
		k.t.Fatalf("mfa_required answer without a ticket, or with tokens: %s", r.Body)
	}
	return ticket
}

func withTOTP(c *kitConfig) { c.totp = true }

func TestTOTPLoginNeedsCode(t *testing.T) {
	forEachFactorKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withTOTP)
		recovery := k.enrolTOTP("alice")

		r := k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW})
		expect(t, r, 401, "mfa_required")
		if got := r.Header().Values("WWW-Authenticate"); len(got) == 0 {
			t.Error("mfa_required without a WWW-Authenticate challenge")
		}
		if m, _ := r.body["methods"].([]any); len(m) != 2 || m[0] != "totp" || m[1] != "recovery_code" {
			t.Errorf("methods = %v", r.body["methods"])
		}
		if r.body["expires_in"] != float64(300) {
			t.Errorf("expires_in = %v", r.body["expires_in"])
		}
		ticket := r.str("mfa_ticket")

		// A wrong code leaves the ticket usable; the right one completes.
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": "000000"}), 401, "invalid_code")
		code := k.code("alice")
		ok := k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": code})
		expect(t, ok, 200, "")
		if ok.str("access_token") == "" || !strings.HasPrefix(ok.str("refresh_token"), "rt3.") {
			t.Fatalf("tokens: %s", ok.Body)
		}
		expect(t, k.do("GET", "/api/me", nil, bearer(ok.str("access_token"))...), 200, "")
		expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": ok.str("refresh_token")}), 200, "")

		// The ticket is single use, and the code's time step too.
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": code}), 401, "invalid_grant")
		again := k.mfaLogin("alice", alicePW)
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": again, "code": code}), 401, "invalid_code")
		// A recovery code stands in for the code, once.
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": again, "code": recovery[0]}), 200, "")
		third := k.mfaLogin("alice", alicePW)
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": third, "code": recovery[0]}), 401, "invalid_code")

		// A wrong password never reaches the second factor; a user
		// without one logs in as before.
		expect(t, k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "wrong password"}), 401, "invalid_credentials")
		k.login("bob", bobPW)
	})
}

func TestTOTPTicketRefusals(t *testing.T) {
	k := newKit(t, withTOTP)
	k.enrolTOTP("alice")
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no ticket", map[string]string{"code": "123456"}, 400, "invalid_request"},
		{"no code", map[string]string{"mfa_ticket": "x"}, 400, "invalid_request"},
		{"garbage ticket", map[string]string{"mfa_ticket": "garbage", "code": "123456"}, 401, "invalid_grant"},
		{"unknown ticket", map[string]string{"mfa_ticket": strings.Repeat("A", 43), "code": "123456"}, 401, "invalid_grant"},
		{"ticket twice", `{"mfa_ticket":"x","mfa_ticket":"y","code":"1"}`, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, k.do("POST", "/auth/mfa", tc.body), tc.status, tc.code) })
	}

	t.Run("expired", func(t *testing.T) {
		ticket := k.mfaLogin("alice", alicePW)
		k.clock.Advance(5*time.Minute + time.Second)
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": k.code("alice")}), 401, "invalid_grant")
	})
	t.Run("password changed meanwhile", func(t *testing.T) {
		k.clock.Advance(mfa.Period)
		ticket := k.mfaLogin("alice", alicePW)
		if err := k.auth.Accounts().SetPassword(context.Background(), "alice", "a new password 1"); err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": k.code("alice")}), 401, "invalid_grant")
	})
}

// TestTOTPGuessesThrottled: wrong codes are counted per ticket (5) and per
// account (20); past them the answer is 429 with Retry-After, right code
// or not.
func TestTOTPGuessesThrottled(t *testing.T) {
	k := newKit(t, withTOTP)
	k.enrolTOTP("alice")
	ticket := k.mfaLogin("alice", alicePW)
	for i := range 5 {
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": "00000" + string(rune('0'+i))}), 401, "invalid_code")
	}
	r := k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": k.code("alice")})
	expect(t, r, 429, "too_many_attempts")
	if r.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	// Across tickets, the account's limit holds: 15 more wrong codes on
	// fresh tickets, then even a fresh ticket with the right code is 429.
	for i := 0; i < 15; i++ {
		tk := k.mfaLogin("alice", alicePW)
		expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": tk, "code": "999999"}), 401, "invalid_code")
	}
	tk := k.mfaLogin("alice", alicePW)
	expect(t, k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": tk, "code": k.code("alice")}), 429, "too_many_attempts")
}

// TestTOTPBasicAndOAuthRefused: HTTP Basic and the OAuth password grant
// cannot carry a code, so a user with a second factor gets no access
// through them (the OAuth answer is RFC 6749's invalid_grant).
func TestTOTPBasicAndOAuthRefused(t *testing.T) {
	k := newKit(t, withTOTP)
	k.enrolTOTP("alice")
	r := k.do("GET", "/api/me", nil, "Authorization", "Basic "+b64std("alice:"+alicePW))
	expect(t, r, 401, "mfa_required")
	if r.str("mfa_ticket") != "" {
		t.Errorf("Basic got a ticket: %s", r.Body)
	}
	expect(t, k.do("GET", "/api/me", nil, "Authorization", "Basic "+b64std("bob:"+bobPW)), 200, "")

	o := k.doCT("POST", "/oauth/token", "grant_type=password&username=alice&password="+alicePW, "application/x-www-form-urlencoded")
	if o.Code != 400 || o.str("error") != "invalid_grant" {
		t.Fatalf("OAuth password grant with a second factor: %d %s", o.Code, o.Body)
	}
}

// TestTOTPEnrolConfirmDisable drives the factor's life through its routes:
// enrol (pending, not yet asked at login), confirm with a first code
// (recovery codes shown once), login asks for a code, disable with the
// password and a code ends the other sessions and hands out a new one.
func TestTOTPEnrolConfirmDisable(t *testing.T) {
	forEachFactorKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withTOTP)
		other := k.login("bob", bobPW)
		tok := k.login("bob", bobPW)
		auth := bearer(tok.AccessToken)

		e := k.do("POST", "/auth/totp/enroll", nil, auth...)
		expect(t, e, 200, "")
		if !strings.HasPrefix(e.str("uri"), "otpauth://totp/") || e.str("secret") == "" || len(e.str("qr_png")) < 100 {
			t.Fatalf("enrolment: %s", e.Body)
		}
		k.login("bob", bobPW) // pending: not asked yet

		expect(t, k.do("POST", "/auth/totp/confirm", map[string]string{"code": "000000"}, auth...), 401, "invalid_code")
		cf := k.do("POST", "/auth/totp/confirm", map[string]string{"code": k.code("bob")}, auth...)
		expect(t, cf, 200, "")
		if codes, _ := cf.body["recovery_codes"].([]any); len(codes) != mfa.RecoveryCodeCount {
			t.Fatalf("recovery codes: %s", cf.Body)
		}
		// Now that bob has a factor, changing factors needs a session that
		// used one: the password session that enrolled gets step-up.
		expect(t, k.do("POST", "/auth/totp/enroll", nil, auth...), 401, "step_up_required")
		k.clock.Advance(mfa.Period)
		ticket := k.mfaLogin("bob", bobPW)
		strong := k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": k.code("bob")})
		expect(t, strong, 200, "")
		mfaAuth := bearer(strong.str("access_token"))
		expect(t, k.do("POST", "/auth/totp/enroll", nil, mfaAuth...), 409, "totp_enrolled")
		expect(t, k.do("POST", "/auth/totp/confirm", map[string]string{"code": "123456"}, mfaAuth...), 409, "totp_enrolled")
		k.clock.Advance(mfa.Period)
		// Disabling asks for the password and a code instead: the
		// password session may do it.

		expect(t, k.do("POST", "/auth/totp/disable", map[string]string{"password": "wrong password", "code": k.code("bob")}, auth...), 401, "invalid_credentials")
		expect(t, k.do("POST", "/auth/totp/disable", map[string]string{"password": bobPW, "code": "000000"}, auth...), 401, "invalid_code")
		d := k.do("POST", "/auth/totp/disable", map[string]string{"password": bobPW, "code": k.code("bob")}, auth...)
		expect(t, d, 200, "")
		// The other sessions ended; the caller got a new one.
		expect(t, k.do("GET", "/api/me", nil, bearer(other.AccessToken)...), 401, "invalid_token")
		expect(t, k.do("GET", "/api/me", nil, mfaAuth...), 401, "invalid_token")
		expect(t, k.do("GET", "/api/me", nil, bearer(d.str("access_token"))...), 200, "")
		k.login("bob", bobPW)
		expect(t, k.do("POST", "/auth/totp/confirm", map[string]string{"code": "123456"}, bearer(d.str("access_token"))...), 409, "totp_not_pending")
	})
}

// TestTOTPStepUp: a password session meets no step-up rule; one that
// completed the second factor does (its refreshed tokens and its cookie
// too) until the rule's maximum age has passed since the code; a client
// cannot raise its cookie's amr.
func TestTOTPStepUp(t *testing.T) {
	forEachFactorKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withTOTP)
		pwd := k.login("alice", alicePW) // before the factor: a password session
		k.enrolTOTP("alice")
		r := k.do("GET", "/api/step-up", nil, bearer(pwd.AccessToken)...)
		expect(t, r, 401, "step_up_required")
		if ch := r.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_user_authentication"`) || !strings.Contains(ch, "max_age=300") {
			t.Errorf("challenge = %q", ch)
		}

		ticket := k.mfaLogin("alice", alicePW)
		ok := k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": k.code("alice")})
		expect(t, ok, 200, "")
		expect(t, k.do("GET", "/api/step-up", nil, bearer(ok.str("access_token"))...), 200, "")
		k.clock.Advance(time.Minute)
		ref := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": ok.str("refresh_token")})
		expect(t, ref, 200, "")
		expect(t, k.do("GET", "/api/step-up", nil, bearer(ref.str("access_token"))...), 200, "")
		k.clock.Advance(5 * time.Minute)
		ref = k.do("POST", "/auth/refresh", map[string]string{"refresh_token": ref.str("refresh_token")})
		expect(t, k.do("GET", "/api/step-up", nil, bearer(ref.str("access_token"))...), 401, "step_up_required")

		// The browser's session cookie carries the factor too.
		k.clock.Advance(mfa.Period)
		r = k.do("POST", "/auth/login", map[string]any{"username": "alice", "password": alicePW, "cookie": true})
		expect(t, r, 401, "mfa_required")
		ck := k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": r.str("mfa_ticket"), "code": k.code("alice")})
		expect(t, ck, 200, "")
		cookie := cookieValue(ck, "__Host-authkit_session")
		if cookie == "" {
			t.Fatalf("no session cookie: %v", ck.Header())
		}
		sess := "__Host-authkit_session=" + cookie
		expect(t, k.do("GET", "/api/step-up", nil, "Cookie", sess), 200, "")
		// A cookie whose context was changed by hand (here its auth_time
		// moved an hour later, to outlive a step-up's maximum age) under
		// the original tag is refused; one without a context (set before
		// cookies carried one) is a password session.
		parts := strings.Split(cookie, ".")
		methods, at, _ := strings.Cut(parts[2], "-")
		later, err := strconv.ParseInt(at, 10, 64)
		if err != nil || methods != "19" {
			t.Fatalf("cookie context %q, want 19-<unix time> (pwd, otp, mfa)", parts[2])
		}
		forged := strings.Join([]string{parts[0], parts[1], methods + "-" + strconv.FormatInt(later+3600, 10), parts[3]}, ".")
		expect(t, k.do("GET", "/api/me", nil, "Cookie", "__Host-authkit_session="+forged), 401, "invalid_token")
		old := "__Host-authkit_session=" + parts[0] + "." + parts[1]
		expect(t, k.do("GET", "/api/me", nil, "Cookie", old), 200, "")
		expect(t, k.do("GET", "/api/step-up", nil, "Cookie", old), 401, "step_up_required")
	})
}

// TestSecondFactorStoreDown: when the store stops answering between the
// password and the code, the second step (and a password login of a user
// with a factor) is 503 with Retry-After, never 401 or 200; once it
// answers again, the ticket still completes the login.
func TestSecondFactorStoreDown(t *testing.T) {
	srv := testredis.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	k := newKitOn(t, rdb, "mfa-down:", withTOTP, func(c *kitConfig) { c.StoreTimeout = 300 * time.Millisecond })
	k.enrolTOTP("alice")
	ticket := k.mfaLogin("alice", alicePW)
	code := k.code("alice")

	// CLIENT PAUSE ALL stalls every command on this private server: the
	// store does not answer within its 300 ms.
	if err := rdb.Do(t.Context(), "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []resp{
		k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": code}),
		k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW}),
	} {
		expect(t, r, 503, "unavailable")
		if r.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	if err := rdb.Do(t.Context(), "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	var r resp
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r = k.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": code}); r.Code != 503 {
			break
		}
	}
	expect(t, r, 200, "")
}
