package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// cachedPair returns two stores on a new private redis-server; see
// cachedPairOn.
func cachedPair(t *testing.T) (a, b *fixture, hook *hookRecorder) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test starts a private redis-server")
	}
	return cachedPairOn(t, testredis.StartServer(t), &redis.Options{})
}

// cachedPairOn returns two stores on srv: a, without a cache, through
// which the test changes things, and b, with a local cache whose entries
// would live a minute, so that only invalidations can make b see a change
// in time. b's client, made from bOpts, records what it sends. It waits
// until b's cache is subscribed.
func cachedPairOn(t *testing.T, srv *testredis.Server, bOpts *redis.Options) (a, b *fixture, hook *hookRecorder) {
	t.Helper()
	rdbA := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdbA.Close() })
	bOpts.Addr, bOpts.ContextTimeoutEnabled = srv.Addr, true
	rdbB := redis.NewClient(bOpts)
	t.Cleanup(func() { rdbB.Close() })
	hook = &hookRecorder{}
	rdbB.AddHook(hook)
	a = newFixtureOn(t, rdbA, "authkit:", redisstore.Options{})
	b = &fixture{rdb: rdbB, prefix: "authkit:", clock: a.clock, ctx: context.Background()}
	var err error
	b.s, err = redisstore.New(rdbB, redisstore.Options{
		Prefix: "authkit:", Now: a.clock.Now, LocalCache: &redisstore.LocalCacheOptions{TTL: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.s.Close() })
	waitReady(t, b.s, true)
	return a, b, hook
}

// waitReady waits until the cache of s is, or is not, in use.
func waitReady(t *testing.T, s *redisstore.Store, ready bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for redisstore.CacheReady(s) != ready {
		if time.Now().After(deadline) {
			t.Fatalf("local cache ready = %v after 5 s, want %v", !ready, ready)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readVia reads session id of alice through f and reports how many
// commands that sent, as recorded by hook.
func readVia(t *testing.T, f *fixture, hook *hookRecorder, id store.Digest) (store.Session, error, int) {
	t.Helper()
	hook.take()
	s, err := f.s.Session(f.ctx, "alice", id)
	process, pipelines, _ := hook.take()
	return s, err, process + pipelines
}

// untilCached calls read until it costs no round trip, for at most a
// second. A read fills the cache only if no invalidation arrived while
// it ran, and those of the test's earlier changes may still be on their
// way.
func untilCached(t *testing.T, read func() (error, int)) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		err, n := read()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d round trips after a second; want reads served from the cache", n)
		}
	}
}

// TestLocalCacheRevocationDelay revokes, through one store, a session
// that another store has cached, 200 times, and measures how long the
// second keeps accepting it: the delivery of one invalidation message.
func TestLocalCacheRevocationDelay(t *testing.T) {
	const trials = 200
	a, b, hook := cachedPair(t)
	var delays []time.Duration
	for i := range trials {
		id, _ := a.session(t)
		if _, err, _ := readVia(t, b, hook, id); err != nil {
			t.Fatal(err)
		}
		if _, err, n := readVia(t, b, hook, id); err != nil || n != 0 {
			t.Fatalf("trial %d: second read: %v, %d commands; want it served from the cache", i, err, n)
		}
		if err := a.s.RevokeSession(a.ctx, "alice", id); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			_, err, _ := readVia(t, b, hook, id)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("trial %d: the cached store still accepts a session revoked 5 s ago", i)
			}
			time.Sleep(50 * time.Microsecond)
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	p50, p99, worst := delays[trials/2], delays[trials*99/100], delays[trials-1]
	t.Logf("revocation seen by the other store's cache after: p50 %v, p99 %v, max %v (%d trials)", p50, p99, worst, trials)
	if p99 > 50*time.Millisecond {
		t.Errorf("p99 revocation delay = %v, want under 50 ms", p99)
	}
}

