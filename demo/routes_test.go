package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
)

// The demo's routes are its documented API: this is the README's table.
var wantRoutes = []string{
	"GET /  public",
	"GET /api/admin/stats  roles: admin",
	"GET /api/me  authenticated",
	"GET /api/reports  roles: admin|analyst",
	"POST /auth/login  public",
	"POST /auth/logout  authenticated",
	"POST /auth/logout-all  authenticated",
	"POST /auth/refresh  public",
	"GET /healthz  public",
}

func TestRoutes(t *testing.T) {
	a, _ := newTestApp(t)
	ginauthtest.AssertRoutesAnnotated(t, a.engine)
	routes, err := ginauth.Routes(a.engine)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.String())
	}
	if strings.Join(got, "\n") != strings.Join(wantRoutes, "\n") {
		t.Fatalf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRoutes, "\n"))
	}
	if len(a.routes) != len(wantRoutes) {
		t.Fatalf("the page lists %d routes, want %d", len(a.routes), len(wantRoutes))
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
