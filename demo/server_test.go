package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
)

// go run ./demo on a fresh machine: memory store, two seeded users whose
// passwords are printed once, a working API, clean logs, graceful stop.
func TestServeMemory(t *testing.T) {
	srv := startInProcess(t, nil)
	pw := srv.seededPasswords(t)
	if strings.Count(srv.stdout.String(), pw["alice"]) != 1 {
		t.Fatal("the password must be printed exactly once")
	}
	if out := srv.stdout.String(); strings.Index(out, "Demo users") > strings.Index(out, "listening on") {
		t.Fatalf("the passwords must come before the address, once the port is bound:\n%s", out)
	}
	c := newClient(t, srv.URL)
	expectStatus(t, c.do("GET", "/healthz", nil), 200, "")

	alice := c.login("alice", pw["alice"])
	me := c.do("GET", "/api/me", nil, bearer(alice.AccessToken)...)
	expectStatus(t, me, 200, "")
	if me.raw != `{"roles":["admin","user"],"username":"alice"}` {
		t.Fatalf("/api/me = %s", me.raw)
	}
	bob := c.login("bob", pw["bob"])
	expectStatus(t, c.do("GET", "/api/admin/stats", nil, bearer(bob.AccessToken)...), 403, "forbidden")
	expectStatus(t, c.do("GET", "/api/admin/stats", nil, bearer(alice.AccessToken)...), 200, "")
	rep := c.do("GET", "/api/reports", nil, bearer(alice.AccessToken)...)
	expectStatus(t, rep, 200, "")
	if logins := rep.body["logins"].(map[string]any); logins["succeeded"] != 2.0 {
		t.Fatalf("reports = %s", rep.raw)
	}
	srv.stop(t)

	logs := srv.stderr.String()
	for _, secret := range []string{pw["alice"], pw["bob"], alice.AccessToken, alice.RefreshToken, bob.AccessToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a credential reached the log:\n%s", logs)
		}
	}
	for _, want := range []string{"none of AUTHKIT_SECRET, AUTHKIT_SECRET_FILE, AUTHKIT_SIGNING_KEY_FILE is set", "path=/api/admin/stats status=403", "principal.user=bob principal.scheme=Bearer", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// With AUTHKIT_LOG_FORMAT=json every log line is one JSON object.
func TestServeJSONLogs(t *testing.T) {
	srv := startInProcess(t, map[string]string{envLogFormat: "json", envSecret: testSecret})
	c := newClient(t, srv.URL)
	c.do("GET", "/api/me", nil)
	srv.stop(t)
	var n int
	for _, line := range strings.Split(strings.TrimSpace(srv.stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if m["msg"] == "request" && m["status"] == 401.0 {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d request lines with status 401:\n%s", n, srv.stderr.String())
	}
}

// A demo that cannot bind its port prints no password: in memory mode
// the users are seeded, and their passwords printed, only once the port
// is bound.
func TestServeAddressInUse(t *testing.T) {
	srv := startInProcess(t, nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	r := runDemo(t, map[string]string{envAddr: addr, envBcryptCost: "4"}, "", "serve")
	if r.code != exitFailure || !strings.Contains(r.stderr, "AUTHKIT_ADDR: cannot listen on "+addr) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != "" || strings.Contains(r.stderr, "seeded") {
		t.Fatalf("a demo that could not listen printed:\n%s%s", r.stdout, r.stderr)
	}
}

// By default the demo listens on loopback only (see
// TestLoadConfigDefaults); an address without a host, as the container
// sets AUTHKIT_ADDR=:8080, listens on every interface and prints a URL
// for this machine.
func TestServeListenAddress(t *testing.T) {
	tests := []struct {
		addr    string
		logged  *regexp.Regexp
		printed string
	}{
		{"127.0.0.1:0", regexp.MustCompile(`msg=listening addr=127\.0\.0\.1:\d+ `), "http://127.0.0.1:"},
		{":0", regexp.MustCompile(`msg=listening addr=(\[::\]|0\.0\.0\.0):\d+ `), "http://localhost:"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			srv := startInProcess(t, map[string]string{envAddr: tt.addr})
			srv.stderr.WaitMatch(t, tt.logged, 5*time.Second)
			if !strings.HasPrefix(srv.URL, tt.printed) {
				t.Fatalf("printed %s, want %s…", srv.URL, tt.printed)
			}
			// Loopback reaches it either way.
			_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
			expectStatus(t, newClient(t, "http://127.0.0.1:"+port).do("GET", "/healthz", nil), 200, "")
		})
	}
}

// The key can come from a file (AUTHKIT_SECRET_FILE): the demo signs with
// it, without the file's line break, and does not warn about a random key.
func TestServeSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authkit_secret")
	if err := os.WriteFile(path, []byte(testSecret+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	srv := startInProcess(t, map[string]string{envSecretFile: path})
	pw := srv.seededPasswords(t)
	tok := newClient(t, srv.URL).login("alice", pw["alice"])
	// sessionID verifies the token with testSecret, and fails otherwise.
	sessionID(t, tok.AccessToken)
	srv.stop(t)
	if logs := srv.stderr.String(); strings.Contains(logs, "random key") {
		t.Fatalf("warned about a random key:\n%s", logs)
	}
}

// At start on Redis, serve checks that Redis cannot evict its keys: any
// policy but noeviction is logged as a warning, and the demo serves all
// the same. It runs against a private redis-server, whose configuration
// it may change.
func TestServeChecksEviction(t *testing.T) {
	private := testredis.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: private.Addr})
	defer admin.Close()
	tests := []struct {
		policy string
		warn   bool
	}{
		{"allkeys-lru", true},
		{"volatile-ttl", true},
		{"noeviction", false},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			if err := admin.ConfigSet(t.Context(), "maxmemory-policy", tt.policy).Err(); err != nil {
				t.Fatal(err)
			}
			srv := startInProcess(t, map[string]string{envRedisURL: "redis://" + private.Addr + "/0", envSecret: testSecret})
			expectStatus(t, newClient(t, srv.URL).do("GET", "/healthz", nil), 200, "")
			srv.stop(t)
			logs := srv.stderr.String()
			warned := strings.Contains(logs, `level=WARN msg="redisstore: Redis may evict authkit's keys`) &&
				strings.Contains(logs, "maxmemory-policy="+tt.policy)
			if warned != tt.warn || strings.Contains(logs, "cannot read redis's maxmemory-policy") {
				t.Fatalf("warned = %v, want %v; log:\n%s", warned, tt.warn, logs)
			}
		})
	}
}
