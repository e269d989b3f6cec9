package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
)

// The demo's routes are its documented API: this is the README's table.
var wantRoutes = []string{
	"GET /  public",
	"HEAD /  public",
	"GET /.well-known/jwks.json  public",
	"GET /api/admin/stats  roles: admin",
	"GET /api/me  authenticated",
	"GET /api/reports  roles: admin|analyst",
	"GET /api/step-up  authenticated, mfa within 5m0s",
	"GET /auth/apikeys  authenticated",
	"POST /auth/apikeys  authenticated",
	"DELETE /auth/apikeys/:id  authenticated",
	"POST /auth/apikeys/:id/rotate  authenticated",
	"POST /auth/login  public",
	"POST /auth/logout  public",
	"POST /auth/logout-all  authenticated",
	"POST /auth/mfa  public",
	"GET /auth/passkeys  authenticated",
	"DELETE /auth/passkeys/:id  authenticated",
	"POST /auth/passkeys/login/begin  public",
	"POST /auth/passkeys/login/finish  public",
	"POST /auth/passkeys/register/begin  authenticated",
	"POST /auth/passkeys/register/finish  authenticated",
	"POST /auth/refresh  public",
	"POST /auth/totp/confirm  authenticated",
	"POST /auth/totp/disable  authenticated",
	"POST /auth/totp/enroll  authenticated",
	"GET /healthz  public",
	"HEAD /healthz  public",
	"POST /oauth/revoke  public",
	"POST /oauth/token  public",
}

func TestRoutes(t *testing.T) {
	a, _ := newTestApp(t)
	ginauthtest.AssertRoutesAnnotated(t, a.router)
	var got []string
	for _, r := range a.router.Routes() {
		got = append(got, r.String())
	}
	if strings.Join(got, "\n") != strings.Join(wantRoutes, "\n") {
		t.Fatalf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRoutes, "\n"))
	}
	if len(a.routes) != len(wantRoutes) {
		t.Fatalf("the page lists %d routes, want %d", len(a.routes), len(wantRoutes))
	}
}

// TestRoutesInREADME holds the README's route table to the router: one row
// per route, and each row's "who" column saying its rule (public routes
// "anyone" or "public", the roles by name, a second factor when the rule
// asks for one).
func TestRoutesInREADME(t *testing.T) {
	a, _ := newTestApp(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "\n## Demo routes\n")
	table, _, _ = strings.Cut(table, "\n\n")
	row := regexp.MustCompile("(?m)^\\| `([A-Z]+) (/[^`]*)`[^|]*\\| ([^|]+) \\|")
	who := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		who[m[1]+" "+m[2]] = m[3]
	}
	for _, r := range a.router.Routes() {
		key := r.Method + " " + r.Path
		w, ok := who[key]
		if !ok {
			t.Errorf("README route table has no row for %s", key)
			continue
		}
		delete(who, key)
		_, rule, _ := strings.Cut(r.String(), "  ")
		var want []string
		switch {
		case rule == "public":
			if !strings.HasPrefix(w, "anyone") && !strings.HasPrefix(w, "public") {
				t.Errorf("%s is public, README says %q", key, w)
			}
		case strings.HasPrefix(rule, "roles: "):
			roles := strings.TrimPrefix(rule, "roles: ")
			for _, role := range strings.Split(strings.Fields(roles)[0], "|") {
				want = append(want, "`"+role+"`")
			}
		default:
			want = append(want, "authenticated")
		}
		if strings.Contains(rule, "mfa") {
			want = append(want, "second factor")
		}
		for _, s := range want {
			if !strings.Contains(w, s) {
				t.Errorf("%s (%s): README says %q, which lacks %q", key, rule, w, s)
			}
		}
	}
	for key := range who {
		t.Errorf("README route table lists %s, which is no route", key)
	}
}

// serveTest sends one request to the app through httptest.
func serveTest(a *app, method, target string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	a.engine.ServeHTTP(w, req)
	return w
}

