package testredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartClusterWithReplicas is [StartCluster] with one replica per master:
// n masters holding the slots, and n more nodes, Replicas[i] a replica of
// Nodes[i] (CLUSTER REPLICATE). It waits until every node knows all 2n,
// every replica's link to its master is up and every node reports
// cluster_state:ok. Everything is killed at cleanup.
func StartClusterWithReplicas(t testing.TB, n int) *Cluster {
	t.Helper()
	start := time.Now()
	c := StartCluster(t, n)
	addrs := freeAddrs(t, 2*n) // a client port and a bus port per replica
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(c.Addrs[0])
	bus, err := clusterPort(ctx, c.Addrs[0])
	if err != nil {
		t.Fatalf("testredis: %v", err)
	}
	for i := range n {
		_, rbus, _ := net.SplitHostPort(addrs[n+i])
		r := startServer(t, addrs[i], rbus, "--repl-diskless-sync-delay", "0")
		c.Replicas = append(c.Replicas, r)
		// The master sends its first full sync at once, not after the
		// 5 s a diskless sync waits by default for more replicas.
		mc := redis.NewClient(&redis.Options{Addr: c.Addrs[i], ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
		err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err()
		mc.Close()
		if err != nil {
			t.Fatalf("testredis: %v", err)
		}
		master, err := nodeID(ctx, c.Addrs[i])
		if err != nil {
			t.Fatalf("testredis: %v", err)
		}
		rc := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
		// With its explicit bus port: MEET assumes port+10000 otherwise.
		err = rc.Do(ctx, "CLUSTER", "MEET", host, port, bus).Err()
		// CLUSTER REPLICATE needs the master in the node table: the
		// handshake that MEET starts takes a moment.
		for err == nil {
			err = rc.ClusterReplicate(ctx, master).Err()
			if err == nil || !strings.Contains(err.Error(), "Unknown node") {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
				err = nil
			}
		}
		rc.Close()
		if err != nil {
			t.Fatalf("testredis: replica %s of %s: %v", r.Addr, c.Addrs[i], err)
		}
	}
	all := append(append([]string{}, c.Addrs...), c.replicaAddrs()...)
	if err := (&Cluster{Addrs: all}).waitOK(30*time.Second, 2*n); err != nil {
		t.Fatalf("testredis: %v", err)
	}
	for i, r := range c.Replicas {
		if err := waitRole(ctx, r.Addr, "slave", c.Addrs[i]); err != nil {
			t.Fatalf("testredis: %v", err)
		}
	}
	t.Logf("redis cluster: replicas %s of the masters, ready %v after the start", strings.Join(c.replicaAddrs(), " "),
		time.Since(start).Round(time.Millisecond))
	return c
}

func (c *Cluster) replicaAddrs() []string {
	var addrs []string
	for _, r := range c.Replicas {
		addrs = append(addrs, r.Addr)
	}
	return addrs
}

// clusterPort returns the cluster bus port of the node at addr.
func clusterPort(ctx context.Context, addr string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	v, err := c.ConfigGet(ctx, "cluster-port").Result()
	if err != nil || v["cluster-port"] == "" {
		return "", fmt.Errorf("CONFIG GET cluster-port on %s: %v %v", addr, v, err)
	}
	return v["cluster-port"], nil
}

// nodeID returns the cluster node id of the node at addr.
func nodeID(ctx context.Context, addr string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	id, err := c.ClusterMyID(ctx).Result()
	if err != nil {
		return "", fmt.Errorf("CLUSTER MYID on %s: %w", addr, err)
	}
	return id, nil
}

// role reads ROLE on addr: "master", or "slave" with its master's
// address and whether the link is up ("connected").
func role(ctx context.Context, addr string) (kind, master string, linked bool, err error) {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", "", false, err
	}
	if len(v) == 0 {
		return "", "", false, errors.New("empty ROLE reply")
	}
	kind, _ = v[0].(string)
	if kind == "slave" && len(v) >= 4 {
		h, _ := v[1].(string)
		p, _ := v[2].(int64)
		state, _ := v[3].(string)
		return kind, net.JoinHostPort(h, strconv.FormatInt(p, 10)), state == "connected", nil
	}
	return kind, "", false, nil
}

// waitRole waits until the node at addr has the role kind: "master", or
// "slave" of master with its link up.
func waitRole(ctx context.Context, addr, kind, master string) error {
	var last string
	for {
		k, m, linked, err := role(ctx, addr)
		if err == nil && k == kind && (kind == "master" || (m == master && linked)) {
			return nil
		}
		last = fmt.Sprintf("role %s of %s, linked %v, err %v", k, m, linked, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s is not %s %s: %s", addr, kind, master, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Failover runs CLUSTER FAILOVER on the replica of master i, the
// coordinated switch that waits for the replica to catch up, and returns
// once the replica reports itself master, within limit. Redis drops a
// manual failover whose replica does not catch up within its 5 s limit
// without a word (seen on a loaded machine in CI), so it asks again,
// every 6 s, until limit; internal/redisproc's Cluster.Failover does the
// same for the load tool.
func (c *Cluster) Failover(i int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	r := c.Replicas[i]
	for {
		if kind, _, _, err := role(ctx, r.Addr); err == nil && kind == "master" {
			return nil
		}
		rc := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
		err := rc.ClusterFailover(ctx).Err()
		rc.Close()
		if err != nil {
			return fmt.Errorf("CLUSTER FAILOVER on %s: %w", r.Addr, err)
		}
		try, stop := context.WithTimeout(ctx, 6*time.Second)
		err = waitRole(try, r.Addr, "master", "")
		stop()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
}

// WaitPromoted waits, at most limit, until the replica of master i
// reports itself master and every live node but the old master reports
// cluster_state:ok: the slots of master i are served again.
func (c *Cluster) WaitPromoted(i int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := waitRole(ctx, c.Replicas[i].Addr, "master", ""); err != nil {
		return err
	}
	var live []string
	for j, n := range c.Nodes {
		if j != i || n.proc.Pid() != 0 {
			live = append(live, n.Addr)
		}
	}
	live = append(live, c.replicaAddrs()...)
	for _, addr := range live {
		if err := waitClusterOK(ctx, addr); err != nil {
			return err
		}
	}
	return nil
}

// waitClusterOK waits until the node at addr reports cluster_state:ok
// with every slot served.
func waitClusterOK(ctx context.Context, addr string) error {
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer client.Close()
	want := []string{"cluster_state:ok", "cluster_slots_ok:16384"}
	for {
		info, err := client.ClusterInfo(ctx).Result()
		if err == nil && containsLines(info, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster node %s not ok: %v\n%s", addr, err, info)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReplicated waits until the replica of every master acknowledged
// every write its master had received (WAIT 1 on each master), within
// limit.
func (c *Cluster) WaitReplicated(ctx context.Context, limit time.Duration) error {
	for _, addr := range c.Addrs {
		if n, err := Wait(ctx, addr, 1, limit); err != nil || n != 1 {
			return fmt.Errorf("WAIT 1 on %s: %d replicas acknowledged, %v", addr, n, err)
		}
	}
	return nil
}
