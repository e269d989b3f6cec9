package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

func basicAuth(user, pw string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}
}

func cookiesOf(r reply) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		out[c.Name] = c
	}
	return out
}

// forgeExpired returns an access token for the session of tok, signed with
// the demo's key but issued an hour ago: expired, on a live session.
func forgeExpired(t *testing.T, tok string, opts ...tokens.Option) string {
	t.Helper()
	key, err := tokens.NewHMACKey(tokenKeyID, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	common := []tokens.Option{tokens.WithIssuer(tokenIssuer), tokens.WithAudience(tokenAudience)}
	ver, err := tokens.NewVerifier([]*tokens.Key{key}, common...)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ver.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	iss, err := tokens.NewIssuer(key, append(append(common, tokens.WithTTL(time.Minute), tokens.WithClock(past)), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := iss.Issue(claims.Subject, claims.SessionID, claims.Roles)
	if err != nil {
		t.Fatal(err)
	}
	return forged
}

// sessionID returns the full session handle of an access token as logs
// and the CLI print it (hex, like store.Digest), to check that only its
// prefix ever reaches them.
func sessionID(t *testing.T, tok string) string {
	t.Helper()
	key, _ := tokens.NewHMACKey(tokenKeyID, []byte(testSecret))
	opts := []tokens.Option{tokens.WithIssuer(tokenIssuer), tokens.WithAudience(tokenAudience)}
	ver, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ver.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(claims.SessionID)
	if err != nil || len(raw) != len(store.Digest{}) {
		t.Fatalf("sid claim %q is not base64url of a session handle: %v", claims.SessionID, err)
	}
	return store.Digest(raw).String()
}

// TestEndToEnd builds the demo, runs it as a separate process on the test
// Redis (AUTHKIT_TEST_REDIS, or an in-process miniredis when unset; see
// testredis) with its own key prefix, creates users with the CLI, and
// walks the route table over real HTTP: the steps of e2eSteps, in order,
// on one shared fixture.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	t.Logf("Redis backend: %s", testredis.Backend())
	e := newE2E(t)
	for _, s := range e2eSteps {
		t.Run(s.name, func(t *testing.T) { s.run(t, e) })
	}
	if t.Failed() {
		t.Logf("demo log:\n%s", e.srv.Stderr.String())
	}
}

// e2e is the fixture the steps share: the demo binary, its environment,
// the users' passwords, the demo process every step but the first two
// talks to (the CLI reads and writes the same Redis), and what earlier
// steps leave for later ones.
type e2e struct {
	bin string
	env map[string]string
	pw  map[string]string
	srv *demotest.Process
	c   *client // reports to TestEndToEnd; a step uses e.client(t)

	// Sessions logged in by one step and used by later ones.
	alice, bob, carol tokensPair
	// secrets is every credential seen, none of which may be logged.
	secrets []string
}

func newE2E(t *testing.T) *e2e {
	bin := demotest.Build(t)
	redisURL, prefix := testRedis(t)
	e := &e2e{
		bin: bin,
		env: map[string]string{
			envRedisURL: redisURL, envRedisPrefix: prefix, envSecret: testSecret,
			envBcryptCost: "4", envRealm: "e2e", envAccessTTL: "5m", envRefreshTTL: "2h",
		},
		pw: map[string]string{"alice": "alice-password-1", "bob": "bob-password-12", "carol": "carol-password-123",
			"dave": "dave-password-1234", "frank": "frank-password-1"},
	}
	for _, p := range e.pw {
		e.secrets = append(e.secrets, p)
	}
	e.srv = demotest.Start(t, bin, e.env)
	e.c = newClient(t, e.srv.URL)
	return e
}

// client returns a client of the demo that reports to t.
func (e *e2e) client(t *testing.T) *client { return e.c.with(t) }

// keep records credentials that must never reach the log.
func (e *e2e) keep(secrets ...string) { e.secrets = append(e.secrets, secrets...) }

// e2eSteps are the steps of TestEndToEnd, in the order they run: each
// may rely on what the steps before it did.
var e2eSteps = []struct {
	name string
	run  func(t *testing.T, e *e2e)
}{
	{"CLI creates users", stepCreateUsers},
	{"SIGINT stops gracefully", stepSIGINT},
	{"healthz", stepHealthz},
	{"page", stepPage},
	{"401 authentication_required lists Bearer and Basic", stepAuthenticationRequired},
	{"400 and 413 invalid_request", stepInvalidRequest},
	{"401 invalid_credentials", stepInvalidCredentials},
	{"200 login, token pair in RFC 6749 shape", stepLogin},
	{"roles: 200 and 403 forbidden", stepRoles},
	{"Basic", stepBasic},
	{"401 invalid_token", stepInvalidToken},
	{"401 token_expired", stepTokenExpired},
	{"refresh rotation and reuse", stepRefresh},
	{"logout", stepLogout},
	{"logout-all", stepLogoutAll},
	{"cookies and CSRF", stepCookies},
	{"429 too_many_attempts", stepTooManyAttempts},
	{"CLI changes take effect at once", stepCLIChanges},
	{"503 unavailable when Redis is down", stepRedisDown},
	{"stats and reports count requests", stepStats},
	{"stop and logs", stepLogs},
}

func stepCreateUsers(t *testing.T, e *e2e) {
	for _, u := range []struct{ name, roles string }{{"alice", "admin,user"}, {"bob", "user"}, {"carol", "analyst"}, {"dave", "user"}, {"frank", "user"}} {
		out, errOut, code := demotest.Run(t, e.bin, e.env, e.pw[u.name]+"\n", "useradd", "--username", u.name, "--roles", u.roles, "--password-stdin")
		if code != 0 || !strings.Contains(out, "created user "+u.name) {
			t.Fatalf("useradd %s: exit %d\n%s%s", u.name, code, out, errOut)
		}
	}
	_, errOut, code := demotest.Run(t, e.bin, e.env, "whatever-pass", "useradd", "--username", "alice", "--password-stdin")
	if code != exitExists || !strings.Contains(errOut, `user "alice" already exists`) {
		t.Fatalf("duplicate: exit %d, %s", code, errOut)
	}
	_, errOut, code = demotest.Run(t, e.bin, e.env, strings.Repeat("x", 73), "useradd", "--username", "eve", "--password-stdin")
	if code != exitRejected || !strings.Contains(errOut, "at most 72 bytes") {
		t.Fatalf("73 bytes: exit %d, %s", code, errOut)
	}
	_, errOut, code = demotest.Run(t, e.bin, e.env, "", "sessions", "--username", "nobody")
	if code != exitNoUser {
		t.Fatalf("unknown user: exit %d, %s", code, errOut)
	}
	down := map[string]string{envRedisURL: "redis://127.0.0.1:1/0"}
	_, errOut, code = demotest.Run(t, e.bin, down, "", "revoke", "--username", "alice")
	if code != exitFailure || !strings.Contains(errOut, "cannot reach Redis at 127.0.0.1:1") {
		t.Fatalf("unreachable Redis: exit %d, %s", code, errOut)
	}
}

// Ctrl-C (SIGINT) stops gracefully too; a short-lived process in
// memory mode shows it. The main process stops on SIGTERM in stepLogs.
func stepSIGINT(t *testing.T, e *e2e) {
	p := demotest.Start(t, e.bin, map[string]string{envBcryptCost: "4"})
	p.StopWith(t, os.Interrupt)
}

func stepHealthz(t *testing.T, e *e2e) {
	c := e.client(t)
	r := c.do("GET", "/healthz", nil)
	expectStatus(t, r, 200, "")
	if r.str("status") != "ok" {
		t.Fatalf("body %s", r.raw)
	}
}

func stepPage(t *testing.T, e *e2e) {
	c := e.client(t)
	r := c.do("GET", "/", nil)
	if r.status != 200 || !strings.Contains(r.raw, `id="login-form"`) {
		t.Fatalf("GET / = %d", r.status)
	}
}

func stepAuthenticationRequired(t *testing.T, e *e2e) {
	c := e.client(t)
	for _, path := range []string{"/api/me", "/api/admin/stats", "/api/reports"} {
		r := c.do("GET", path, nil)
		expectStatus(t, r, 401, "authentication_required")
		got := r.header.Values("WWW-Authenticate")
		want := []string{`Bearer realm="e2e"`, `Basic realm="e2e", charset="UTF-8"`}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("challenges %q, want %q", got, want)
		}
	}
	expectStatus(t, c.do("POST", "/auth/logout", nil), 401, "authentication_required")
	expectStatus(t, c.do("POST", "/auth/logout-all", nil), 401, "authentication_required")
	// An unknown scheme counts as no credentials.
	expectStatus(t, c.do("GET", "/api/me", nil, "Authorization", "Digest abc"), 401, "authentication_required")
}

func stepInvalidRequest(t *testing.T, e *e2e) {
	c := e.client(t)
	r := c.do("GET", "/api/me", nil, "Authorization", "Bearer ")
	expectStatus(t, r, 400, "invalid_request")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Fatalf("challenge %q", r.header.Get("WWW-Authenticate"))
	}
	expectStatus(t, c.do("GET", "/api/me", nil, "Authorization", "Basic %%%"), 400, "invalid_request")
	expectStatus(t, c.do("POST", "/auth/login", "not json"), 400, "invalid_request")
	expectStatus(t, c.do("POST", "/auth/login", map[string]string{"username": "alice"}), 400, "invalid_request")
	expectStatus(t, c.do("POST", "/auth/refresh", "{}"), 400, "invalid_request")
	// Bodies over 8 KiB are refused as too large, before any password
	// check.
	expectStatus(t, c.do("POST", "/auth/login", `{"username":"alice","password":"`+strings.Repeat("a", 9000)+`"}`), 413, "invalid_request")
}