// The page runs its inline script and style under a fresh nonce, and the
// policy allows nothing else.
func TestPage(t *testing.T) {
	a, _ := newTestApp(t)
	w := serveTest(a, "GET", "/")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	csp := w.Header().Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{22})'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
	body := w.Body.String()
	if strings.Count(body, `nonce="`+m[1]+`"`) != 2 {
		t.Fatalf("the script and style must carry the nonce %s", m[1])
	}
	for _, id := range []string{`id="login-form"`, `id="call-me"`, `id="call-stats"`, `id="call-reports"`, `id="logout"`, "/api/admin/stats", "role admin or analyst"} {
		if !strings.Contains(body, id) {
			t.Errorf("page lacks %s", id)
		}
	}
	// Every input has a label, and results are announced as they come.
	for _, in := range regexp.MustCompile(`<input id="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(body, `<label for="`+in[1]+`">`) {
			t.Errorf("input %s has no label", in[1])
		}
	}
	for _, live := range []string{`<tbody aria-live="polite">`, `id="login-result" class="muted" aria-live="polite"`, `id="logout-result" class="muted" aria-live="polite"`} {
		if !strings.Contains(body, live) {
			t.Errorf("page lacks the live region %s", live)
		}
	}
	if w2 := serveTest(a, "GET", "/"); strings.Contains(w2.Header().Get("Content-Security-Policy"), m[1]) {
		t.Fatal("nonce reused across responses")
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if w.Header().Get(k) != v {
			t.Errorf("%s = %q", k, w.Header().Get(k))
		}
	}
}

// Scripts and curl see both challenges; the page's fetch calls see no
// Basic challenge, which would pop up the browser's password dialog.
func TestChallenges(t *testing.T) {
	a, _ := newTestApp(t)
	tests := []struct {
		name    string
		headers []string
		want    []string
	}{
		{"curl", nil, []string{`Bearer realm="authkit-demo"`, `Basic realm="authkit-demo", charset="UTF-8"`}},
		{"page", []string{"X-Requested-With", "fetch"}, []string{`Bearer realm="authkit-demo"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serveTest(a, "GET", "/api/me", tt.headers...)
			got := w.Header().Values("WWW-Authenticate")
			if w.Code != 401 || strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("%d, challenges %q, want %q", w.Code, got, tt.want)
			}
		})
	}
}

