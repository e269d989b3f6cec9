package testredis

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Several tests dial addresses where nothing listens on purpose;
	// go-redis would log every failed dial.
	redis.SetLogger(quiet{})
	goleak.VerifyTestMain(m)
}

// quiet is a go-redis logger that drops everything.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestBackendURL(t *testing.T) {
	const url = "redis://127.0.0.1:6379/0"
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"Unset", nil, "", false},
		{"Set", map[string]string{EnvVar: url}, url, false},
		{"SetInCI", map[string]string{EnvVar: url, "CI": "true"}, url, false},
		{"UnsetInCI", map[string]string{"CI": "true"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := backendURL(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("backendURL = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNew(t *testing.T) {
	ctx := t.Context()
	c1, p1 := New(t)
	_, p2 := New(t)
	for _, p := range []string{p1, p2} {
		if !strings.HasPrefix(p, "authkit-test:") || !strings.HasSuffix(p, ":") {
			t.Errorf("prefix %q, want authkit-test:<random>:", p)
		}
	}
	if p1 == p2 {
		t.Errorf("two calls returned the same prefix %q", p1)
	}
	if c, ok := c1.(*redis.Client); !ok || !c.Options().ContextTimeoutEnabled {
		t.Errorf("client %T does not set ContextTimeoutEnabled", c1)
	}
	for _, k := range []string{p1 + "a", p1 + "b", p2 + "a"} {
		if err := c1.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := Keys(ctx, c1, p1)
	if err != nil || len(keys) != 2 {
		t.Errorf("Keys(%s) = %q, %v; want the 2 keys under it", p1, keys, err)
	}
	DeletePrefix(t, c1, p1)
	if keys, err := Keys(ctx, c1, p1); err != nil || len(keys) != 0 {
		t.Errorf("Keys after DeletePrefix = %q, %v; want none", keys, err)
	}
	if n, err := c1.Exists(ctx, p2+"a").Result(); err != nil || n != 1 {
		t.Errorf("DeletePrefix(%s) touched %sa: exists = %d, %v", p1, p2, n, err)
	}
}

// recorder stands in for a test in calls to the helpers, recording its
// log lines and its fatal failure or skip instead of ending the real test.
type recorder struct {
	testing.TB
	logs  []string
	fatal string
	skip  string
}

func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record calls f with a recorder, on a goroutine of its own so that a
// fatal failure or a skip ends f only.
func record(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// runNew calls New with a recorder.
func runNew(t *testing.T) *recorder {
	return record(t, func(tb testing.TB) { New(tb) })
}

func TestNewBackend(t *testing.T) {
	tests := []struct {
		name      string
		url, ci   string
		wantLog   string // in a log line; "" for none
		wantFatal string // in the fatal message; "" for none
	}{
		{"Miniredis", "", "", "in-process miniredis", ""},
		{"MissingOnCI", "", "true", "", "CI must test against a real Redis"},
		{"Unreachable", "redis://" + freeAddr(t), "", "", "does not answer PING"},
		{"BadURL", "http://example.com", "", "", EnvVar},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvVar, tc.url)
			t.Setenv("CI", tc.ci)
			r := runNew(t)
			if !strings.Contains(r.fatal, tc.wantFatal) || (tc.wantFatal == "") != (r.fatal == "") {
				t.Errorf("fatal = %q, want one containing %q", r.fatal, tc.wantFatal)
			}
			if tc.wantLog != "" && !strings.Contains(strings.Join(r.logs, "\n"), tc.wantLog) {
				t.Errorf("logs = %q, want a line containing %q", r.logs, tc.wantLog)
			}
		})
	}
}

func TestNewLogsRealServer(t *testing.T) {
	if Backend() != "redis" {
		t.Skipf("SKIPPED: %s is not set", EnvVar)
	}
	r := runNew(t)
	if r.fatal != "" {
		t.Fatal(r.fatal)
	}
	if len(r.logs) != 1 || !strings.Contains(r.logs[0], EnvVar) {
		t.Errorf("logs = %q, want one line naming the server and %s", r.logs, EnvVar)
	}
}

func TestPing(t *testing.T) {
	mr := miniredis.RunT(t)
	tests := []struct {
		name    string
		addr    string
		wantErr bool
	}{
		{"Answers", mr.Addr(), false},
		{"Refused", freeAddr(t), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: tc.addr, ContextTimeoutEnabled: true, MaxRetries: -1})
			defer c.Close()
			if err := ping(c); (err != nil) != tc.wantErr {
				t.Errorf("ping = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestBlackhole checks that a Blackhole accepts connections and never
// answers, so a call against it ends only when its context does.
func TestBlackhole(t *testing.T) {
	hole := NewBlackhole(t)
	c := redis.NewClient(&redis.Options{Addr: hole.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING against a Blackhole succeeded")
	}
	// go-redis may give up a moment before the context's deadline.
	if elapsed := time.Since(start); elapsed < deadline/2 || elapsed > deadline+2*time.Second {
		t.Errorf("PING failed after %v (%v), want about the %v deadline", elapsed, err, deadline)
	}
}

// TestMissingBinaries checks that StartServer and StartCluster skip loudly
// without the Redis programs, and fail on CI, which must run them.
func TestMissingBinaries(t *testing.T) {
	starters := []struct {
		name  string
		start func(testing.TB)
	}{
		{"StartServer", func(tb testing.TB) { StartServer(tb) }},
		{"StartCluster", func(tb testing.TB) { StartCluster(tb, 3) }},
	}
	for _, st := range starters {
		for _, ci := range []string{"", "true"} {
			t.Run(fmt.Sprintf("%s/CI=%q", st.name, ci), func(t *testing.T) {
				t.Setenv("PATH", t.TempDir())
				t.Setenv("CI", ci)
				r := record(t, st.start)
				if ci == "" {
					if !strings.HasPrefix(r.skip, "SKIPPED: redis-server is not installed") || r.fatal != "" {
						t.Errorf("skip = %q, fatal = %q; want a skip naming redis-server", r.skip, r.fatal)
					}
				} else if !strings.Contains(r.fatal, "redis-server not found on CI") || r.skip != "" {
					t.Errorf("fatal = %q, skip = %q; want a failure naming redis-server", r.fatal, r.skip)
				}
			})
		}
	}
}

func TestStartServer(t *testing.T) {
	srv := StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING after Stop succeeded")
	}
	srv.Start()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("after a restart EXISTS k = %d, %v; want 0: no persistence", n, err)
	}
}

// TestStartServerWith starts a server with AOF and checks that a key
// written before a graceful shutdown and one written before a kill are
// both there after a restart (a killed redis-server has handed its AOF
// writes to the kernel before it replied).
func TestStartServerWith(t *testing.T) {
	srv := StartServerWith(t, "--appendonly", "yes", "--appendfsync", "everysec")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		stop func()
	}{{"Shutdown", srv.Shutdown}, {"Stop", srv.Stop}} {
		if err := c.Set(ctx, tc.name, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		tc.stop()
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatalf("PING after %s succeeded", tc.name)
		}
		srv.Start()
		if n, err := c.Exists(ctx, tc.name).Result(); err != nil || n != 1 {
			t.Errorf("after %s and a restart EXISTS %s = %d, %v; want 1", tc.name, tc.name, n, err)
		}
	}
}

// TestStartServerPortTaken checks that a server that cannot bind its port
// fails the test with its log, instead of passing off whatever listens
// there as ready.
func TestStartServerPortTaken(t *testing.T) {
	requireBinaries(t, "this test starts redis-server", "redis-server")
	hole := NewBlackhole(t)
	start := time.Now()
	r := record(t, func(tb testing.TB) { startServer(tb, hole.Addr, "") })
	if !strings.Contains(r.fatal, "exited before answering") || !strings.Contains(r.fatal, "Address already in use") {
		t.Errorf("fatal = %q, want the exit and the server's log", r.fatal)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing took %v", d)
	}
}

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test starts a Redis Cluster")
	}
	var addrs []string
	t.Run("Running", func(t *testing.T) {
		c := StartCluster(t, 3)
		addrs = c.Addrs
		if len(c.Addrs) != 3 || len(c.Nodes) != 3 {
			t.Fatalf("cluster has %d addresses and %d nodes, want 3", len(c.Addrs), len(c.Nodes))
		}
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
		defer rdb.Close()
		ctx := t.Context()
		slots, err := rdb.ClusterSlots(ctx).Result()
		if err != nil || len(slots) != 3 {
			t.Fatalf("CLUSTER SLOTS = %v, %v; want 3 ranges", slots, err)
		}
		for i := range 30 {
			if err := rdb.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		sizes := map[string]int64{}
		err = rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			n, err := m.DBSize(ctx).Result()
			mu.Lock()
			sizes[m.Options().Addr] = n
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for addr, n := range sizes {
			if n == 0 {
				t.Errorf("master %s holds none of 30 keys; all: %v", addr, sizes)
			}
		}
		if len(sizes) != 3 {
			t.Errorf("keys on %d masters (%v), want 3", len(sizes), sizes)
		}
	})
	// The cleanup of the subtest killed the nodes.
	for _, addr := range addrs {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after cleanup", addr)
		}
	}
}