func stepInvalidCredentials(t *testing.T, e *e2e) {
	c := e.client(t)
	wrong := c.do("POST", "/auth/login", map[string]string{"username": "alice", "password": "wrong-password"})
	unknown := c.do("POST", "/auth/login", map[string]string{"username": "nobody", "password": "wrong-password"})
	expectStatus(t, wrong, 401, "invalid_credentials")
	expectStatus(t, unknown, 401, "invalid_credentials")
	if wrong.raw != unknown.raw {
		t.Fatalf("unknown user and wrong password must look alike: %s vs %s", wrong.raw, unknown.raw)
	}
	expectStatus(t, c.do("GET", "/api/me", nil, basicAuth("alice", "wrong-password")...), 401, "invalid_credentials")
}

func stepLogin(t *testing.T, e *e2e) {
	c := e.client(t)
	r := c.do("POST", "/auth/login", map[string]string{"username": "alice", "password": e.pw["alice"]})
	expectStatus(t, r, 200, "")
	if r.str("token_type") != "Bearer" || r.body["expires_in"] != 300.0 || r.str("access_token") == "" || r.str("refresh_token") == "" || !strings.HasPrefix(r.str("device_token"), "dv1.") || len(r.body) != 5 {
		t.Fatalf("body %s", r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	e.alice = tokensPair{r.str("access_token"), r.str("refresh_token")}
	e.bob = pairOf(c.login("bob", e.pw["bob"]))
	e.carol = pairOf(c.login("carol", e.pw["carol"]))
	e.keep(e.alice.access, e.alice.refresh, e.bob.access, e.bob.refresh, e.carol.access, e.carol.refresh, sessionID(t, e.alice.access))
}

func stepRoles(t *testing.T, e *e2e) {
	tests := []struct {
		who        string
		tok        string
		path       string
		status     int
		code, body string
	}{
		{"alice", e.alice.access, "/api/me", 200, "", `{"roles":["admin","user"],"username":"alice"}`},
		{"alice", e.alice.access, "/api/admin/stats", 200, "", ""},
		{"alice", e.alice.access, "/api/reports", 200, "", ""},
		{"bob", e.bob.access, "/api/me", 200, "", `{"roles":["user"],"username":"bob"}`},
		{"bob", e.bob.access, "/api/admin/stats", 403, "forbidden", ""},
		{"bob", e.bob.access, "/api/reports", 403, "forbidden", ""},
		{"carol", e.carol.access, "/api/admin/stats", 403, "forbidden", ""},
		{"carol", e.carol.access, "/api/reports", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.who+" "+tt.path, func(t *testing.T) {
			c := e.client(t)
			r := c.do("GET", tt.path, nil, bearer(tt.tok)...)
			expectStatus(t, r, tt.status, tt.code)
			if tt.body != "" && r.raw != tt.body {
				t.Fatalf("body %s, want %s", r.raw, tt.body)
			}
			if tt.status == 403 && r.header.Get("WWW-Authenticate") != `Bearer realm="e2e", error="insufficient_scope"` {
				t.Fatalf("challenge %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func stepBasic(t *testing.T, e *e2e) {
	c := e.client(t)
	r := c.do("GET", "/api/me", nil, basicAuth("alice", e.pw["alice"])...)
	expectStatus(t, r, 200, "")
	if r.str("username") != "alice" {
		t.Fatalf("body %s", r.raw)
	}
	expectStatus(t, c.do("GET", "/api/admin/stats", nil, basicAuth("bob", e.pw["bob"])...), 403, "forbidden")
	expectStatus(t, c.do("GET", "/api/reports", nil, basicAuth("carol", e.pw["carol"])...), 200, "")
}

func stepInvalidToken(t *testing.T, e *e2e) {
	c := e.client(t)
	expectStatus(t, c.do("GET", "/api/me", nil, bearer("garbage")...), 401, "invalid_token")
	forged := forgeExpired(t, e.alice.access, tokens.WithAudience("another-api"))
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(forged)...), 401, "invalid_token")
}

func stepTokenExpired(t *testing.T, e *e2e) {
	c := e.client(t)
	expired := forgeExpired(t, e.alice.access)
	r := c.do("GET", "/api/me", nil, bearer(expired)...)
	expectStatus(t, r, 401, "token_expired")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("challenge %q", r.header.Get("WWW-Authenticate"))
	}
}

func stepRefresh(t *testing.T, e *e2e) {
	c := e.client(t)
	refresh := func(tok string) reply {
		return c.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok})
	}
	r := refresh(e.alice.refresh)
	expectStatus(t, r, 200, "")
	next := tokensPair{r.str("access_token"), r.str("refresh_token")}
	if next.refresh == e.alice.refresh || !strings.HasPrefix(next.refresh, "rt3.") || r.str("token_type") != "Bearer" {
		t.Fatalf("refresh did not rotate: %s", r.raw)
	}
	e.keep(next.access, next.refresh)
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(next.access)...), 200, "")
	// A retry of the same refresh within the grace period (a lost
	// answer, two tabs) converges on the same successor.
	r = refresh(e.alice.refresh)
	expectStatus(t, r, 200, "")
	if r.str("refresh_token") != next.refresh {
		t.Fatalf("a retried refresh must return the same successor: %s", r.raw)
	}
	e.keep(r.str("access_token"))
	r = refresh(next.refresh)
	expectStatus(t, r, 200, "")
	third := tokensPair{r.str("access_token"), r.str("refresh_token")}
	e.keep(third.access, third.refresh)
	// Reuse of a token rotated away twice: invalid_grant with a
	// challenge, and the whole session is revoked, the newest pair
	// included.
	r = refresh(e.alice.refresh)
	expectStatus(t, r, 401, "invalid_grant")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer realm="e2e", error="invalid_token"`) {
		t.Fatalf("refresh 401 challenge %q", r.header.Values("WWW-Authenticate"))
	}
	expectStatus(t, refresh(third.refresh), 401, "invalid_grant")
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(third.access)...), 401, "invalid_token")
	expectStatus(t, refresh("garbage"), 401, "invalid_grant")
	e.alice = pairOf(c.login("alice", e.pw["alice"]))
	e.keep(e.alice.access, e.alice.refresh)
}

func stepLogout(t *testing.T, e *e2e) {
	c := e.client(t)
	s := pairOf(c.login("bob", e.pw["bob"]))
	e.keep(s.access, s.refresh)
	r := c.do("POST", "/auth/logout", nil, bearer(s.access)...)
	expectStatus(t, r, 204, "")
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(s.access)...), 401, "invalid_token")
	// Logout is idempotent: the same token again, or an expired one of
	// the same session, is 204 too.
	expectStatus(t, c.do("POST", "/auth/logout", nil, bearer(s.access)...), 204, "")
	expectStatus(t, c.do("POST", "/auth/logout", nil, bearer(forgeExpired(t, s.access))...), 204, "")
	expectStatus(t, c.do("POST", "/auth/refresh", map[string]string{"refresh_token": s.refresh}), 401, "invalid_grant")
	// bob's other session lives on.
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(e.bob.access)...), 200, "")
}

func stepLogoutAll(t *testing.T, e *e2e) {
	c := e.client(t)
	second := pairOf(c.login("alice", e.pw["alice"]))
	e.keep(second.access, second.refresh)
	out, _, code := demotest.Run(t, e.bin, e.env, "", "sessions", "--username", "alice")
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("sessions: want a header and 2 sessions:\n%s", out)
	}
	sid := sessionID(t, e.alice.access)
	if !strings.Contains(out, sid[:8]+"…") || strings.Contains(out, sid[:9]) {
		t.Fatalf("sessions must show the 8-digit prefix of %s only:\n%s", sid, out)
	}
	expectStatus(t, c.do("POST", "/auth/logout-all", nil, bearer(second.access)...), 204, "")
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(e.alice.access)...), 401, "invalid_token")
	expectStatus(t, c.do("POST", "/auth/refresh", map[string]string{"refresh_token": e.alice.refresh}), 401, "invalid_grant")
	out, _, _ = demotest.Run(t, e.bin, e.env, "", "sessions", "--username", "alice")
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("sessions after logout-all:\n%s", out)
	}
}

func stepCookies(t *testing.T, e *e2e) {
	c := e.client(t)
	login := func() (session, csrf *http.Cookie, token string) {
		r := c.do("POST", "/auth/login", map[string]any{"username": "bob", "password": e.pw["bob"], "cookie": true})
		expectStatus(t, r, 200, "")
		if _, ok := r.body["access_token"]; ok || r.str("csrf_token") == "" || r.body["expires_in"] != 7200.0 {
			t.Fatalf("cookie login body %s", r.raw)
		}
		ck := cookiesOf(r)
		session, csrf = ck["authkit_session"], ck["authkit_csrf"]
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure on loopback", session)
		}
		if csrf == nil || csrf.HttpOnly || csrf.Value != r.str("csrf_token") {
			t.Fatalf("csrf cookie %+v", csrf)
		}
		e.keep(session.Value, csrf.Value)
		return session, csrf, r.str("csrf_token")
	}
	session, _, token := login()
	again, _, _ := login()
	if again.Value == session.Value {
		t.Fatal("a new session id must be issued at every login")
	}
	cookie := []string{"Cookie", "authkit_session=" + session.Value}
	expectStatus(t, c.do("GET", "/api/me", nil, cookie...), 200, "")
	expectStatus(t, c.do("GET", "/api/admin/stats", nil, cookie...), 403, "forbidden")
	expectStatus(t, c.do("POST", "/auth/logout", nil, cookie...), 403, "csrf_failed")
	expectStatus(t, c.do("POST", "/auth/logout", nil, append(cookie, "X-CSRF-Token", "wrong")...), 403, "csrf_failed")
	r := c.do("POST", "/auth/logout", nil, append(cookie, "X-CSRF-Token", token)...)
	expectStatus(t, r, 204, "")
	if ck := cookiesOf(r)["authkit_session"]; ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("logout must clear the session cookie: %+v", ck)
	}
	expectStatus(t, c.do("GET", "/api/me", nil, cookie...), 401, "invalid_token")
	// A second logout with the same cookie is 204 again.
	expectStatus(t, c.do("POST", "/auth/logout", nil, append(cookie, "X-CSRF-Token", token)...), 204, "")
	// A cross-site browser request is refused before anything else.
	expectStatus(t, c.do("POST", "/auth/login", map[string]any{"username": "bob", "password": e.pw["bob"], "cookie": true},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), 403, "csrf_failed")
}

// Five wrong passwords for one user from one client lock that pair:
// the sixth attempt is 429 before any password check, even with the
// right password, and so is HTTP Basic.
func stepTooManyAttempts(t *testing.T, e *e2e) {
	c := e.client(t)
	login := func(password string) reply {
		return c.do("POST", "/auth/login", map[string]string{"username": "frank", "password": password})
	}
	for i := range 5 {
		expectStatus(t, login(fmt.Sprintf("wrong-password-%d", i)), 401, "invalid_credentials")
	}
	for name, r := range map[string]reply{
		"login, right password": login(e.pw["frank"]),
		"Basic, right password": c.do("GET", "/api/me", nil, basicAuth("frank", e.pw["frank"])...),
		// The same account whatever the case: the same counters.
		"Basic as Frank": c.do("GET", "/api/me", nil, basicAuth("Frank", e.pw["frank"])...),
	} {
		expectStatus(t, r, 429, "too_many_attempts")
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 || n > 30 {
			t.Fatalf("%s: Retry-After %q, want 1 to 30 seconds", name, r.header.Get("Retry-After"))
		}
	}
	// Another user from the same client is not locked.
	expectStatus(t, c.do("GET", "/api/me", nil, basicAuth("carol", e.pw["carol"])...), 200, "")
}

func stepCLIChanges(t *testing.T, e *e2e) {
	c := e.client(t)
	// Roles come from the session: bob's token sees analyst at once.
	if _, errOut, code := demotest.Run(t, e.bin, e.env, "", "roles", "--username", "bob", "--set", "user,analyst"); code != 0 {
		t.Fatal(errOut)
	}
	expectStatus(t, c.do("GET", "/api/reports", nil, bearer(e.bob.access)...), 200, "")
	// Disabling ends sessions and logins; enabling allows logins again.
	dave := pairOf(c.login("dave", e.pw["dave"]))
	e.keep(dave.access, dave.refresh)
	if _, errOut, code := demotest.Run(t, e.bin, e.env, "", "disable", "--username", "dave"); code != 0 {
		t.Fatal(errOut)
	}
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(dave.access)...), 401, "invalid_token")
	expectStatus(t, c.do("POST", "/auth/login", map[string]string{"username": "dave", "password": e.pw["dave"]}), 401, "invalid_credentials")
	expectStatus(t, c.do("GET", "/api/me", nil, basicAuth("dave", e.pw["dave"])...), 401, "invalid_credentials")
	if _, errOut, code := demotest.Run(t, e.bin, e.env, "", "disable", "--username", "dave", "--enable"); code != 0 {
		t.Fatal(errOut)
	}
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(dave.access)...), 401, "invalid_token")
	c.login("dave", e.pw["dave"])
	// A new password revokes every session; the old one stops working.
	if _, errOut, code := demotest.Run(t, e.bin, e.env, "bob-new-password\n", "passwd", "--username", "bob", "--password-stdin"); code != 0 {
		t.Fatal(errOut)
	}
	e.keep("bob-new-password")
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(e.bob.access)...), 401, "invalid_token")
	expectStatus(t, c.do("POST", "/auth/login", map[string]string{"username": "bob", "password": e.pw["bob"]}), 401, "invalid_credentials")
	e.bob = pairOf(c.login("bob", "bob-new-password"))
	e.keep(e.bob.access, e.bob.refresh)
	// revoke ends every session of a user.
	if out, errOut, code := demotest.Run(t, e.bin, e.env, "", "revoke", "--username", "bob"); code != 0 || !strings.Contains(out, "(1 were live)") {
		t.Fatalf("revoke: %d %s%s", code, out, errOut)
	}
	expectStatus(t, c.do("GET", "/api/me", nil, bearer(e.bob.access)...), 401, "invalid_token")
}

func stepRedisDown(t *testing.T, e *e2e) {
	hole := testredis.NewBlackhole(t)
	for name, url := range map[string]string{"closed port": "redis://" + closedPort(t) + "/0", "no answer": "redis://" + hole.Addr + "/0"} {
		t.Run(name, func(t *testing.T) {
			down := map[string]string{envRedisURL: url, envSecret: testSecret, envBcryptCost: "4"}
			p := demotest.Start(t, e.bin, down)
			// stdout and stderr are copied by separate goroutines: the
			// warning may arrive after the "listening" line.
			p.Stderr.WaitMatch(t, regexp.MustCompile(`redis does not answer yet`), 5*time.Second)
			dc := newClient(t, p.URL)
			start := time.Now()
			r := dc.do("GET", "/healthz", nil)
			expectStatus(t, r, 503, "unavailable")
			if r.header.Get("Retry-After") != "5" {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("503 took %v; the store timeout is 300ms", d)
			}
			expectStatus(t, dc.do("POST", "/auth/login", map[string]string{"username": "alice", "password": e.pw["alice"]}), 503, "unavailable")
			expectStatus(t, dc.do("GET", "/api/me", nil, basicAuth("alice", e.pw["alice"])...), 503, "unavailable")
			expectStatus(t, dc.do("GET", "/api/me", nil, bearer(e.carol.access)...), 503, "unavailable")
			p.Stop(t)
		})
	}
}

func stepStats(t *testing.T, e *e2e) {
	c := e.client(t)
	r := c.do("GET", "/api/admin/stats", nil, basicAuth("alice", e.pw["alice"])...)
	expectStatus(t, r, 200, "")
	if r.str("store") != "redis" {
		t.Fatalf("stats %s", r.raw)
	}
	r = c.do("GET", "/api/reports", nil, basicAuth("alice", e.pw["alice"])...)
	expectStatus(t, r, 200, "")
	if logins := r.body["logins"].(map[string]any); logins["failed"].(float64) < 3 {
		t.Fatalf("reports %s", r.raw)
	}
}

// stepLogs stops the demo, which must stop gracefully on SIGTERM, and
// reads its log.
func stepLogs(t *testing.T, e *e2e) {
	e.srv.Stop(t)
	logs := e.srv.Stderr.String()
	for _, s := range e.secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Fatalf("a password, token or session id reached the log: %.12s…", s)
		}
	}
	for _, re := range []string{
		`msg=request method=GET path=/api/admin/stats status=403 duration=\S+ client=127\.0\.0\.1 principal\.user=bob principal\.scheme=Bearer`,
		`msg=request method=POST path=/auth/login status=401 `,
		`msg=request method=GET path=/api/me status=200 duration=\S+ client=127\.0\.0\.1 principal\.user=bob principal\.scheme=Cookie`,
		`msg="shutting down"`,
	} {
		if !regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("log lacks %s", re)
		}
	}
}

type tokensPair struct{ access, refresh string }

func pairOf(tr ginauth.TokenResponse) tokensPair { return tokensPair{tr.AccessToken, tr.RefreshToken} }
