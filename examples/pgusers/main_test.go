package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/internal/testpg"
	"github.com/gin-authkit/authkit/internal/testredis"
)

func init() { gin.SetMode(gin.TestMode) }

// TestUsersInPostgres runs the example against a fresh PostgreSQL schema
// and the test Redis: log in, then change the user by hand in SQL, as
// an administrator would, and see each change on the next request.
func TestUsersInPostgres(t *testing.T) {
	db := testpg.New(t)
	rdb, prefix := testredis.New(t)
	a, err := newApp(t.Context(), db, rdb, prefix, []byte(strings.Repeat("s", 32)), slog.New(slog.DiscardHandler),
		func(c *accounts.Config) { c.Hasher, c.AllowTestCosts = accounts.Bcrypt{Cost: 4}, true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	if err := a.accounts.CreateUser(t.Context(), "Alice", "correct horse battery", []string{"user"}); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body, token string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		a.engine.ServeHTTP(w, req)
		var m map[string]any
		json.Unmarshal(w.Body.Bytes(), &m) //nolint:errcheck // a body that is no JSON leaves m nil
		return w.Code, m
	}
	sql := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}

	code, body := do("POST", "/auth/login", `{"username":"alice","password":"correct horse battery"}`, "")
	if code != http.StatusOK {
		t.Fatalf("login = %d %v", code, body)
	}
	tok, _ := body["access_token"].(string)
	steps := []struct {
		name   string
		sql    string
		path   string
		status int
	}{
		{"user", "", "/api/me", 200},
		{"not yet admin", "", "/api/admin", 403},
		{"granted admin in SQL", `UPDATE authkit_users SET roles = '{user,admin}' WHERE username = 'alice'`, "/api/admin", 200},
		{"disabled in SQL", `UPDATE authkit_users SET disabled = true WHERE username = 'alice'`, "/api/me", 401},
		{"re-enabled in SQL", `UPDATE authkit_users SET disabled = false WHERE username = 'alice'`, "/api/me", 401},
	}
	// A change made in SQL reaches the app's user cache through
	// PostgreSQL's notification, a moment after the commit.
	eventually := func(what, path, tok string, want int) {
		t.Helper()
		var code int
		var body map[string]any
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if code, body = do("GET", path, "", tok); code == want {
				return
			}
		}
		t.Errorf("%s: GET %s = %d %v, want %d", what, path, code, body, want)
	}
	for _, st := range steps {
		if st.sql != "" {
			sql(st.sql)
		}
		eventually(st.name, st.path, tok, st.status)
	}
	// The old session stays dead as soon as the commit lands, before the
	// re-enable's notification reaches the cache: wait for the cache to
	// see it, or the login below races it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		u, err := a.accounts.Users().User(t.Context(), "alice")
		if err == nil && !u.Disabled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache never saw alice re-enabled: %+v, %v", u, err)
		}
	}
	// Logging in again works; a password hash replaced in SQL ends that
	// session too.
	code, body = do("POST", "/auth/login", `{"username":"alice","password":"correct horse battery"}`, "")
	if code != http.StatusOK {
		t.Fatalf("login again = %d %v", code, body)
	}
	tok, _ = body["access_token"].(string)
	if code, _ := do("GET", "/api/admin", "", tok); code != 200 {
		t.Errorf("after logging in again: GET /api/admin = %d, want 200", code)
	}
	sql(`UPDATE authkit_users SET password_hash = 'reset-by-an-admin' WHERE username = 'alice'`)
	eventually("after a password reset in SQL", "/api/me", tok, 401)
	// A change made through the app's Accounts takes effect at once.
	if err := a.accounts.SetPassword(t.Context(), "alice", "another good password"); err != nil {
		t.Fatal(err)
	}
	code, body = do("POST", "/auth/login", `{"username":"alice","password":"another good password"}`, "")
	if code != http.StatusOK {
		t.Fatalf("login with the new password = %d %v", code, body)
	}
	tok, _ = body["access_token"].(string)
	if err := a.accounts.SetDisabled(t.Context(), "alice", true); err != nil {
		t.Fatal(err)
	}
	if code, _ := do("GET", "/api/me", "", tok); code != 401 {
		t.Errorf("after SetDisabled: GET /api/me = %d, want 401 at once", code)
	}
	if code, _ := do("GET", "/healthz", "", ""); code != 200 {
		t.Errorf("GET /healthz = %d, want 200", code)
	}
}
