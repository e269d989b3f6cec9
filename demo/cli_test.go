package main

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
)

// cliEnvFor is the environment of the user commands in the tests.
func cliEnvFor(redisURL, prefix string) map[string]string {
	return map[string]string{envRedisURL: redisURL, envRedisPrefix: prefix, envBcryptCost: "4"}
}

// The user commands, in order, on one Redis prefix: each step's exit code
// and a piece of its output (stdout on success, stderr otherwise), and for
// some the audit line the command logs on stderr.
func TestUserCommands(t *testing.T) {
	url, prefix := testRedis(t)
	env := cliEnvFor(url, prefix)
	long72 := strings.Repeat("p", 72)
	steps := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"useradd", "alice-password-1\n", []string{"useradd", "--username", "alice", "--roles", "admin,user", "--password-stdin"}, exitOK, "created user alice (roles: admin,user)"},
		{"useradd CRLF", "bob-password-12\r\n", []string{"useradd", "--username", "bob", "--roles", "user", "--password-stdin"}, exitOK, "created user bob"},
		{"useradd 72 bytes", long72, []string{"useradd", "--username", "max", "--password-stdin"}, exitOK, "created user max (roles: (none))"},
		{"duplicate user", "another-password", []string{"useradd", "--username", "alice", "--password-stdin"}, exitExists, `user "alice" already exists`},
		{"weak password", "short\n", []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "too weak: 5 characters, at least 8 required"},
		{"73-byte password", long72 + "X\n", []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "73 bytes long, but bcrypt uses at most 72 bytes"},
		{"multi-byte password over 72 bytes", strings.Repeat("é", 37), []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "74 bytes long"},
		{"empty password", "", []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "standard input was empty"},
		{"two lines", "first-line\nsecond-line\n", []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "more than one line"},
		{"huge stdin", strings.Repeat("x", 5000), []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "more than 1024 bytes"},
		{"invalid UTF-8", "abc\xffdefgh", []string{"useradd", "--username", "carol", "--password-stdin"}, exitRejected, "not valid UTF-8"},
		{"bad username", "carol-password-1", []string{"useradd", "--username", "-carol", "--password-stdin"}, exitRejected, "invalid username"},
		{"bad role", "carol-password-1", []string{"useradd", "--username", "carol", "--roles", "a b", "--password-stdin"}, exitRejected, "invalid roles"},
		{"empty role", "carol-password-1", []string{"useradd", "--username", "carol", "--roles", "a,,b", "--password-stdin"}, exitRejected, "invalid roles"},
		{"no --password-stdin", "", []string{"useradd", "--username", "carol"}, exitUsage, "--password-stdin is required"},
		{"no --username", "", []string{"useradd", "--password-stdin"}, exitUsage, "--username is required"},
		{"passwd", "alice-password-2", []string{"passwd", "--username", "alice", "--password-stdin"}, exitOK, "changed the password of alice"},
		{"passwd unknown user", "whatever-password", []string{"passwd", "--username", "nobody", "--password-stdin"}, exitNoUser, `no user "nobody"`},
		{"passwd weak", "1234", []string{"passwd", "--username", "alice", "--password-stdin"}, exitRejected, "too weak"},
		{"roles", "", []string{"roles", "--username", "bob", "--set", "user, analyst"}, exitOK, "roles of bob: user,analyst"},
		{"roles cleared", "", []string{"roles", "--username", "max", "--set", ""}, exitOK, "roles of max: (none)"},
		{"roles without --set", "", []string{"roles", "--username", "bob"}, exitUsage, "--set is required"},
		{"roles unknown user", "", []string{"roles", "--username", "nobody", "--set", "user"}, exitNoUser, `no user "nobody"`},
		{"disable", "", []string{"disable", "--username", "bob"}, exitOK, "disabled bob"},
		{"enable", "", []string{"disable", "--username", "bob", "--enable"}, exitOK, "enabled bob"},
		{"disable unknown user", "", []string{"disable", "--username", "nobody"}, exitNoUser, `no user "nobody"`},
		{"sessions none", "", []string{"sessions", "--username", "alice"}, exitOK, "SESSION  CREATED"},
		{"sessions unknown user", "", []string{"sessions", "--username", "nobody"}, exitNoUser, `no user "nobody"`},
		{"revoke", "", []string{"revoke", "--username", "alice"}, exitOK, "revoked every session of alice (0 were live)"},
		{"revoke unknown user", "", []string{"revoke", "--username", "nobody"}, exitNoUser, `no user "nobody"`},
		{"stray argument", "", []string{"revoke", "--username", "alice", "now"}, exitUsage, `unexpected argument "now"`},
		// Usernames are canonical: NFKC, lower case. Every command takes
		// any spelling and works on, and prints, the canonical name.
		{"useradd canonical", "erin-password-1", []string{"useradd", "--username", "Erin", "--password-stdin"}, exitOK, "created user erin (roles: (none))"},
		{"useradd other case", "erin-password-2", []string{"useradd", "--username", "ERIN", "--password-stdin"}, exitExists, `user "erin" already exists`},
		{"useradd full-width", "erin-password-2", []string{"useradd", "--username", "ｅｒｉｎ", "--password-stdin"}, exitExists, `user "erin" already exists`},
		{"passwd canonical", "erin-password-3", []string{"passwd", "--username", "Erin", "--password-stdin"}, exitOK, "changed the password of erin"},
		{"roles canonical", "", []string{"roles", "--username", "eRiN", "--set", "user"}, exitOK, "roles of erin: user"},
		{"disable canonical", "", []string{"disable", "--username", "ERIN"}, exitOK, "disabled erin"},
		{"sessions canonical", "", []string{"sessions", "--username", "Erin"}, exitOK, "SESSION  CREATED"},
		{"revoke canonical", "", []string{"revoke", "--username", "Erin"}, exitOK, "revoked every session of erin"},
		{"username not canonicalisable", "erin-password-1", []string{"useradd", "--username", "Érin", "--password-stdin"}, exitRejected, "invalid username"},
	}
	// The audit lines some steps log on stderr.
	audit := map[string]string{
		"passwd":            `msg="authkit: audit" event=password_changed user=alice`,
		"disable":           "event=user_disabled user=bob",
		"enable":            "event=user_enabled user=bob",
		"passwd canonical":  "event=password_changed user=erin",
		"disable canonical": "event=user_disabled user=erin",
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := runDemo(t, env, s.stdin, s.args...)
			out := r.stdout
			if s.code != exitOK {
				out = r.stderr
			}
			if r.code != s.code || !strings.Contains(out, s.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %q", r.code, s.code, r.stdout, r.stderr, s.want)
			}
			if !strings.Contains(r.stderr, audit[s.name]) {
				t.Fatalf("stderr lacks %q:\n%s", audit[s.name], r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "password-1") || strings.Contains(r.stdout+r.stderr, "password-2") {
				t.Fatalf("a password reached the output:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

// sessions lists live sessions with a short id prefix only; revoke ends
// them.
func TestSessionsAndRevoke(t *testing.T) {
	url, prefix := testRedis(t)
	env := cliEnvFor(url, prefix)
	if r := runDemo(t, env, "alice-password-1", "useradd", "--username", "alice", "--password-stdin"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Log in twice through a server on the same Redis.
	srv := startInProcess(t, map[string]string{envRedisURL: url, envRedisPrefix: prefix, envSecret: testSecret})
	c := newClient(t, srv.URL)
	c.login("alice", "alice-password-1")
	c.login("alice", "alice-password-1")

	r := runDemo(t, env, "", "sessions", "--username", "alice")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("sessions: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	row := regexp.MustCompile(`^[0-9a-f]{8}…\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\S+Z\s+\S+Z$`)
	for _, l := range lines[1:] {
		if !row.MatchString(l) {
			t.Errorf("session line %q: want 8 hex digits then created, last seen, expires", l)
		}
	}
	r = runDemo(t, env, "", "revoke", "--username", "alice")
	if r.code != 0 || !strings.Contains(r.stdout, "(2 were live)") {
		t.Fatalf("revoke: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runDemo(t, env, "", "sessions", "--username", "alice")
	if n := len(strings.Split(strings.TrimSpace(r.stdout), "\n")); n != 1 {
		t.Fatalf("after revoke, sessions lists %d lines:\n%s", n, r.stdout)
	}
}

// An unreachable Redis gets a clear message naming the address, and exit
// code 1, within the command's bounds.
func TestUnreachableRedis(t *testing.T) {
	hole := testredis.NewBlackhole(t)
	closed := closedPort(t)
	tests := []struct {
		name, url, want string
		max             time.Duration
	}{
		{"connection refused", "redis://" + closed + "/0", "cannot reach Redis at " + closed + " (database 0) from REDIS_URL", 10 * time.Second},
		{"port 1", "redis://127.0.0.1:1/0", "cannot reach Redis at 127.0.0.1:1", 10 * time.Second},
		{"never answers", "redis://" + hole.Addr + "/2", "no answer within 5s", 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := runDemo(t, map[string]string{envRedisURL: tt.url}, "", "sessions", "--username", "alice")
			if r.code != exitFailure || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d (want 1), stderr %q, want %q", r.code, r.stderr, tt.want)
			}
			if d := time.Since(start); d > tt.max {
				t.Fatalf("took %v", d)
			}
		})
	}
	// A password is checked before Redis is contacted.
	r := runDemo(t, map[string]string{envRedisURL: "redis://" + closed + "/0", envBcryptCost: "4"}, "short", "useradd", "--username", "a", "--password-stdin")
	if r.code != exitRejected {
		t.Fatalf("weak password with Redis down: exit %d, %s", r.code, r.stderr)
	}
}

func TestUserCommandsNeedRedis(t *testing.T) {
	for _, cmd := range []string{"useradd", "passwd", "roles", "disable", "sessions", "revoke"} {
		r := runDemo(t, nil, "", cmd, "--username", "alice")
		if r.code != exitUsage || !strings.Contains(r.stderr, "REDIS_URL is not set") {
			t.Errorf("%s: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A password typed at a terminal ends with Enter, not with end of input:
// readPassword returns after one line while stdin stays open, and gives up
// when the command's context ends.
func TestReadPasswordOneLine(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() }) // ends any read left behind
	go func() { _, _ = pw.Write([]byte("typed-password\n")) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := readPassword(ctx, pr)
	if err != nil || got != "typed-password" {
		t.Fatalf("readPassword = %q, %v; want the line without waiting for EOF", got, err)
	}

	silent, silentW := io.Pipe()
	t.Cleanup(func() { silentW.Close() })
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, nil},
		{"interrupted", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := readPassword(ctx, silent)
			if err == nil || errors.Is(err, errRejected) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want a runtime failure (%v)", err, tt.want)
			}
			if exitCode(err) != exitFailure {
				t.Fatalf("exit code %d, want %d", exitCode(err), exitFailure)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}
