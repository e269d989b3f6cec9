package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinels of [StartSentinel]
// monitor.
const SentinelMaster = "authkit"

// Sentinel is a master, one replica and three Sentinels on loopback
// ports (quorum 2, down-after-milliseconds 3000, failover-timeout 5000),
// without persistence. With 1000 the Sentinels once marked a master they
// had promoted a second before as down, under the load tool on a 2-core
// machine, and failed back to the old master, which had just rejoined:
// the writes of that second were lost without any fault of the run's.
type Sentinel struct {
	// Data are the data servers: at the start Data[0] is the master and
	// Data[1] its replica.
	Data []*Server
	// Sentinels are the Sentinel processes.
	Sentinels []*Server
}

// StartSentinel starts the set with its files under dir and waits, at
// most 30 s, until every Sentinel knows the replica and the two other
// Sentinels. Close stops everything.
func StartSentinel(dir string) (*Sentinel, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redisproc: %w (install redis-server)", err)
	}
	s := &Sentinel{}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	// A full sync starts at once, not after the 5 s a diskless sync waits
	// for more replicas by default.
	fast := []string{"--repl-diskless-sync-delay", "0"}
	master, err := startIn(dir, "master", fast...)
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(master.Addr)
	replica, err := startIn(dir, "replica", append(fast, "--replicaof", host, port)...)
	s.Data = []*Server{master, replica}
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s 2\n"+
		"sentinel down-after-milliseconds %[1]s 3000\n"+
		"sentinel failover-timeout %[1]s 5000\n"+
		"sentinel parallel-syncs %[1]s 1\n", SentinelMaster, host, port)
	for i := range 3 {
		sdir := filepath.Join(dir, "sentinel"+strconv.Itoa(i))
		if err := os.MkdirAll(sdir, 0o700); err != nil {
			return nil, err
		}
		path := filepath.Join(sdir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		srv := New(addr, sdir, "--sentinel")
		srv.Config = path
		s.Sentinels = append(s.Sentinels, srv)
		if err := srv.Start(); err != nil {
			return nil, err
		}
	}
	if err := s.WaitHealthy(30 * time.Second); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// startIn starts a server with its files in a new directory dir/name.
func startIn(dir, name string, args ...string) (*Server, error) {
	sub, addr, err := nodeDir(dir, name)
	if err != nil {
		return nil, err
	}
	return StartOn(addr, sub, args...)
}

// nodeDir makes the directory dir/name of a server and picks its address.
func nodeDir(dir, name string) (sub, addr string, err error) {
	sub = filepath.Join(dir, name)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return "", "", err
	}
	addr, err = FreeAddr()
	return sub, addr, err
}

// Addrs are the Sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	var addrs []string
	for _, srv := range s.Sentinels {
		addrs = append(addrs, srv.Addr)
	}
	return addrs
}

// Close stops every process.
func (s *Sentinel) Close() {
	for _, srv := range append(append([]*Server{}, s.Data...), s.Sentinels...) {
		srv.Close()
	}
}

// MasterAddr asks the Sentinels, in turn, for the master's address.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, addr := range s.Addrs() {
		c := sentinelClient(addr)
		hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("redisproc: no Sentinel names the master: %v", last)
}

// server returns the data server on addr, or nil.
func (s *Sentinel) server(addr string) *Server {
	for _, srv := range s.Data {
		if srv.Addr == addr {
			return srv
		}
	}
	return nil
}

// WaitHealthy waits, at most limit, until every Sentinel names the same
// master, running, with one replica whose link is up, and two other
// Sentinels, and that replica acknowledged every write (WAIT 1): a
// failover may then promote it without losing what was written before.
func (s *Sentinel) WaitHealthy(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return poll(ctx, func() error {
		var master string
		for _, addr := range s.Addrs() {
			c := sentinelClient(addr)
			m, err := c.Master(ctx, SentinelMaster).Result()
			var replicas []map[string]string
			if err == nil {
				replicas, err = c.Replicas(ctx, SentinelMaster).Result()
			}
			c.Close()
			if err != nil {
				return err
			}
			got := net.JoinHostPort(m["ip"], m["port"])
			if master != "" && got != master {
				return fmt.Errorf("sentinels disagree on the master: %s, %s", master, got)
			}
			master = got
			if strings.Contains(m["flags"], "down") || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s: master %s flags %s, %s other sentinels", addr, got, m["flags"], m["num-other-sentinels"])
			}
			up := 0
			for _, r := range replicas {
				if r["master-link-status"] == "ok" && !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
					up++
				}
			}
			if up < 1 {
				return fmt.Errorf("sentinel %s: no replica of %s with its link up", addr, got)
			}
		}
		if n, err := Wait(ctx, master, 1, time.Second); err != nil || n < 1 {
			return fmt.Errorf("WAIT 1 on %s: %d, %v", master, n, err)
		}
		return nil
	})
}