// A browser on another origin cannot post to the demo, not even to log in
// (login CSRF); curl, which sends no Origin, can.
func TestCrossOriginGuard(t *testing.T) {
	a, _ := newTestApp(t)
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign origin", []string{"Origin", "https://evil.example"}, 403},
		{"same origin", []string{"Origin", "http://example.com", "Sec-Fetch-Site", "same-origin"}, 400},
		{"no browser headers", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serveTest(a, "POST", "/auth/login", tt.headers...)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 403 && !strings.Contains(w.Body.String(), `"csrf_failed"`) {
				t.Fatalf("body = %s", w.Body)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	a, _ := newTestApp(t)
	w := serveTest(a, "GET", "/nope")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"not_found"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// RedirectTrailingSlash is off: a path with a trailing slash is not a
// route, and gets the usual 404 through the middleware (security headers,
// request log), not a bare redirect written by gin before any middleware.
func TestTrailingSlash(t *testing.T) {
	a, _ := newTestApp(t)
	var logs demotest.Buffer
	a.logger = slog.New(slog.NewTextHandler(&logs, nil))
	for _, tt := range []struct{ method, target string }{
		{"GET", "/healthz/"},
		{"HEAD", "/healthz/"},
		{"GET", "/api/me/"},
		{"POST", "/auth/login/"},
		{"GET", "//"},
	} {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			w := serveTest(a, tt.method, tt.target)
			if w.Code != http.StatusNotFound || w.Header().Get("Location") != "" {
				t.Fatalf("%d, Location %q: want 404 and no redirect", w.Code, w.Header().Get("Location"))
			}
			if tt.method != "HEAD" {
				ginauthtest.AssertError(t, ginauthtest.Recorded(w), ginauthtest.WantError{Status: http.StatusNotFound, Code: "not_found"})
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("no security headers: %v", w.Header())
			}
			if !strings.Contains(logs.String(), "method="+tt.method+" path="+tt.target+" status=404") {
				t.Fatalf("no request log line:\n%s", logs.String())
			}
		})
	}
}

// HEAD answers like GET on the page and the health check, for uptime
// checks and curl -I: same status, same headers, and no body on the wire.
// It runs against a real server, since net/http (not gin, not httptest)
// drops the body of a HEAD answer.
func TestHead(t *testing.T) {
	srv := startInProcess(t, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, path := range []string{"/", "/healthz"} {
		t.Run(path, func(t *testing.T) {
			get, getBody := rawRequest(t, host, "GET", path)
			head, headBody := rawRequest(t, host, "HEAD", path)
			if get.StatusCode != 200 || head.StatusCode != 200 {
				t.Fatalf("GET %d, HEAD %d: want 200", get.StatusCode, head.StatusCode)
			}
			if len(headBody) != 0 || len(getBody) == 0 {
				t.Fatalf("GET sent %d bytes and HEAD %d: want a body for GET only", len(getBody), len(headBody))
			}
			if got := head.Header.Get("Content-Length"); got != strconv.Itoa(len(getBody)) {
				t.Fatalf("HEAD Content-Length %q, GET sent %d bytes", got, len(getBody))
			}
			// The page's nonce changes with every answer.
			nonce := regexp.MustCompile(`'nonce-[A-Za-z0-9_-]+'`)
			norm := func(h http.Header) string {
				h = h.Clone()
				h.Del("Date")
				h.Set("Content-Security-Policy", nonce.ReplaceAllString(h.Get("Content-Security-Policy"), "'nonce-N'"))
				var b strings.Builder
				_ = h.Write(&b)
				return b.String()
			}
			if norm(get.Header) != norm(head.Header) {
				t.Fatalf("headers differ:\nGET:\n%s\nHEAD:\n%s", norm(get.Header), norm(head.Header))
			}
		})
	}
}

// rawRequest sends one request on a fresh connection that the server
// closes after answering, and returns the answer's header and every byte
// that followed it on the wire.
func rawRequest(t *testing.T, host, method, path string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, path, host); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	header, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("%s %s: no end of header in %q", method, path, raw)
	}
	// Parsed as the answer to a HEAD, so that it expects no body.
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(header, "\r\n\r\n"...))), &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// A known path with another method gets 405, the usual error body and an
// Allow header.
func TestMethodNotAllowed(t *testing.T) {
	a, _ := newTestApp(t)
	tests := []struct {
		name, method, target, allow string
	}{
		{"GET login", "GET", "/auth/login", "POST"},
		{"DELETE me", "DELETE", "/api/me", "GET"},
		{"POST healthz", "POST", "/healthz", "GET, HEAD"},
		{"PUT page", "PUT", "/", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serveTest(a, tt.method, tt.target)
			ginauthtest.AssertError(t, ginauthtest.Recorded(w), ginauthtest.WantError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed"})
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Fatalf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

// A panic in a handler answers 500 with the usual error body, and the
// request log still has its line, with the principal.
func TestPanicIsLoggedAs500(t *testing.T) {
	a, users := newTestApp(t)
	var logs demotest.Buffer
	a.logger = slog.New(slog.NewTextHandler(&logs, nil))
	a.router.GET("/boom", ginauth.SignedIn(), func(*gin.Context) { panic("boom") })
	a.router.GET("/abort", ginauth.Open(), func(*gin.Context) { panic(http.ErrAbortHandler) })

	w := serveTest(a, "GET", "/boom", basicAuth("alice", users["alice"])...)
	if w.Code != http.StatusInternalServerError ||
		w.Body.String() != `{"error":"internal_error","message":"Something went wrong – please try again"}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	line := regexp.MustCompile(`level=WARN msg=request method=GET path=/boom status=500 duration=\S+ client=\S+ principal\.user=alice principal\.scheme=Basic\n`)
	if !line.MatchString(logs.String()) || !strings.Contains(logs.String(), `msg="panic while serving"`) {
		t.Fatalf("log:\n%s", logs.String())
	}

	// http.ErrAbortHandler goes on to net/http, which aborts the
	// connection; the request is logged all the same.
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		serveTest(a, "GET", "/abort")
	}()
	if !strings.Contains(logs.String(), "path=/abort status=500") || !strings.Contains(logs.String(), "aborted=true") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// Only refused credentials count as failed sign-ins in the report.
func TestReportCountsRefusedCredentialsOnly(t *testing.T) {
	a, users := newTestApp(t)
	login := func(body string, headers ...string) int {
		req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		a.engine.ServeHTTP(w, req)
		return w.Code
	}
	for _, tt := range []struct {
		name, body string
		headers    []string
		status     int
	}{
		{"wrong password", `{"username":"bob","password":"wrong-password"}`, nil, 401},
		{"malformed", `not json`, nil, 400},
		{"cross-site", `{"username":"bob","password":"bob-password-12"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"success", `{"username":"bob","password":"bob-password-12"}`, nil, 200},
	} {
		if got := login(tt.body, tt.headers...); got != tt.status {
			t.Fatalf("%s: status %d, want %d", tt.name, got, tt.status)
		}
	}
	w := serveTest(a, "GET", "/api/reports", basicAuth("alice", users["alice"])...)
	if !strings.Contains(w.Body.String(), `"logins":{"failed":1,"succeeded":1}`) {
		t.Fatalf("reports = %s", w.Body)
	}
}

// On Secure requests the cookies are named with the __Host- prefix; on
// plain HTTP to a loopback host they are neither Secure nor prefixed,
// unless AUTHKIT_COOKIE_SECURE says so. Either way the demo reads back
// the cookie it set, and logout clears it, twice.
func TestCookieNames(t *testing.T) {
	tests := []struct {
		name, host, secure string
		session, csrf      string
	}{
		{"loopback", "127.0.0.1:8080", "", "authkit_session", "authkit_csrf"},
		{"loopback, AUTHKIT_COOKIE_SECURE=1", "127.0.0.1:8080", "1", "__Host-authkit_session", "__Host-authkit_csrf"},
		{"public host", "demo.example", "", "__Host-authkit_session", "__Host-authkit_csrf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, users := newTestAppWith(t, map[string]string{envCookieSecure: tt.secure})
			send := func(method, target, body string, headers ...string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(method, target, strings.NewReader(body))
				req.Host = tt.host
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for i := 0; i+1 < len(headers); i += 2 {
					req.Header.Set(headers[i], headers[i+1])
				}
				w := httptest.NewRecorder()
				a.engine.ServeHTTP(w, req)
				return w
			}
			w := send("POST", "/auth/login", `{"username":"bob","password":"`+users["bob"]+`","cookie":true}`)
			if w.Code != 200 {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			cookies := map[string]*http.Cookie{}
			for _, c := range w.Result().Cookies() {
				cookies[c.Name] = c
			}
			session, csrf := cookies[tt.session], cookies[tt.csrf]
			secure := tt.session != "authkit_session"
			// The device credential of a known client comes along, by the
			// same rule for Secure, with __Secure- since its path is the
			// login endpoint's.
			device := cookies["authkit_device"]
			if secure {
				device = cookies["__Secure-authkit_device"]
			}
			if device == nil || device.Secure != secure || !device.HttpOnly || device.Path != "/auth/login" {
				t.Fatalf("cookies %v: want the device cookie, Secure %v", w.Header().Values("Set-Cookie"), secure)
			}
			if len(cookies) != 3 || session == nil || csrf == nil || session.Secure != secure || csrf.Secure != secure {
				t.Fatalf("cookies %v: want %s and %s, Secure %v", w.Header().Values("Set-Cookie"), tt.session, tt.csrf, secure)
			}
			if session.MaxAge != 0 || !session.Expires.IsZero() {
				t.Fatalf("session cookie %v: want a session cookie (no Max-Age)", session)
			}
			cookie := []string{"Cookie", session.Name + "=" + session.Value}
			if w := send("GET", "/api/me", "", cookie...); w.Code != 200 {
				t.Fatalf("GET /api/me with %s: %d %s", session.Name, w.Code, w.Body)
			}
			for i := range 2 {
				w := send("POST", "/auth/logout", "", append(cookie, "X-CSRF-Token", csrf.Value)...)
				if w.Code != 204 || !strings.Contains(strings.Join(w.Header().Values("Set-Cookie"), "\n"), tt.session+"=;") {
					t.Fatalf("logout %d: %d, Set-Cookie %q", i+1, w.Code, w.Header().Values("Set-Cookie"))
				}
			}
		})
	}
}
