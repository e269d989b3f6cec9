package testredis

import (
	"context"
	"testing"
	"time"
)

// TestClusterFailoverHelpers starts a cluster with a replica per master,
// checks that a write reaches the replicas, that CLUSTER FAILOVER makes a
// replica the master of its slots, and that killing a master makes the
// cluster promote its replica.
func TestClusterFailoverHelpers(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test starts a Redis Cluster with replicas")
	}
	c := StartClusterWithReplicas(t, 3)
	if len(c.Replicas) != 3 {
		t.Fatalf("%d replicas, want 3", len(c.Replicas))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitReplicated(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Run("CLUSTER FAILOVER", func(t *testing.T) {
		if err := c.Failover(0, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitPromoted(0, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		// The old master follows its former replica.
		if err := waitRole(ctx, c.Addrs[0], "slave", c.Replicas[0].Addr); err != nil {
			t.Error(err)
		}
	})
	t.Run("master killed", func(t *testing.T) {
		c.Nodes[1].Stop()
		if err := c.WaitPromoted(1, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	})
}
