package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// TestWaitReplicas shows what Options.WaitReplicas changes in a failover.
// A master and its replica are in sync; then the replication link is cut,
// a refresh is rotated and a session created on the master, and the
// replica is promoted, as a failover during a partition would. Without
// WaitReplicas both writes succeed, and the promoted replica does not
// have them: the new refresh token and the new session are refused. With
// WaitReplicas both calls fail with ErrNotReplicated after the wait, so
// nothing the client was told is lost, and retrying the rotation on the
// promoted replica succeeds. Before the cut, with WaitReplicas, a
// successful rotation is on the replica.
func TestWaitReplicas(t *testing.T) {
	tests := []struct {
		name     string
		replicas int
	}{
		{"without WaitReplicas", 0},
		{"WaitReplicas 1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master := testredis.StartServer(t)
			replica := testredis.StartReplica(t, master)
			rdb := redis.NewClient(&redis.Options{Addr: master.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { rdb.Close() })
			f := newFixtureOn(t, rdb, "wait:", redisstore.Options{WaitReplicas: tt.replicas, WaitTimeout: time.Second})
			ctx := context.Background()

			id, ref := f.session(t)
			// The store asks the server once whether it runs the rotate
			// script; that probe is not the rotation's.
			if _, err := redisstore.ReadsFixed(ctx, f.s); err != nil {
				t.Fatal(err)
			}
			rec := &hookRecorder{}
			rdb.AddHook(rec)
			next := store.HashSecret([]byte(rand.Text()))
			if _, err := f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: next, Grace: time.Minute}); err != nil {
				t.Fatal(err)
			}
			if tt.replicas > 0 {
				// WAIT counts what its own connection wrote: it must follow
				// the script in the same pipeline (twice when the server
				// did not know the script yet), never on its own.
				process, pipelines, cmds := rec.take()
				got := strings.Join(names(cmds), " ")
				if process != 0 || pipelines < 1 || !slices.Contains([]string{"evalsha wait", "evalsha wait eval wait"}, got) {
					t.Errorf("rotation sent %d commands and %d pipelines: %s; want evalsha and wait in one pipeline", process, pipelines, got)
				}
				// Acknowledged means replicated: the replica has the record
				// the master has, with no further wait.
				rc := redis.NewClient(&redis.Options{Addr: replica.Addr, ContextTimeoutEnabled: true})
				got, want := rc.HGet(ctx, f.key("s"), field(id)).Val(), rdb.HGet(ctx, f.key("s"), field(id)).Val()
				rc.Close()
				if got != want {
					t.Errorf("replica holds %q after an acknowledged rotation, master %q", got, want)
				}
			}
			if n, err := testredis.Wait(ctx, master.Addr, 1, 5*time.Second); err != nil || n != 1 {
				t.Fatalf("WAIT before the cut: %d replicas, %v", n, err)
			}

			replica.Cut()
			last := store.HashSecret([]byte(rand.Text()))
			rot := store.Rotation{Old: next, Seq: 1, Next: last, Grace: time.Minute}
			start := time.Now()
			_, rotErr := f.s.RotateRefresh(ctx, "alice", id, rot)
			rotTook := time.Since(start)
			newID, newRef := store.HashSecret([]byte(rand.Text())), store.HashSecret([]byte(rand.Text()))
			u, err := f.s.User(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			_, createErr := f.s.CreateSession(ctx, store.SessionSpec{
				ID: newID, Username: "alice", Refresh: newRef, IdleTimeout: time.Hour,
				ExpiresAt: f.clock.Now().Add(24 * time.Hour), Generation: u.Generation,
			})

			if err := replica.Promote(ctx); err != nil {
				t.Fatal(err)
			}
			promoted := redis.NewClient(&redis.Options{Addr: replica.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { promoted.Close() })
			after, err := redisstore.New(promoted, redisstore.Options{Prefix: "wait:", Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			_, newSessionErr := after.Session(ctx, "alice", newID)

			if tt.replicas == 0 {
				if rotErr != nil || createErr != nil {
					t.Fatalf("without WaitReplicas: rotate %v, create %v; want both to succeed", rotErr, createErr)
				}
				// The client holds last, which the promoted replica never saw.
				_, err := after.RotateRefresh(ctx, "alice", id, store.Rotation{Old: last, Seq: 2, Next: store.HashSecret([]byte("after")), Grace: time.Minute})
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("acknowledged rotation after the failover: %v, want ErrNotFound (lost)", err)
				}
				if !errors.Is(newSessionErr, store.ErrNotFound) {
					t.Errorf("acknowledged session after the failover: %v, want ErrNotFound (lost)", newSessionErr)
				}
				return
			}
			for name, err := range map[string]error{"rotate": rotErr, "create": createErr} {
				if !errors.Is(err, redisstore.ErrNotReplicated) {
					t.Errorf("%s with the link cut: %v, want ErrNotReplicated", name, err)
				}
			}
			t.Logf("rotation refused after %v (WaitTimeout 1s)", rotTook.Round(time.Millisecond))
			// The client was told nothing and retries its rotation, now on
			// the promoted replica.
			if _, err := after.RotateRefresh(ctx, "alice", id, rot); err != nil {
				t.Errorf("retried rotation after the failover: %v", err)
			}
			if !errors.Is(newSessionErr, store.ErrNotFound) {
				t.Errorf("unacknowledged session after the failover: %v, want ErrNotFound", newSessionErr)
			}
		})
	}
}

// TestWaitReplicasRevocations: the writes that end sessions follow
// WaitReplicas too, the end of a session by a refresh token's reuse
// included. With the replication link cut, each revocation is
// made on the master, then the replica is promoted. Without WaitReplicas
// the revocation succeeds and is lost: the promoted replica still
// answers the session (a logged-out session alive again). With it the
// call fails with ErrNotReplicated (ginauth answers 503, the client
// retries) and the retry, on the promoted replica, ends the session.
func TestWaitReplicasRevocations(t *testing.T) {
	revocations := []struct {
		name    string
		revoke  func(*redisstore.Store, store.Digest) error
		rotated bool // the session is rotated once before the cut
	}{
		// A replay of a token older than the current one ends the session
		// (ErrReused, which the retry on the promoted replica gets too).
		{"RotateRefresh reuse", func(s *redisstore.Store, id store.Digest) error {
			_, err := s.RotateRefresh(context.Background(), "alice", id, store.Rotation{
				Old: store.HashSecret([]byte("stolen")), Seq: 0, Next: store.HashSecret([]byte(rand.Text())),
			})
			if errors.Is(err, store.ErrReused) {
				return nil
			}
			return err
		}, true},
		{"RevokeSession", func(s *redisstore.Store, id store.Digest) error {
			return s.RevokeSession(context.Background(), "alice", id)
		}, false},
		{"RevokeAll", func(s *redisstore.Store, _ store.Digest) error {
			return s.RevokeAll(context.Background(), "alice")
		}, false},
		{"SetPasswordHash", func(s *redisstore.Store, _ store.Digest) error {
			return s.SetPasswordHash(context.Background(), "alice", []byte("new hash"))
		}, false},
		{"SetDisabled", func(s *redisstore.Store, _ store.Digest) error {
			return s.SetDisabled(context.Background(), "alice", true)
		}, false},
	}
	for _, rv := range revocations {
		for _, replicas := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/WaitReplicas %d", rv.name, replicas), func(t *testing.T) {
				master := testredis.StartServer(t)
				replica := testredis.StartReplica(t, master)
				rdb := redis.NewClient(&redis.Options{Addr: master.Addr, ContextTimeoutEnabled: true})
				t.Cleanup(func() { rdb.Close() })
				f := newFixtureOn(t, rdb, "rev:", redisstore.Options{WaitReplicas: replicas, WaitTimeout: 200 * time.Millisecond})
				ctx := context.Background()
				id, ref := f.session(t)
				if rv.rotated {
					if _, err := f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: store.HashSecret([]byte(rand.Text()))}); err != nil {
						t.Fatal(err)
					}
				}
				if n, err := testredis.Wait(ctx, master.Addr, 1, 5*time.Second); err != nil || n != 1 {
					t.Fatalf("WAIT before the cut: %d replicas, %v", n, err)
				}

				replica.Cut()
				revokeErr := rv.revoke(f.s, id)
				if _, err := f.s.Session(ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("the master still has the session after %s: %v", rv.name, err)
				}
				if err := replica.Promote(ctx); err != nil {
					t.Fatal(err)
				}
				promoted := redis.NewClient(&redis.Options{Addr: replica.Addr, ContextTimeoutEnabled: true})
				t.Cleanup(func() { promoted.Close() })
				after, err := redisstore.New(promoted, redisstore.Options{Prefix: "rev:", Now: f.clock.Now, WaitReplicas: 0})
				if err != nil {
					t.Fatal(err)
				}
				_, sessErr := after.Session(ctx, "alice", id)

				if replicas == 0 {
					if revokeErr != nil {
						t.Fatalf("without WaitReplicas: %v, want success", revokeErr)
					}
					if sessErr != nil {
						t.Errorf("without WaitReplicas the promoted replica answers %v; the test expects the lost revocation to show (session alive)", sessErr)
					}
					return
				}
				if !errors.Is(revokeErr, redisstore.ErrNotReplicated) {
					t.Fatalf("with the link cut: %v, want ErrNotReplicated", revokeErr)
				}
				// The client was told 503 and retries, now on the new master.
				if err := rv.revoke(after, id); err != nil {
					t.Fatalf("retry on the promoted replica: %v", err)
				}
				if _, err := after.Session(ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("after the retried %s the session reads %v, want ErrNotFound", rv.name, err)
				}
			})
		}
	}
}

