package testredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/redisproc"
)

// SentinelMaster is the name the Sentinels of [StartSentinel] monitor.
const SentinelMaster = "authkit"

// Sentinel is a private master, one replica and three Sentinels on
// loopback ports, for tests that force a failover.
type Sentinel struct {
	// Name is the monitored master's name, [SentinelMaster].
	Name string
	// Addrs are the Sentinels' addresses, for redis.FailoverOptions.
	Addrs []string
	// Servers are the data servers: at the start Servers[0] is the master
	// and Servers[1] its replica.
	Servers []*Server
	t       testing.TB
}

// StartSentinel starts a master, a replica of it (--replicaof) and three
// Sentinels monitoring the master with quorum 2, down-after-milliseconds
// 1000 and failover-timeout 5000, and waits until every Sentinel knows
// the replica and the two other Sentinels and the replica's link is up.
// Everything is killed at cleanup. Without redis-server the test is
// skipped, except on CI, where it fails.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	requireBinaries(t, "this test needs a private master, replica and Sentinels", "redis-server")
	start := time.Now()
	addrs := freeAddrs(t, 5)
	s := &Sentinel{Name: SentinelMaster, Addrs: addrs[2:], t: t}
	// Each server sends a full sync at once, not after the 5 s a diskless
	// sync waits by default for more replicas (after a failover the
	// replica is the master).
	fast := []string{"--repl-diskless-sync-delay", "0"}
	master := startProc(t, addrs[0], t.TempDir(), "", fast...)
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := startProc(t, addrs[1], t.TempDir(), "", append(fast, "--replicaof", host, port)...)
	s.Servers = []*Server{master, replica}
	conf := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 2\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 5000\n"+
		"sentinel parallel-syncs %[1]s 1\n", s.Name, host, port)
	for _, addr := range s.Addrs {
		dir := t.TempDir()
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		startProc(t, addr, dir, path, "--sentinel")
	}
	if err := s.waitReady(30*time.Second, master.Addr); err != nil {
		t.Fatalf("testredis: %v", err)
	}
	t.Logf("redis sentinel: master %s, replica %s, sentinels %s, ready in %v", master.Addr, replica.Addr,
		strings.Join(s.Addrs, " "), time.Since(start).Round(time.Millisecond))
	return s
}

// waitReady waits until every Sentinel reports master as the master, with
// one replica whose link is up and two other Sentinels.
func (s *Sentinel) waitReady(limit time.Duration, master string) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for _, addr := range s.Addrs {
		var last error
		for {
			if last = s.sentinelReady(ctx, addr, master); last == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("sentinel %s not ready after %v: %v", addr, limit, last)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// sentinelReady checks one Sentinel's view: the master at master, one
// replica with its link up, and two other Sentinels.
func (s *Sentinel) sentinelReady(ctx context.Context, addr, master string) error {
	c := redis.NewSentinelClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	m, err := c.Master(ctx, s.Name).Result()
	if err != nil {
		return err
	}
	got := net.JoinHostPort(m["ip"], m["port"])
	if got != master || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || strings.Contains(m["flags"], "down") {
		return fmt.Errorf("master %s flags %s, %s replicas, %s other sentinels", got, m["flags"], m["num-slaves"], m["num-other-sentinels"])
	}
	replicas, err := c.Replicas(ctx, s.Name).Result()
	if err != nil {
		return err
	}
	for _, r := range replicas {
		if r["master-link-status"] != "ok" || strings.Contains(r["flags"], "down") || strings.Contains(r["flags"], "disconnected") {
			return fmt.Errorf("replica %s:%s flags %s, link %s", r["ip"], r["port"], r["flags"], r["master-link-status"])
		}
	}
	return nil
}

// MasterAddr asks the first Sentinel that answers for the master's
// address.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, addr := range s.Addrs {
		c := redis.NewSentinelClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
		hp, err := c.GetMasterAddrByName(ctx, s.Name).Result()
		c.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel names the master: %v", last)
}

// Server returns the data server listening on addr, or nil.
func (s *Sentinel) Server(addr string) *Server {
	for _, srv := range s.Servers {
		if srv.Addr == addr {
			return srv
		}
	}
	return nil
}

// Failover runs SENTINEL FAILOVER on the first Sentinel, retrying while
// it finds no replica it may promote (it learns a replica's state with
// INFO every few seconds), for up to 20 s.
func (s *Sentinel) Failover() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addrs[0], ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	for {
		err := c.Failover(ctx, s.Name).Err()
		if err == nil || !strings.Contains(err.Error(), "NOGOODSLAVE") {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sentinel failover: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitNewMaster waits up to limit until the Sentinels name a master other
// than old, and returns it.
func (s *Sentinel) WaitNewMaster(limit time.Duration, old string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		addr, err := s.MasterAddr(attempt)
		cancelAttempt()
		if err == nil && addr != old {
			return addr, nil
		}
		select {
		case <-ctx.Done():
			return "", errors.New("no new master after " + limit.String() + ", still " + addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Wait runs WAIT replicas timeout on one connection to addr after a write
// of its own, so that it returns once replicas acknowledged every write the
// master had received before it (the replication stream is ordered). It
// returns the number of replicas that did. On a cluster master the write
// goes to a key of one of its own slots. (It is [redisproc.Wait].)
func Wait(ctx context.Context, addr string, replicas int, timeout time.Duration) (int, error) {
	return redisproc.Wait(ctx, addr, replicas, timeout)
}
