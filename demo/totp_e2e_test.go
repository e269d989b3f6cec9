package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestTOTPWalkThrough is the README's TOTP walk-through over real HTTP,
// on a demo serving the test Redis, with the CLI on the same Redis giving
// the codes: a password-only session meets the step-up challenge; enrol
// and confirm; the login answers mfa_required and /auth/mfa completes it;
// that session passes step-up; a ticket is single use; a recovery code
// logs in once; disabling ends the sessions, and the password alone logs
// in again.
func TestTOTPWalkThrough(t *testing.T) {
	url, prefix := testRedis(t)
	env := map[string]string{envRedisURL: url, envRedisPrefix: prefix, envSecret: testSecret, envBcryptCost: "4"}
	expectRun(t, runDemo(t, env, "alice-password-1", "useradd", "--username", "alice", "--password-stdin"), exitOK, "created user alice")
	srv := startInProcess(t, env)
	c := newClient(t, srv.URL)
	password := map[string]string{"username": "alice", "password": "alice-password-1"}

	// A password-only session: step-up answers its RFC 9470 challenge.
	pwOnly := c.login("alice", "alice-password-1")
	r := c.do("GET", "/api/step-up", nil, bearer(pwOnly.AccessToken)...)
	expectStatus(t, r, 401, "step_up_required")
	challenge := strings.Join(r.header.Values("WWW-Authenticate"), "\n")
	for _, want := range []string{`error="insufficient_user_authentication"`, `acr_values="`, `max_age=300`, `error_description="`} {
		if !strings.Contains(challenge, want) {
			t.Fatalf("step-up challenge %q lacks %s", challenge, want)
		}
	}

	// Enrol and confirm with the CLI's test code.
	r = c.do("POST", "/auth/totp/enroll", "", bearer(pwOnly.AccessToken)...)
	secret := r.str("secret")
	if r.status != 200 || secret == "" || !strings.HasPrefix(r.str("uri"), "otpauth://totp/") || r.str("qr_png") == "" {
		t.Fatalf("enroll: %d %s", r.status, r.raw)
	}
	code := strings.TrimSpace(runDemo(t, env, "", "totp", "code", "--username", "alice", "--test").stdout)
	expectStatus(t, c.do("POST", "/auth/totp/confirm", map[string]string{"code": "000000x"}, bearer(pwOnly.AccessToken)...), 401, "invalid_code")
	r = c.do("POST", "/auth/totp/confirm", map[string]string{"code": code}, bearer(pwOnly.AccessToken)...)
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal([]byte(r.raw), &confirmed); r.status != 200 || err != nil || len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}

	// The password alone no longer logs in: 401 mfa_required and a ticket.
	login := func() string {
		t.Helper()
		r := c.do("POST", "/auth/login", password)
		expectStatusMFA(t, r)
		return r.str("mfa_ticket")
	}
	ticket := login()
	expectStatus(t, c.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": "12345"}), 401, "invalid_code")
	// The confirming code's time step is spent, so the login takes the
	// next step's code, which the one-step window accepts now.
	next, err := totp.GenerateCodeCustom(secret, time.Now().Add(30*time.Second), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	r = c.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": next})
	if r.status != 200 || !strings.HasPrefix(r.str("refresh_token"), "rt3.") {
		t.Fatalf("/auth/mfa: %d %s", r.status, r.raw)
	}
	mfaAccess := r.str("access_token")
	// The ticket was single use.
	expectStatus(t, c.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": ticket, "code": next}), 401, "invalid_grant")

	r = c.do("GET", "/api/step-up", nil, bearer(mfaAccess)...)
	var stepUp struct {
		Username string   `json:"username"`
		AMR      []string `json:"amr"`
		AuthTime string   `json:"auth_time"`
	}
	if err := json.Unmarshal([]byte(r.raw), &stepUp); r.status != 200 || err != nil || stepUp.Username != "alice" ||
		!slices.Equal(stepUp.AMR, []string{"pwd", "otp", "mfa"}) || stepUp.AuthTime == "" {
		t.Fatalf("step-up with the second factor: %d %s", r.status, r.raw)
	}
	// The password-only session lives on, still without step-up.
	expectStatus(t, c.do("GET", "/api/step-up", nil, bearer(pwOnly.AccessToken)...), 401, "step_up_required")

	// A recovery code logs in once.
	recovery := confirmed.RecoveryCodes[0]
	r = c.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": login(), "code": strings.ToUpper(recovery)})
	if r.status != 200 {
		t.Fatalf("recovery code: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/api/step-up", nil, bearer(r.str("access_token"))...); r.status != 200 {
		t.Fatalf("step-up after a recovery code: %d %s", r.status, r.raw)
	}
	expectStatus(t, c.do("POST", "/auth/mfa", map[string]string{"mfa_ticket": login(), "code": recovery}), 401, "invalid_code")
	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "alice"), exitOK, "alice: TOTP active, 9 recovery codes left")

	// Disable, with the password and another recovery code: every other
	// session ends, the answer is a new one, and the password alone logs
	// in again.
	expectStatus(t, c.do("POST", "/auth/totp/disable", map[string]string{"password": "wrong-password", "code": confirmed.RecoveryCodes[1]}, bearer(mfaAccess)...), 401, "invalid_credentials")
	r = c.do("POST", "/auth/totp/disable", map[string]string{"password": "alice-password-1", "code": confirmed.RecoveryCodes[1]}, bearer(mfaAccess)...)
	if r.status != 200 || r.str("access_token") == "" {
		t.Fatalf("disable: %d %s", r.status, r.raw)
	}
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(mfaAccess)...), 401, "invalid_token")
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(pwOnly.AccessToken)...), 401, "invalid_token")
	if r := c.do("GET", "/api/me", nil, bearer(r.str("access_token"))...); r.status != 200 {
		t.Fatalf("the session disable answered: %d %s", r.status, r.raw)
	}
	c.login("alice", "alice-password-1")
	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "alice"), exitOK, "alice: no TOTP factor")
	if logs := srv.stderr.String(); strings.Contains(logs, secret) || strings.Contains(logs, recovery) || strings.Contains(logs, ticket) {
		t.Fatalf("a secret, recovery code or ticket reached the log:\n%s", logs)
	}
}

// expectStatusMFA checks a login's 401 mfa_required answer: the error
// body with the ticket, the methods and the ticket's lifetime.
func expectStatusMFA(t *testing.T, r reply) {
	t.Helper()
	methods, _ := json.Marshal(r.body["methods"])
	if r.status != 401 || r.str("error") != "mfa_required" || len(r.str("mfa_ticket")) < 20 ||
		string(methods) != `["totp","recovery_code"]` || r.body["expires_in"] != float64(300) {
		t.Fatalf("login: %d %s, want 401 mfa_required with a ticket", r.status, r.raw)
	}
}