// Failover runs SENTINEL FAILOVER, retrying while the Sentinel finds no
// replica it may promote, and waits until the Sentinels name another
// master; it returns the old and the new master. At most limit.
func (s *Sentinel) Failover(limit time.Duration) (old, now string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if old, err = s.MasterAddr(ctx); err != nil {
		return "", "", err
	}
	c := sentinelClient(s.Sentinels[0].Addr)
	defer c.Close()
	// The Sentinel learns a replica's state with INFO every few seconds:
	// until then it answers NOGOODSLAVE.
	var final error
	err = poll(ctx, func() error {
		final = c.Failover(ctx, SentinelMaster).Err()
		if final != nil && strings.Contains(final.Error(), "NOGOODSLAVE") {
			return final
		}
		return nil
	})
	if err == nil {
		err = final
	}
	if err != nil {
		return old, "", err
	}
	now, err = s.waitNewMaster(ctx, old)
	return old, now, err
}

// KillMaster kills the master (SIGKILL) and waits, at most limit, until
// the Sentinels name another one; it returns both.
func (s *Sentinel) KillMaster(limit time.Duration) (old, now string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if old, err = s.MasterAddr(ctx); err != nil {
		return "", "", err
	}
	srv := s.server(old)
	if srv == nil {
		return old, "", fmt.Errorf("redisproc: the master %s is none of the set's servers", old)
	}
	srv.Stop()
	now, err = s.waitNewMaster(ctx, old)
	return old, now, err
}

