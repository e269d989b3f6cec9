// Package testredis gives tests a Redis to talk to: the real server named
// by AUTHKIT_TEST_REDIS, or an in-process miniredis when it is unset (so
// `go test ./...` passes on a machine without Redis). On CI (CI set) the
// variable is required: CI must exercise the real server.
//
// Every test gets its own random key prefix, and its keys are deleted at
// cleanup with SCAN + DEL; nothing ever flushes a shared server.
package testredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvVar names the Redis URL the tests use, e.g. redis://127.0.0.1:6379/0.
const EnvVar = "AUTHKIT_TEST_REDIS"

// Backend says which Redis New connected to: "redis" or "miniredis".
func Backend() string {
	if os.Getenv(EnvVar) != "" {
		return "redis"
	}
	return "miniredis"
}

// backendURL chooses the Redis the tests run against: the server named by
// EnvVar or, when that is unset, an in-process miniredis, reported as "".
// CI must exercise a real server, so there the missing variable is an
// error rather than a silent fallback.
func backendURL(getenv func(string) string) (string, error) {
	if u := getenv(EnvVar); u != "" {
		return u, nil
	}
	if getenv("CI") != "" {
		return "", errors.New(EnvVar + " is not set, but CI is: CI must test against a real Redis")
	}
	return "", nil
}

// New returns a client and a fresh key prefix ending in ":". The client is
// closed and the prefix's keys deleted when the test ends. New logs which
// backend it uses; a real server that does not answer PING fails the test
// at once, so that a wrong EnvVar does not show up as a failure of
// whatever the test checks.
func New(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	opts, real := options(t)
	client := redis.NewClient(opts)
	if real {
		if err := ping(client); err != nil {
			_ = client.Close()
			t.Fatalf("testredis: %v", err)
		}
		t.Logf("redis backend: %s (from %s)", opts.Addr, EnvVar)
	} else {
		t.Logf("redis backend: in-process miniredis (set %s to use a real server)", EnvVar)
	}
	prefix := "authkit-test:" + randomHex(6) + ":"
	t.Cleanup(func() {
		DeletePrefix(t, client, prefix)
		_ = client.Close()
	})
	return client, prefix
}

// ping checks that the server behind c answers.
func ping(c redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("the Redis named by %s does not answer PING: %w", EnvVar, err)
	}
	return nil
}

// Options returns client options for the test Redis, with
// ContextTimeoutEnabled set as authkit requires.
func Options(t testing.TB) *redis.Options {
	t.Helper()
	opts, _ := options(t)
	return opts
}

// options is [Options] that also reports whether the options name a real
// server (true) or a miniredis started for t (false).
func options(t testing.TB) (opts *redis.Options, real bool) {
	t.Helper()
	url, err := backendURL(os.Getenv)
	if err != nil {
		t.Fatalf("testredis: %v", err)
	}
	real = url != ""
	if !real {
		url = "redis://" + miniredis.RunT(t).Addr()
	}
	opts, err = redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testredis: %s: %v", EnvVar, err)
	}
	opts.ContextTimeoutEnabled = true
	return opts, real
}

// DeletePrefix deletes every key that starts with prefix.
func DeletePrefix(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := Keys(ctx, c, prefix)
	if err == nil && len(keys) > 0 {
		err = c.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Errorf("testredis: cleaning up %s: %v", prefix, err)
	}
}

// Keys lists the keys that start with prefix, with SCAN.
func Keys(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// Server is a private redis-server process on a loopback port, for tests
// that stop and restart Redis.
type Server struct {
	Addr string
	dir  string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartServer starts a private redis-server without persistence. Without a
// redis-server binary the test is skipped, except on CI, where it fails.
func StartServer(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found on CI: %v", err)
		}
		t.Skip("SKIPPED: redis-server is not installed; this test needs a private Redis it can stop")
	}
	s := &Server{Addr: freeAddr(t), dir: t.TempDir(), t: t}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the server on its address and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not start", s.Addr)
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Blackhole is a loopback listener that accepts connections and never
// answers: the failure that defeats clients without deadlines.
type Blackhole struct {
	Addr string
	l    net.Listener
}

// NewBlackhole starts a Blackhole that is closed at cleanup.
func NewBlackhole(t testing.TB) *Blackhole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	b := &Blackhole{Addr: l.Addr().String(), l: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never read or answered
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
	return hex.EncodeToString(b)
}
