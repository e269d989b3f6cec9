package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/internal/redisproc"
)

// The Redis topologies of -redis.
const (
	modeSingle   = "single"
	modeSentinel = "sentinel"
	modeCluster  = "cluster"
)

// failoverKinds are the faults of the sentinel and cluster modes, in the
// order the tool injects them by default: a coordinated failover
// (SENTINEL FAILOVER, or CLUSTER FAILOVER on a replica), then a master
// killed with SIGKILL, which the Sentinels or the cluster replace.
var failoverKinds = []string{"failover", "kill-master"}

// Bounds of a failover fault.
const (
	// healthyWait bounds the wait, before each failover, for a replica
	// the Sentinels or the cluster may promote. After SENTINEL FAILOVER
	// the Sentinels see the demoted master as a healthy replica only at
	// their next INFO, up to about 20 s later.
	healthyWait = 40 * time.Second
	// promoteWait bounds the wait for the new master.
	promoteWait = 30 * time.Second
	// settleAfter is how long the load goes on after the last failover
	// ended, to show that every request succeeds again.
	settleAfter = 6 * time.Second
	// failoverStoreTimeout is the demo's store deadline in these modes
	// (AUTHKIT_STORE_TIMEOUT), as TestSentinelFailover's in ginauth.
	failoverStoreTimeout = 2 * time.Second
	// firstFailover is when the first failover comes, at the latest.
	firstFailover = 8 * time.Second
	// calmGap is the least time between the end of one fault and the
	// next failover, so that each 503 belongs to one fault's window.
	calmGap = 5 * time.Second
)

// topology is a Sentinel set or a Cluster the tool fails over.
type topology interface {
	// env returns AUTHKIT_REDIS_MODE and REDIS_URL for the demo.
	env() (mode, url string)
	describe() string
	// healthy waits until a failover would lose nothing acknowledged so
	// far: every master has a replica in sync that may be promoted.
	healthy(limit time.Duration) error
	// failover and killMaster force a failover and return once the new
	// master serves; they return the old and the new master.
	failover(limit time.Duration) (old, now string, err error)
	killMaster(limit time.Duration) (old, now string, err error)
	// restart starts killed servers again, to rejoin as replicas.
	restart() error
	close()
}

type sentinelTopology struct{ s *redisproc.Sentinel }

func (t sentinelTopology) env() (string, string) {
	a := t.s.Addrs()
	return modeSentinel, "redis://" + a[0] + "/0?master_name=" + redisproc.SentinelMaster + "&addr=" + strings.Join(a[1:], "&addr=")
}

func (t sentinelTopology) describe() string {
	return fmt.Sprintf("Sentinel set: master %s, replica %s, Sentinels %s", t.s.Data[0].Addr, t.s.Data[1].Addr, strings.Join(t.s.Addrs(), " "))
}
func (t sentinelTopology) healthy(limit time.Duration) error { return t.s.WaitHealthy(limit) }
func (t sentinelTopology) failover(limit time.Duration) (string, string, error) {
	return t.s.Failover(limit)
}
func (t sentinelTopology) killMaster(limit time.Duration) (string, string, error) {
	return t.s.KillMaster(limit)
}
func (t sentinelTopology) restart() error { return t.s.Restart() }
func (t sentinelTopology) close()         { t.s.Close() }

// clusterTopology fails over shard 0, the slots of the first master.
type clusterTopology struct{ c *redisproc.Cluster }

func (t clusterTopology) env() (string, string) {
	a := t.c.Addrs()
	return modeCluster, "redis://" + a[0] + "?addr=" + strings.Join(a[1:], "&addr=")
}

func (t clusterTopology) describe() string {
	var m, r []string
	for i := range t.c.Masters {
		m, r = append(m, t.c.Masters[i].Addr), append(r, t.c.Replicas[i].Addr)
	}
	return fmt.Sprintf("Redis Cluster: masters %s, replicas %s", strings.Join(m, " "), strings.Join(r, " "))
}
func (t clusterTopology) healthy(limit time.Duration) error { return t.c.WaitHealthy(limit) }
func (t clusterTopology) failover(limit time.Duration) (string, string, error) {
	return t.c.Failover(0, limit)
}
func (t clusterTopology) killMaster(limit time.Duration) (string, string, error) {
	return t.c.KillMaster(0, limit)
}
func (t clusterTopology) restart() error { return t.c.Restart() }
func (t clusterTopology) close()         { t.c.Close() }

// startTopology starts the processes of mode under dir.
func startTopology(mode, dir string) (topology, error) {
	switch mode {
	case modeSentinel:
		s, err := redisproc.StartSentinel(dir)
		if err != nil {
			return nil, err
		}
		return sentinelTopology{s}, nil
	case modeCluster:
		c, err := redisproc.StartCluster(dir)
		if err != nil {
			return nil, err
		}
		return clusterTopology{c}, nil
	}
	return nil, fmt.Errorf("unknown -redis %q", mode)
}

// injectFailovers forces each failover of kinds in turn: the first a
// quarter into the load (at most firstFailover), each later one calmGap
// after the previous fault ended, once the topology is healthy again
// (a replica in sync that may be promoted). Before each it waits until
// the replicas have every
// acknowledged write (the barrier): a session written after it may be
// lost with the failover, as Redis replicates asynchronously. A killed
// master is started again afterwards, to rejoin as a replica. It returns
// when the last failover ended, so that the load can stop settleAfter
// later.
func (lt *loadtest) injectFailovers(ctx context.Context, kinds []string, start time.Time, d time.Duration) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(start.Add(min(d/4, firstFailover)))):
	}
	for i, k := range kinds {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(calmGap):
			}
		}
		if ctx.Err() != nil {
			return errors.New("the load ended before every failover was forced; raise -duration")
		}
		if err := lt.topo.healthy(healthyWait); err != nil {
			return fmt.Errorf("%s: no healthy replica to promote: %w", k, err)
		}
		barrier := time.Now()
		if err := lt.topo.healthy(10 * time.Second); err != nil { // the barrier: WAIT on every master
			return fmt.Errorf("%s: barrier: %w", k, err)
		}
		var (
			f        *fault
			old, now string
			err      error
		)
		switch k {
		case "failover":
			f = lt.tl.begin(k, map[string]string{modeSentinel: "SENTINEL FAILOVER", modeCluster: "CLUSTER FAILOVER on a replica"}[lt.mode])
			f.barrier = barrier
			old, now, err = lt.topo.failover(promoteWait)
		case "kill-master":
			f = lt.tl.begin(k, "kill -9 the master")
			f.barrier = barrier
			old, now, err = lt.topo.killMaster(promoteWait)
		}
		lt.tl.finish(f, fmt.Sprintf("master %s → %s", old, now))
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if k == "kill-master" {
			if err := lt.rejoin(); err != nil {
				return err
			}
		}
	}
	return nil
}

// rejoin starts the killed master again, empty (no persistence), as a
// supervisor would, and waits until it is a replica in sync: a fault of
// its own, "rejoin", since the master's full sync to it may hold up a
// request.
func (lt *loadtest) rejoin() error {
	f := lt.tl.begin("rejoin", "start the killed master again, empty: it becomes a replica and syncs")
	err := lt.topo.restart()
	if err == nil {
		err = lt.topo.healthy(healthyWait)
	}
	lt.tl.finish(f, "")
	if err != nil {
		return fmt.Errorf("rejoin of the killed master: %w", err)
	}
	return nil
}