// Restart starts every stopped data server again, empty (no
// persistence): the Sentinels make it a replica of the master.
func (s *Sentinel) Restart() error {
	for _, srv := range s.Data {
		if srv.Pid() == 0 {
			if err := srv.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Sentinel) waitNewMaster(ctx context.Context, old string) (string, error) {
	var now string
	err := poll(ctx, func() error {
		addr, err := s.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if addr == old {
			return errors.New("the Sentinels still name " + old)
		}
		now = addr
		return nil
	})
	return now, err
}

func sentinelClient(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
}

// Cluster is a Redis Cluster of three masters with a replica each, on
// loopback ports, without persistence (each node keeps its cluster
// configuration file across restarts).
type Cluster struct {
	// Masters are the masters at the start; Replicas[i] is the replica of
	// Masters[i] at the start.
	Masters, Replicas []*Server
}

// StartCluster starts the six nodes with their files under dir, joins the
// masters with redis-cli --cluster create, adds a replica to each with
// CLUSTER MEET and CLUSTER REPLICATE, and waits until the cluster is
// healthy (see WaitHealthy), at most 60 s in all. Close stops everything.
func StartCluster(dir string) (*Cluster, error) {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("redisproc: %w (install %s)", err, bin)
		}
	}
	c := &Cluster{}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 6 {
		srv, err := startNode(dir, "node"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		if i < 3 {
			c.Masters = append(c.Masters, srv)
		} else {
			c.Replicas = append(c.Replicas, srv)
		}
	}
	args := []string{"--cluster", "create"}
	for _, m := range c.Masters {
		args = append(args, m.Addr)
	}
	cmd := exec.CommandContext(ctx, "redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...)
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redisproc: redis-cli --cluster create: %v\n%s", err, out)
	}
	host, port, _ := net.SplitHostPort(c.Masters[0].Addr)
	bus, err := configGet(ctx, c.Masters[0].Addr, "cluster-port")
	if err != nil {
		return nil, err
	}
	for i, r := range c.Replicas {
		mc := nodeClient(c.Masters[i].Addr)
		id, err := mc.ClusterMyID(ctx).Result()
		mc.Close()
		if err != nil {
			return nil, fmt.Errorf("redisproc: CLUSTER MYID on %s: %w", c.Masters[i].Addr, err)
		}
		rc := nodeClient(r.Addr)
		// With its explicit bus port: MEET assumes port+10000 otherwise.
		err = rc.Do(ctx, "CLUSTER", "MEET", host, port, bus).Err()
		if err == nil {
			// CLUSTER REPLICATE needs the master in the node table, which
			// the handshake MEET starts fills in a moment.
			err = poll(ctx, func() error { return rc.ClusterReplicate(ctx, id).Err() })
		}
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("redisproc: replica %s of %s: %w", r.Addr, c.Masters[i].Addr, err)
		}
	}
	if err := c.WaitHealthy(time.Until(deadline(ctx))); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// startNode starts a cluster node with its files in dir/name.
func startNode(dir, name string) (*Server, error) {
	sub, addr, err := nodeDir(dir, name)
	if err != nil {
		return nil, err
	}
	busAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	_, bus, _ := net.SplitHostPort(busAddr)
	// Without an explicit bus port Redis uses port+10000 and refuses
	// ports above 55535.
	return StartOn(addr, sub, "--cluster-enabled", "yes", "--cluster-port", bus,
		"--cluster-config-file", filepath.Join(sub, "nodes.conf"), "--cluster-node-timeout", "2000",
		"--repl-diskless-sync-delay", "0")
}

// Addrs are the seed addresses of every node.
func (c *Cluster) Addrs() []string {
	var addrs []string
	for _, n := range c.nodes() {
		addrs = append(addrs, n.Addr)
	}
	return addrs
}

func (c *Cluster) nodes() []*Server { return append(append([]*Server{}, c.Masters...), c.Replicas...) }

// Close stops every node.
func (c *Cluster) Close() {
	for _, n := range c.nodes() {
		n.Close()
	}
}

// WaitHealthy waits, at most limit, until every running node reports
// cluster_state:ok with all slots served and knows all six nodes, there
// are three masters each
// with a replica whose link is up, and each replica acknowledged every
// write of its master (WAIT 1).
func (c *Cluster) WaitHealthy(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return poll(ctx, func() error {
		masters := 0
		for _, n := range c.nodes() {
			if n.Pid() == 0 {
				continue
			}
			nc := nodeClient(n.Addr)
			info, err := nc.ClusterInfo(ctx).Result()
			var repl string
			if err == nil {
				repl, err = nc.Info(ctx, "replication").Result()
			}
			nc.Close()
			if err != nil {
				return err
			}
			// Every node must know all six: a master that does not yet know
			// its replica ignores the replica's CLUSTER FAILOVER.
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") ||
				!strings.Contains(info, "cluster_known_nodes:6") {
				return fmt.Errorf("node %s: cluster not ok, or not every node known", n.Addr)
			}
			if strings.Contains(repl, "role:master") {
				if !strings.Contains(repl, "connected_slaves:1") {
					return fmt.Errorf("master %s without a connected replica", n.Addr)
				}
				if w, err := Wait(ctx, n.Addr, 1, time.Second); err != nil || w < 1 {
					return fmt.Errorf("WAIT 1 on %s: %d, %v", n.Addr, w, err)
				}
				masters++
			} else if !strings.Contains(repl, "master_link_status:up") {
				return fmt.Errorf("replica %s: link down", n.Addr)
			}
		}
		if masters != 3 {
			return fmt.Errorf("%d masters, want 3", masters)
		}
		return nil
	})
}

// Failover runs CLUSTER FAILOVER on the replica of shard, the coordinated
// switch that waits for it to catch up, and waits until it is master
// and every running node reports cluster_state:ok. It returns the old
// and the new master. At most limit.
func (c *Cluster) Failover(shard int, limit time.Duration) (old, now string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	m, r, err := c.shard(ctx, shard)
	if err != nil {
		return "", "", err
	}
	// A manual failover whose replica does not catch up within Redis's
	// 5 s limit is dropped without a word (seen on a loaded machine right
	// after the cluster started): ask again until limit.
	for {
		rc := nodeClient(r.Addr)
		repl, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(repl, "role:master") {
			rc.Close()
			return m.Addr, r.Addr, c.waitServing(ctx, r)
		}
		err = rc.ClusterFailover(ctx).Err()
		rc.Close()
		if err != nil {
			return m.Addr, "", fmt.Errorf("redisproc: CLUSTER FAILOVER on %s: %w", r.Addr, err)
		}
		try, stop := context.WithTimeout(ctx, 6*time.Second)
		err = c.waitServing(try, r)
		stop()
		if err == nil || ctx.Err() != nil {
			return m.Addr, r.Addr, err
		}
	}
}

// KillMaster kills the master of shard (SIGKILL) and waits until the
// cluster has promoted its replica (after the node timeout, 2 s) and
// every running node reports cluster_state:ok. At most limit.
func (c *Cluster) KillMaster(shard int, limit time.Duration) (old, now string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	m, r, err := c.shard(ctx, shard)
	if err != nil {
		return "", "", err
	}
	m.Stop()
	return m.Addr, r.Addr, c.waitServing(ctx, r)
}

// Restart starts every stopped node again, empty but with its cluster
// configuration: it rejoins as a replica of the master that took over.
func (c *Cluster) Restart() error {
	for _, n := range c.nodes() {
		if n.Pid() == 0 {
			if err := n.Start(); err != nil {
				return err
			}
		}
	}
	return nil
}

// shard returns the current master of the slots Masters[shard] held at
// the start, and its replica.
func (c *Cluster) shard(ctx context.Context, shard int) (master, replica *Server, err error) {
	pair := []*Server{c.Masters[shard], c.Replicas[shard]}
	for i, n := range pair {
		nc := nodeClient(n.Addr)
		repl, err := nc.Info(ctx, "replication").Result()
		nc.Close()
		if err == nil && strings.Contains(repl, "role:master") {
			return n, pair[1-i], nil
		}
	}
	return nil, nil, fmt.Errorf("redisproc: neither %s nor %s is a master", pair[0].Addr, pair[1].Addr)
}

// waitServing waits until r is a master and every running node reports
// cluster_state:ok with all slots served.
func (c *Cluster) waitServing(ctx context.Context, r *Server) error {
	return poll(ctx, func() error {
		rc := nodeClient(r.Addr)
		repl, err := rc.Info(ctx, "replication").Result()
		rc.Close()
		if err != nil {
			return err
		}
		if !strings.Contains(repl, "role:master") {
			return fmt.Errorf("%s is not master yet", r.Addr)
		}
		for _, n := range c.nodes() {
			if n.Pid() == 0 {
				continue
			}
			nc := nodeClient(n.Addr)
			info, err := nc.ClusterInfo(ctx).Result()
			nc.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				return fmt.Errorf("node %s: cluster not ok", n.Addr)
			}
		}
		return nil
	})
}

