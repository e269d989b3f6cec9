package testredis

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replica is a private replica of a [Server], connected to its master
// through a loopback relay the test can cut, as a network partition
// would.
type Replica struct {
	*Server
	relay *relay
}

// StartReplica starts a replica of master (--replicaof the relay's
// address) and waits until master's writes reach it: a write and WAIT 1
// acknowledged within 10 s. Without redis-server the test is skipped,
// except on CI, where it fails.
func StartReplica(t testing.TB, master *Server) *Replica {
	t.Helper()
	requireBinaries(t, "this test needs a private replica", "redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The master sends its first full sync at once, not after the 5 s a
	// diskless sync waits by default for more replicas.
	mc := redis.NewClient(&redis.Options{Addr: master.Addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err()
	mc.Close()
	if err != nil {
		t.Fatalf("testredis: %v", err)
	}
	r := newRelay(t, master.Addr)
	host, port, _ := net.SplitHostPort(r.l.Addr().String())
	srv := startProc(t, freeAddr(t), t.TempDir(), "", "--replicaof", host, port)
	if n, err := Wait(ctx, master.Addr, 1, 10*time.Second); err != nil || n != 1 {
		t.Fatalf("testredis: replica %s of %s not in sync: WAIT 1 answered %d, %v", srv.Addr, master.Addr, n, err)
	}
	return &Replica{Server: srv, relay: r}
}

// Cut breaks the replication link for good: the relay drops what it has
// not yet delivered and refuses the replica's reconnections. Writes the
// master accepts afterwards never reach the replica.
func (r *Replica) Cut() { r.relay.close() }

// Promote makes the replica a master with the data it has
// (REPLICAOF NO ONE), as a failover would.
func (r *Replica) Promote(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	return c.SlaveOf(ctx, "NO", "ONE").Err()
}

// relay forwards loopback connections to target until closed.
type relay struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// newRelay starts a relay to target that is closed at cleanup.
func newRelay(t testing.TB, target string) *relay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	r := &relay{l: l, target: target}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		in, err := r.l.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", r.target, time.Second)
		if err != nil {
			in.Close()
			continue
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		r.conns = append(r.conns, in, out)
		r.wg.Add(2)
		r.mu.Unlock()
		go r.pipe(in, out)
		go r.pipe(out, in)
	}
}

// pipe copies from src to dst and closes both when either side ends.
func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// close stops the relay and every connection through it, and waits for
// its goroutines.
func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.l.Close()
	r.wg.Wait()
}
