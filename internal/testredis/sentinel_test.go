package testredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
)

// TestSentinel starts the Sentinel set, checks that a write reaches the
// replica, and that SENTINEL FAILOVER makes the replica the master.
func TestSentinel(t *testing.T) {
	s := testredis.StartSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := s.MasterAddr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old != s.Servers[0].Addr {
		t.Fatalf("master %s, want %s", old, s.Servers[0].Addr)
	}
	if n, err := testredis.Wait(ctx, old, 1, 5*time.Second); err != nil || n != 1 {
		t.Fatalf("WAIT: %d replicas, %v", n, err)
	}
	if err := s.Failover(); err != nil {
		t.Fatal(err)
	}
	addr, err := s.WaitNewMaster(20*time.Second, old)
	if err != nil {
		t.Fatal(err)
	}
	if addr != s.Servers[1].Addr {
		t.Errorf("new master %s, want the replica %s", addr, s.Servers[1].Addr)
	}
}
