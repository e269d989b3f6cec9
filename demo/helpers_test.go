package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store/memstore"
)

// testSecret is the HS256 key of the tests' demo processes.
const testSecret = "e2e-only-secret-0123456789abcdef0123456789"

// lockedBuffer is a bytes.Buffer safe for one writer goroutine and
// concurrent readers, with a bounded wait for its content.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitMatch polls until re matches the content, for at most timeout, and
// returns the submatches.
func (b *lockedBuffer) waitMatch(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no match for %s within %v in:\n%s", re, timeout, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// envOf returns a getenv reading only m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// testRedis returns a URL for the test Redis (AUTHKIT_TEST_REDIS, or an
// in-process miniredis, see testredis) and a fresh key prefix whose keys
// are deleted with SCAN + DEL at cleanup.
func testRedis(t *testing.T) (redisURL, prefix string) {
	t.Helper()
	opts := testredis.Options(t)
	client := redis.NewClient(opts)
	prefix = testredis.NewPrefix()
	t.Cleanup(func() {
		testredis.DeletePrefix(t, client, prefix)
		_ = client.Close()
	})
	return urlOf(opts), prefix
}

// urlOf renders client options back as a redis:// URL.
func urlOf(o *redis.Options) string {
	u := url.URL{Scheme: "redis", Host: o.Addr, Path: "/" + strconv.Itoa(o.DB)}
	if o.TLSConfig != nil {
		u.Scheme = "rediss"
	}
	if o.Username != "" || o.Password != "" {
		u.User = url.UserPassword(o.Username, o.Password)
	}
	return u.String()
}

// cliResult is the outcome of one in-process run.
type cliResult struct {
	stdout, stderr string
	code           int
	err            error
}

// runDemo runs the program in-process with env and stdin.
func runDemo(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, args, envOf(env), strings.NewReader(stdin), &out, &errOut)
	return cliResult{stdout: out.String(), stderr: errOut.String(), code: exitCode(err), err: err}
}

// inProcess is the demo server running in this process.
type inProcess struct {
	URL    string
	stdout *lockedBuffer
	stderr *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

var listeningRE = regexp.MustCompile(`listening on (http://[^/\s]+)/`)

// startInProcess runs "demo serve" on a loopback port picked by the
// kernel; it is stopped (and must stop cleanly) at cleanup.
func startInProcess(t *testing.T, env map[string]string) *inProcess {
	t.Helper()
	e := map[string]string{envAddr: "127.0.0.1:0", envBcryptCost: "4"}
	for k, v := range env {
		e[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- run(ctx, []string{"serve"}, envOf(e), strings.NewReader(""), p.stdout, p.stderr) }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for p.URL == "" {
		if m := listeningRE.FindStringSubmatch(p.stdout.String()); m != nil {
			p.URL = m[1]
			break
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("demo exited before listening: %v\nstderr:\n%s", err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not listen within 30s; stdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
		}
	}
	return p
}

// stop cancels the server's context and checks that it shut down cleanly.
func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("demo serve returned %v; stderr:\n%s", err, p.stderr.String())
		}
		if logs := p.stderr.String(); !strings.Contains(logs, "msg=stopped") && !strings.Contains(logs, `"msg":"stopped"`) {
			t.Errorf("no graceful stop in the log:\n%s", p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("demo serve did not stop within 15s")
	}
}

var seedRE = regexp.MustCompile(`(?m)^\s+(alice|bob)\s+password (\S+)\s`)

// seededPasswords reads the passwords that memory mode prints.
func (p *inProcess) seededPasswords(t *testing.T) map[string]string {
	t.Helper()
	pw := map[string]string{}
	for _, m := range seedRE.FindAllStringSubmatch(p.stdout.String(), -1) {
		pw[m[1]] = m[2]
	}
	if len(pw) != 2 {
		t.Fatalf("seeded passwords not found in stdout:\n%s", p.stdout.String())
	}
	return pw
}

// newTestApp builds the demo's app on a memory store with alice, bob and
// carol (analyst), for tests through httptest.
func newTestApp(t *testing.T) (*app, map[string]string) {
	t.Helper()
	return newTestAppWith(t, nil)
}

// newTestAppWith is newTestApp with more environment variables.
func newTestAppWith(t *testing.T, env map[string]string) (*app, map[string]string) {
	t.Helper()
	e := map[string]string{envBcryptCost: "4", envSecret: testSecret}
	for k, v := range env {
		e[k] = v
	}
	cfg, err := loadConfig(envOf(e))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth, err := newAuth(cfg, memstore.New(memstore.Options{}), logger)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{"alice": "alice-password-1", "bob": "bob-password-12", "carol": "carol-password-123"}
	roles := map[string][]string{"alice": {"admin", "user"}, "bob": {"user"}, "carol": {"analyst"}}
	for name, pw := range users {
		if err := auth.Accounts().CreateUser(context.Background(), name, pw, roles[name]); err != nil {
			t.Fatal(err)
		}
	}
	return newApp(auth, logger, "memory"), users
}