// TestLocalCacheInvalidations checks that every change that ends a
// session or changes roles, made through another store, reaches a cached
// store within a second (its entries would live a minute).
func TestLocalCacheInvalidations(t *testing.T) {
	a, b, hook := cachedPair(t)
	ctx := a.ctx
	eventually := func(t *testing.T, what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen through the cache after a second", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	gone := func(id store.Digest) func() bool {
		return func() bool { _, err, _ := readVia(t, b, hook, id); return errors.Is(err, store.ErrNotFound) }
	}
	cached := func(t *testing.T) store.Digest {
		t.Helper()
		if err := a.s.SetDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		id, _ := a.session(t)
		// SetDisabled's invalidation may arrive during the first reads.
		untilCached(t, func() (error, int) { _, err, n := readVia(t, b, hook, id); return err, n })
		return id
	}
	steps := []struct {
		name   string
		change func(id store.Digest) error
		seen   func(id store.Digest) func() bool
	}{
		{"SetRoles", func(store.Digest) error { return a.s.SetRoles(ctx, "alice", []string{"ops"}) },
			func(id store.Digest) func() bool {
				return func() bool {
					s, err, _ := readVia(t, b, hook, id)
					return err == nil && slices.Equal(s.Roles, []string{"ops"})
				}
			}},
		{"RevokeSession", func(id store.Digest) error { return a.s.RevokeSession(ctx, "alice", id) }, gone},
		{"RevokeAll", func(store.Digest) error { return a.s.RevokeAll(ctx, "alice") }, gone},
		{"SetDisabled", func(store.Digest) error { return a.s.SetDisabled(ctx, "alice", true) }, gone},
		{"SetPasswordHash", func(store.Digest) error { return a.s.SetPasswordHash(ctx, "alice", []byte("new")) }, gone},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			id := cached(t)
			if err := st.change(id); err != nil {
				t.Fatal(err)
			}
			eventually(t, st.name, st.seen(id))
		})
	}
	t.Run("Reuse", func(t *testing.T) {
		if err := a.s.SetDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		id, r0 := a.session(t)
		r1 := store.HashSecret([]byte("r1"))
		if _, err := a.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: r0, Next: r1}); err != nil {
			t.Fatal(err)
		}
		readVia(t, b, hook, id)
		if _, err, n := readVia(t, b, hook, id); err != nil || n != 0 {
			t.Fatalf("second read: %v, %d commands; want it served from the cache", err, n)
		}
		_, err := a.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: r0, Next: store.HashSecret([]byte("r1'"))})
		if !errors.Is(err, store.ErrReused) {
			t.Fatalf("replay: %v, want ErrReused", err)
		}
		eventually(t, "Reuse", gone(id))
	})
	t.Run("Cap", func(t *testing.T) {
		id := cached(t)
		u, err := a.s.User(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.s.CreateSession(ctx, store.SessionSpec{
			ID: store.HashSecret([]byte("capped")), Username: "alice", Refresh: store.HashSecret([]byte("capped ref")),
			IdleTimeout: time.Hour, ExpiresAt: a.clock.Now().Add(48 * time.Hour), Generation: u.Generation, MaxSessions: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "Cap", gone(id))
	})
}

// TestLocalCacheResubscribe kills the cached store's subscription and
// keeps it from subscribing again (its ACL user loses access to
// channels): until it is back, the store reads every session from Redis,
// and so sees a revocation whose message it missed; once back, it caches
// again.
func TestLocalCacheResubscribe(t *testing.T) {
	admin := func(t *testing.T, srv *testredis.Server, args ...any) {
		t.Helper()
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		defer c.Close()
		if err := c.Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test starts a private redis-server")
	}
	srv := testredis.StartServer(t)
	// The cached store logs in as b, which may use every channel for now.
	admin(t, srv, "ACL", "SETUSER", "b", "on", ">secret", "~*", "&*", "+@all")
	a, b, hook := cachedPairOn(t, srv, &redis.Options{Username: "b", Password: "secret"})

	id, _ := a.session(t)
	readVia(t, b, hook, id)
	if _, err, n := readVia(t, b, hook, id); err != nil || n != 0 {
		t.Fatalf("second read: %v, %d commands; want it served from the cache", err, n)
	}

	admin(t, srv, "ACL", "SETUSER", "b", "resetchannels")
	admin(t, srv, "CLIENT", "KILL", "TYPE", "pubsub")
	waitReady(t, b.s, false)

	// The invalidation goes to no one: b is not subscribed.
	if err := a.s.RevokeSession(a.ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	if _, err, n := readVia(t, b, hook, id); !errors.Is(err, store.ErrNotFound) || n != 1 {
		t.Errorf("read of a session revoked while unsubscribed: %v after %d commands, want ErrNotFound from Redis", err, n)
	}
	id2, _ := a.session(t)
	for i := range 3 {
		if _, err, n := readVia(t, b, hook, id2); err != nil || n != 1 {
			t.Errorf("read %d while unsubscribed: %v, %d commands; want one, to Redis", i, err, n)
		}
	}
	if redisstore.CacheReady(b.s) {
		t.Fatal("the cache subscribed again although the ACL forbids it")
	}

	admin(t, srv, "ACL", "SETUSER", "b", "&*")
	waitReady(t, b.s, true)
	readVia(t, b, hook, id2)
	if _, err, n := readVia(t, b, hook, id2); err != nil || n != 0 {
		t.Errorf("second read after subscribing again: %v, %d commands; want it served from the cache", err, n)
	}
}

// TestLocalCacheStats: CacheStats counts a miss then a hit, holds the
// entry, and reports the subscription's health; a store without a cache
// reports zeros.
func TestLocalCacheStats(t *testing.T) {
	a, b, hook := cachedPair(t)
	if got := a.s.CacheStats(); got != (observe.CacheStats{}) {
		t.Errorf("CacheStats without a cache = %+v, want zeros", got)
	}
	id, _ := a.session(t)
	for range 2 {
		if _, err, _ := readVia(t, b, hook, id); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.s.CacheStats(), (observe.CacheStats{Entries: 1, Hits: 1, Misses: 1, Healthy: true}); got != want {
		t.Errorf("CacheStats = %+v, want %+v", got, want)
	}
	b.s.Close()
	waitReady(t, b.s, false)
	if got := b.s.CacheStats(); got.Healthy || got.Entries != 0 {
		t.Errorf("CacheStats after Close = %+v, want unhealthy and empty", got)
	}
}
