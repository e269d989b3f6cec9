package redisproc

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// requireBinaries skips without the Redis binaries, except on CI (CI
// set), which installs them: there the test fails.
func requireBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED: -short: starts Redis processes")
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found on CI: %v", bin, err)
			}
			t.Skipf("SKIPPED: %s is not installed", bin)
		}
	}
}

// TestSentinelFailoverAndKill: SENTINEL FAILOVER names the replica, a
// killed master is replaced, and after Restart the set is healthy again,
// ready for the next fault.
func TestSentinelFailoverAndKill(t *testing.T) {
	requireBinaries(t)
	s, err := StartSentinel(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old, now, err := s.Failover(30 * time.Second)
	if err != nil || old != s.Data[0].Addr || now != s.Data[1].Addr {
		t.Fatalf("Failover = %s → %s, %v; want %s → %s", old, now, err, s.Data[0].Addr, s.Data[1].Addr)
	}
	t0 := time.Now()
	if err := s.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("healthy %v after the failover", time.Since(t0).Round(time.Millisecond))
	old, now, err = s.KillMaster(30 * time.Second)
	if err != nil || old != s.Data[1].Addr || now != s.Data[0].Addr {
		t.Fatalf("KillMaster = %s → %s, %v; want %s → %s", old, now, err, s.Data[1].Addr, s.Data[0].Addr)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if err := s.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("healthy %v after the restart", time.Since(t0).Round(time.Millisecond))
}

// TestClusterFailoverAndKill: CLUSTER FAILOVER and a killed master each
// hand a shard to its replica, and after Restart every master has a
// replica again.
func TestClusterFailoverAndKill(t *testing.T) {
	requireBinaries(t)
	c, err := StartCluster(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	old, now, err := c.Failover(0, 30*time.Second)
	if err != nil || old != c.Masters[0].Addr || now != c.Replicas[0].Addr {
		t.Fatalf("Failover(0) = %s → %s, %v", old, now, err)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Shard 0's master is now Replicas[0]: kill it.
	old, now, err = c.KillMaster(0, 30*time.Second)
	if err != nil || old != c.Replicas[0].Addr || now != c.Masters[0].Addr {
		t.Fatalf("KillMaster(0) = %s → %s, %v", old, now, err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}
