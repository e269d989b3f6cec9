package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store/memstore"
)

// testSecret is the HS256 key of the tests' demo processes.
const testSecret = "e2e-only-secret-0123456789abcdef0123456789"

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
	stdout *demotest.Buffer
	stderr *demotest.Buffer
	cancel context.CancelFunc
	done   chan error
}

// startInProcess runs "demo serve" on a loopback port picked by the
// kernel; it is stopped (and must stop cleanly) at cleanup.
func startInProcess(t *testing.T, env map[string]string) *inProcess {
	t.Helper()
	e := map[string]string{envAddr: "127.0.0.1:0", envBcryptCost: "4"}
	for k, v := range env {
		e[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{stdout: &demotest.Buffer{}, stderr: &demotest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- run(ctx, []string{"serve"}, envOf(e), strings.NewReader(""), p.stdout, p.stderr) }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for p.URL == "" {
		if m := demotest.ListeningRE.FindStringSubmatch(p.stdout.String()); m != nil {
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

// seededPasswords reads the passwords that memory mode prints.
func (p *inProcess) seededPasswords(t *testing.T) map[string]string {
	t.Helper()
	return demotest.SeededPasswords(t, p.stdout.String())
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
	auth, err := newAuth(cfg, memstore.New(memstore.Options{}), logger, nil)
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
