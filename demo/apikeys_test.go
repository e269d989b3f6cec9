package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
)

// serveJSON sends one request with a JSON body (none when body is "") to
// the app through httptest and decodes the answer.
func serveJSON(t *testing.T, a *app, method, target, body string, headers ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	a.engine.ServeHTTP(w, req)
	out := map[string]any{}
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w, out
}

// The /auth/apikeys routes on the memory store: bob creates a key with
// his role, which then authenticates on /api by its roles alone, cannot
// manage keys, and ends by revocation, by rotation's overlap, and with
// "log out everywhere".
func TestAPIKeyRoutes(t *testing.T) {
	a, users := newTestApp(t)
	bob := basicAuth("bob", users["bob"])
	expect := func(w *httptest.ResponseRecorder, status int, code string) {
		t.Helper()
		if code == "" {
			if w.Code != status {
				t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
			}
			return
		}
		ginauthtest.AssertError(t, ginauthtest.Recorded(w), ginauthtest.WantError{Status: status, Code: code})
	}

	w, created := serveJSON(t, a, "POST", "/auth/apikeys", `{"name":"cron","roles":["user"],"expires_in":3600}`, bob...)
	expect(w, http.StatusCreated, "")
	key, id := created["key"].(string), created["id"].(string)
	if !strings.HasPrefix(key, "ak_") || id == "" || created["expires_at"] == nil || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create answered %s (Cache-Control %q)", w.Body, w.Header().Get("Cache-Control"))
	}
	asKey := bearer(key)
	w, me := serveJSON(t, a, "GET", "/api/me", "", asKey...)
	expect(w, http.StatusOK, "")
	if me["username"] != "bob" || len(me["roles"].([]any)) != 1 {
		t.Fatalf("/api/me with the key: %s", w.Body)
	}
	w, _ = serveJSON(t, a, "GET", "/api/admin/stats", "", asKey...)
	expect(w, http.StatusForbidden, "forbidden")
	w, _ = serveJSON(t, a, "POST", "/auth/apikeys", `{}`, asKey...)
	expect(w, http.StatusForbidden, "forbidden")
	w, _ = serveJSON(t, a, "POST", "/auth/apikeys", `{"roles":["admin"]}`, bob...)
	expect(w, http.StatusBadRequest, "invalid_request")

	w, list := serveJSON(t, a, "GET", "/auth/apikeys", "", bob...)
	expect(w, http.StatusOK, "")
	keys := list["api_keys"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["id"] != id || strings.Contains(w.Body.String(), key[len(key)-20:]) {
		t.Fatalf("list: %s", w.Body)
	}

	// Rotation: both keys work during the overlap; revoking the new one
	// leaves the old one to its overlap.
	w, rotated := serveJSON(t, a, "POST", "/auth/apikeys/"+id+"/rotate", `{"overlap":60}`, bob...)
	expect(w, http.StatusCreated, "")
	next := rotated["key"].(string)
	for _, k := range []string{key, next} {
		w, _ = serveJSON(t, a, "GET", "/api/me", "", bearer(k)...)
		expect(w, http.StatusOK, "")
	}
	w, _ = serveJSON(t, a, "DELETE", "/auth/apikeys/"+rotated["id"].(string), "", bob...)
	expect(w, http.StatusNoContent, "")
	w, _ = serveJSON(t, a, "GET", "/api/me", "", bearer(next)...)
	expect(w, http.StatusUnauthorized, "invalid_token")
	w, _ = serveJSON(t, a, "DELETE", "/auth/apikeys/"+rotated["id"].(string), "", bob...)
	expect(w, http.StatusNotFound, "not_found")

	// Log out everywhere ends the keys as it ends sessions.
	w, _ = serveJSON(t, a, "POST", "/auth/logout-all", "", bob...)
	expect(w, http.StatusNoContent, "")
	w, _ = serveJSON(t, a, "GET", "/api/me", "", asKey...)
	expect(w, http.StatusUnauthorized, "invalid_token")
}