// TestWaitReplicasNeedsOneConnection: New refuses WaitReplicas with a
// client that spreads keys over several servers.
func TestWaitReplicasNeedsOneConnection(t *testing.T) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true})
	defer c.Close()
	if _, err := redisstore.New(c, redisstore.Options{WaitReplicas: 1}); err == nil {
		t.Error("New accepted WaitReplicas with a ClusterClient")
	}
	if _, err := redisstore.New(c, redisstore.Options{}); err != nil {
		t.Errorf("New without WaitReplicas: %v", err)
	}
}

// BenchmarkWaitReplicas measures what Options.WaitReplicas = 1 costs a
// login (CreateSession) and a refresh (RotateRefresh) with a healthy
// replica on loopback. Each iteration runs the operation once on a store
// without it and once on a store with it, in alternating order, on the
// same master and replica, so every pair sees the same machine; it
// reports both means and the median of the paired differences. The wait
// is bounded by 1 s, not the default 100 ms, so that a busy machine
// slows the benchmark down instead of failing it:
//
//	go test -run '^$' -bench WaitReplicas -benchtime 2000x -count 3 ./store/redisstore
func BenchmarkWaitReplicas(b *testing.B) {
	master := testredis.StartServer(b)
	testredis.StartReplica(b, master)
	rdb := redis.NewClient(&redis.Options{Addr: master.Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { rdb.Close() })
	for _, op := range []string{"create", "rotate"} {
		b.Run(op, func(b *testing.B) {
			var steps [2]func() error
			for n := range steps {
				f := newFixtureOn(b, rdb, fmt.Sprintf("bench%s%d:", op, n), redisstore.Options{WaitReplicas: n, WaitTimeout: time.Second})
				b.Cleanup(func() { testredis.DeletePrefix(b, rdb, f.prefix) })
				steps[n] = benchStep(b, f, op)
			}
			var sum [2]time.Duration
			var diffs []time.Duration
			for i := 0; b.Loop(); i++ {
				var took [2]time.Duration
				for k := range 2 {
					n := (i + k) % 2 // alternate which setting goes first
					start := time.Now()
					if err := steps[n](); err != nil {
						b.Fatal(err)
					}
					took[n] = time.Since(start)
				}
				sum[0], sum[1] = sum[0]+took[0], sum[1]+took[1]
				diffs = append(diffs, took[1]-took[0])
			}
			slices.Sort(diffs)
			b.ReportMetric(float64(sum[0].Nanoseconds())/float64(len(diffs)), "ns/off")
			b.ReportMetric(float64(sum[1].Nanoseconds())/float64(len(diffs)), "ns/wait")
			b.ReportMetric(float64(diffs[len(diffs)/2].Nanoseconds()), "ns/extra-median")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchStep returns one login (op "create") or one refresh ("rotate") of
// alice on f's store.
func benchStep(b *testing.B, f *fixture, op string) func() error {
	u, err := f.s.User(f.ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	id, ref := f.session(b)
	seq := uint64(0)
	if op == "create" {
		return func() error {
			_, err := f.s.CreateSession(f.ctx, store.SessionSpec{
				ID: store.HashSecret([]byte(rand.Text())), Username: "alice", Refresh: ref, IdleTimeout: time.Hour,
				ExpiresAt: f.clock.Now().Add(24 * time.Hour), Generation: u.Generation, MaxSessions: 8,
			})
			return err
		}
	}
	return func() error {
		next := store.HashSecret([]byte(rand.Text()))
		_, err := f.s.RotateRefresh(f.ctx, "alice", id, store.Rotation{Old: ref, Seq: seq, Next: next})
		ref, seq = next, seq+1
		return err
	}
}

// TestWaitReplicasAPIKeyRevocation: revoking an API key is a revocation
// too. Without WaitReplicas, a revocation acknowledged while the replica
// was cut off is lost when the replica is promoted (the key works again);
// with it, the call fails with ErrNotReplicated, so the caller knows.
func TestWaitReplicasAPIKeyRevocation(t *testing.T) {
	for _, replicas := range []int{0, 1} {
		t.Run(fmt.Sprintf("WaitReplicas %d", replicas), func(t *testing.T) {
			master := testredis.StartServer(t)
			replica := testredis.StartReplica(t, master)
			rdb := redis.NewClient(&redis.Options{Addr: master.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { rdb.Close() })
			f := newFixtureOn(t, rdb, "revkey:", redisstore.Options{WaitReplicas: replicas, WaitTimeout: 200 * time.Millisecond})
			ctx := context.Background()
			u, err := f.s.User(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			key := store.APIKey{ID: "key-00001", Owner: "alice", Secret: store.HashSecret([]byte("s")), CreatedAt: f.clock.Now(), Generation: u.Generation}
			if err := f.s.AddAPIKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			if n, err := testredis.Wait(ctx, master.Addr, 1, 5*time.Second); err != nil || n != 1 {
				t.Fatalf("WAIT before the cut: %d replicas, %v", n, err)
			}
			replica.Cut()
			revokeErr := f.s.RevokeAPIKey(ctx, "alice", key.ID)
			if err := replica.Promote(ctx); err != nil {
				t.Fatal(err)
			}
			promoted := redis.NewClient(&redis.Options{Addr: replica.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { promoted.Close() })
			after, err := redisstore.New(promoted, redisstore.Options{Prefix: "revkey:", Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			_, useErr := after.UseAPIKey(ctx, "alice", key.ID)
			if replicas == 0 {
				if revokeErr != nil || useErr != nil {
					t.Fatalf("without WaitReplicas: revoke %v, then use on the promoted replica %v; want both nil (the lost revocation shows)", revokeErr, useErr)
				}
				return
			}
			if !errors.Is(revokeErr, redisstore.ErrNotReplicated) {
				t.Fatalf("with the link cut: %v, want ErrNotReplicated", revokeErr)
			}
			// The caller was told the revocation failed and retries, now on
			// the new master.
			if err := after.RevokeAPIKey(ctx, "alice", key.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := after.UseAPIKey(ctx, "alice", key.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("after the retried revocation: %v, want ErrNotFound", err)
			}
		})
	}
}