// Wait writes a key of its own on one connection to addr (on a cluster
// node, one of a slot it serves) and sends WAIT replicas timeout on the
// same connection: it returns how many replicas acknowledged every write
// the server had received before.
func Wait(ctx context.Context, addr string, replicas int, timeout time.Duration) (int, error) {
	c := nodeClient(addr)
	defer c.Close()
	key := "authkit-redisproc:barrier"
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	for i := 0; ; i++ {
		err := c.Set(ctx, key, stamp, time.Minute).Err()
		if err == nil {
			break
		}
		if !strings.HasPrefix(err.Error(), "MOVED") || i == 200 {
			return 0, err
		}
		key = "authkit-redisproc:barrier:{" + strconv.Itoa(i) + "}"
	}
	return c.Do(ctx, "WAIT", replicas, timeout.Milliseconds()).Int()
}

// nodeClient is a one-connection client without retries, for control.
func nodeClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
}

func configGet(ctx context.Context, addr, name string) (string, error) {
	c := nodeClient(addr)
	defer c.Close()
	v, err := c.ConfigGet(ctx, name).Result()
	if err != nil || v[name] == "" {
		return "", fmt.Errorf("redisproc: CONFIG GET %s on %s: %v %v", name, addr, v, err)
	}
	return v[name], nil
}

// poll calls f every 50 ms until it returns nil or ctx ends; then it
// returns f's last error.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redisproc: %w: %v", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
