// Package testredis gives tests a Redis to talk to: the real server named
// by AUTHKIT_TEST_REDIS, or an in-process miniredis when it is unset (so
// `go test ./...` passes on a machine without Redis). On CI (CI set) the
// variable is required: CI must exercise the real server.
//
// Every test gets its own random key prefix, and its keys are deleted at
// cleanup with SCAN + DEL; nothing ever flushes a shared server.
//
// Tests that need a server of their own start one: [StartServer] a single
// redis-server they can stop and restart, [StartCluster] a Redis Cluster
// of several masters, [StartSentinel] a master with a replica watched by
// three Sentinels. All listen on loopback ports only.
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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/redisproc"
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
	prefix := NewPrefix()
	t.Cleanup(func() {
		DeletePrefix(t, client, prefix)
		_ = client.Close()
	})
	return client, prefix
}

// NewPrefix returns a fresh random key prefix, "authkit-test:<random>:",
// for a test that manages its own client.
func NewPrefix() string { return "authkit-test:" + randomHex(6) + ":" }

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
	proc *redisproc.Server
	t    testing.TB
}

// StartServer starts a private redis-server without persistence. Without a
// redis-server binary the test is skipped, except on CI, where it fails.
func StartServer(t testing.TB) *Server {
	t.Helper()
	requireBinaries(t, "this test needs a private Redis it can stop", "redis-server")
	return startServer(t, freeAddr(t), "")
}

// StartServerWith is [StartServer] with extra redis-server arguments, such
// as "--appendonly", "yes" for a server whose data survives a restart (its
// files live in a directory of the test's, kept across restarts).
func StartServerWith(t testing.TB, args ...string) *Server {
	t.Helper()
	requireBinaries(t, "this test needs a private Redis it can stop", "redis-server")
	return startServer(t, freeAddr(t), "", args...)
}

// startServer starts a server on addr, a cluster node when busPort is set,
// with the extra redis-server arguments args, and stops it at cleanup.
func startServer(t testing.TB, addr, busPort string, args ...string) *Server {
	t.Helper()
	dir := t.TempDir()
	if busPort != "" {
		_, port, _ := net.SplitHostPort(addr)
		args = append(args, "--cluster-enabled", "yes",
			// Without an explicit bus port Redis uses port+10000 and
			// refuses ports above 55535, a fifth of Linux's ephemeral range.
			"--cluster-port", busPort,
			"--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--cluster-node-timeout", "2000")
	}
	return startProc(t, addr, dir, "", args...)
}

// startProc starts redis-server on addr with its files in dir, the
// configuration file config (none when empty) and the arguments args,
// and stops it at cleanup.
func startProc(t testing.TB, addr, dir, config string, args ...string) *Server {
	t.Helper()
	s := &Server{Addr: addr, proc: redisproc.New(addr, dir, args...), t: t}
	s.proc.Config = config
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// requireBinaries skips the test, loudly, when one of the named programs
// is not installed, and fails it instead on CI, which installs them.
func requireBinaries(t testing.TB, why string, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("testredis: %s not found on CI: %v", name, err)
			}
			t.Skipf("SKIPPED: %s is not installed; %s", name, why)
		}
	}
}

// Start (re)starts the server on its address and waits until it answers
// as the process it started. A cluster node keeps its cluster
// configuration across restarts.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.proc.Start(); err != nil {
		s.t.Fatalf("testredis: %v", err)
	}
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to
// exit.
func (s *Server) Stop() { s.proc.Stop() }

// Shutdown stops the server gracefully (SIGTERM: a server with persistence
// writes it out first) and waits for it to exit, at most 20 s; past that
// it kills it and fails the test.
func (s *Server) Shutdown() {
	s.t.Helper()
	if err := s.proc.Shutdown(20 * time.Second); err != nil {
		s.t.Errorf("testredis: %v", err)
	}
}

// Cluster is a private Redis Cluster on loopback ports, for tests that
// must see keys spread over several nodes: masters only ([StartCluster]),
// or a replica per master ([StartClusterWithReplicas]) for tests that
// fail a master over.
type Cluster struct {
	// Addrs are the masters' addresses at the start, host:port.
	Addrs []string
	// Nodes are the masters' processes at the start.
	Nodes []*Server
	// Replicas[i] is the replica of Nodes[i] at the start; none without
	// StartClusterWithReplicas.
	Replicas []*Server
}

// StartCluster starts n redis-server processes in cluster mode, without
// persistence, joins them with redis-cli --cluster create, so the 16384
// slots are split evenly, and waits until every node reports
// cluster_state:ok. The processes are killed at cleanup. Without
// redis-server or redis-cli the test is skipped, except on CI, where it
// fails. n must be at least 3, the fewest masters redis-cli accepts.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	requireBinaries(t, "this test needs a private Redis Cluster", "redis-server", "redis-cli")
	if n < 3 {
		t.Fatalf("testredis: a cluster needs at least 3 masters, not %d", n)
	}
	start := time.Now()
	addrs := freeAddrs(t, 2*n) // a client port and a bus port per node
	c := &Cluster{}
	for i := range n {
		_, bus, _ := net.SplitHostPort(addrs[n+i])
		c.Nodes = append(c.Nodes, startServer(t, addrs[i], bus))
		c.Addrs = append(c.Addrs, addrs[i])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, "redis-cli", args...)
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testredis: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(20*time.Second, n); err != nil {
		t.Fatalf("testredis: %v", err)
	}
	t.Logf("redis cluster: %d masters on %s, ready in %v", n, strings.Join(c.Addrs, " "), time.Since(start).Round(time.Millisecond))
	return c
}

// waitOK waits until every node reports cluster_state:ok, all slots
// served and all n nodes known.
func (c *Cluster) waitOK(limit time.Duration, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	want := []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:" + strconv.Itoa(n)}
	for _, addr := range c.Addrs {
		client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
		err := func() error {
			var info string
			for {
				var err error
				info, err = client.ClusterInfo(ctx).Result()
				if err == nil && containsLines(info, want) {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("cluster node %s not ready after %v: %v\n%s", addr, limit, err, info)
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		_ = client.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// containsLines reports whether every line of want is a line of info.
func containsLines(info string, want []string) bool {
	lines := strings.Split(strings.ReplaceAll(info, "\r\n", "\n"), "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			return false
		}
	}
	return true
}

// freeAddrs returns k distinct loopback addresses that were free a moment
// ago. All k listeners are open at once, so no two addresses coincide.
func freeAddrs(t testing.TB, k int) []string {
	t.Helper()
	addrs := make([]string, 0, k)
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

func freeAddr(t testing.TB) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
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
