package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// cachedKeyPair returns two stores on the test Redis, under one random
// prefix and one clock: a, without a cache, through which the test
// changes things (another process's view), and b, with a local cache
// whose entries would live a minute, whose client hook records. It waits
// until b's cache is subscribed.
func cachedKeyPair(t *testing.T) (a, b *fixture, hook *hookRecorder) {
	t.Helper()
	rdbA, prefix := testredis.New(t)
	opts := *rdbA.(*redis.Client).Options()
	rdbB := redis.NewClient(&opts)
	t.Cleanup(func() { rdbB.Close() })
	hook = &hookRecorder{}
	rdbB.AddHook(hook)
	a = newFixtureOn(t, rdbA, prefix, redisstore.Options{})
	b = &fixture{rdb: rdbB, prefix: prefix, clock: a.clock, ctx: context.Background()}
	var err error
	b.s, err = redisstore.New(rdbB, redisstore.Options{
		Prefix: prefix, Now: a.clock.Now, LocalCache: &redisstore.LocalCacheOptions{TTL: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.s.Close() })
	waitReady(t, b.s, true)
	// Open a connection, so that no use counts its handshake.
	if err := rdbB.Ping(b.ctx).Err(); err != nil {
		t.Fatal(err)
	}
	return a, b, hook
}

// useVia uses alice's key id through f and reports how many round trips
// that took, as recorded by hook.
func useVia(t *testing.T, f *fixture, hook *hookRecorder, id string) (store.APIKeyUse, error, int) {
	t.Helper()
	hook.take()
	u, err := f.s.UseAPIKey(f.ctx, "alice", id)
	process, pipelines, _ := hook.take()
	return u, err, process + pipelines
}

// cacheKey adds alice's key k through a and uses it through b until a
// use costs no round trip.
func cacheKey(t *testing.T, a, b *fixture, hook *hookRecorder, k store.APIKey) {
	t.Helper()
	if err := a.s.AddAPIKey(a.ctx, k); err != nil {
		t.Fatal(err)
	}
	untilCached(t, func() (error, int) { _, err, n := useVia(t, b, hook, k.ID); return err, n })
}

// eventually polls ok until it holds, for at most a second.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen through the cache after a second", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLocalCacheAPIKeyRoundTrips: the first use of a key costs one round
// trip, later ones within the TTL none, and a use whose touch is due
// (once a minute by the store's clock) goes to Redis, which records it.
// Cached answers are copies, and the key as Redis holds it.
func TestLocalCacheAPIKeyRoundTrips(t *testing.T) {
	a, b, hook := cachedKeyPair(t)
	k := a.newKey(t, "key-0001")
	if err := a.s.AddAPIKey(a.ctx, k); err != nil {
		t.Fatal(err)
	}
	stored := func(t *testing.T) store.APIKey {
		t.Helper()
		list, err := a.s.APIKeys(a.ctx, "alice")
		if err != nil || len(list) != 1 {
			t.Fatalf("APIKeys = %v, %v", list, err)
		}
		return list[0]
	}
	first, err, n := useVia(t, b, hook, k.ID)
	if err != nil || n < 1 || n > 2 { // 2 when EVALSHA falls back to EVAL
		t.Fatalf("first use: %v, %d round trips; want one to Redis", err, n)
	}
	if !first.Key.LastUsed.IsZero() {
		t.Errorf("first use: LastUsed = %v, want the key as it was, unused", first.Key.LastUsed)
	}
	touched := a.clock.Now()
	for _, c := range []struct {
		name    string
		advance time.Duration
		trips   int
	}{
		{"Cached", 0, 0},
		{"CachedAgain", 0, 0},
		{"BeforeTouch", store.APIKeyTouchInterval - time.Millisecond, 0},
		{"TouchDue", time.Millisecond, 1},
		{"AfterTouch", 0, 0},
		{"NextMinute", store.APIKeyTouchInterval, 1},
	} {
		a.clock.Advance(c.advance)
		if c.trips == 1 {
			touched = a.clock.Now()
		}
		got, err, n := useVia(t, b, hook, k.ID)
		if err != nil || n != c.trips {
			t.Fatalf("%s: %v, %d round trips; want %d", c.name, err, n, c.trips)
		}
		if s := stored(t); !s.LastUsed.Equal(touched) {
			t.Errorf("%s: LastUsed in Redis = %v, want %v", c.name, s.LastUsed, touched)
		}
		if c.trips == 0 && !got.Key.LastUsed.Equal(touched) {
			t.Errorf("%s: cached LastUsed = %v, want %v as Redis holds it", c.name, got.Key.LastUsed, touched)
		}
		if !got.OwnerKnown || got.Owner.Username != "alice" || !slices.Equal(got.Key.Roles, []string{"user"}) {
			t.Errorf("%s: UseAPIKey = %+v", c.name, got)
		}
		// The caller's changes stay the caller's.
		got.Key.Roles[0], got.Owner.Roles[0] = "root", "root"
	}
	if got := b.s.CacheStats(); got.Entries != 1 || got.Hits != 4 || got.Misses != 3 || !got.Healthy {
		t.Errorf("CacheStats = %+v, want 1 entry, 4 hits, 3 misses, healthy", got)
	}
	if _, err, n := useVia(t, b, hook, "key-none"); !errors.Is(err, store.ErrNotFound) || n != 1 {
		t.Errorf("absent key: %v, %d round trips; want ErrNotFound from Redis", err, n)
	}
	if _, err, n := useVia(t, b, hook, "key-none"); !errors.Is(err, store.ErrNotFound) || n != 1 {
		t.Errorf("absent key again: %v, %d round trips; want ErrNotFound from Redis, never cached", err, n)
	}
}

// TestLocalCacheAPIKeyInvalidations checks that every change of a key or
// of its owner, made through another store, reaches a cached store
// within a second (its entries would live a minute).
func TestLocalCacheAPIKeyInvalidations(t *testing.T) {
	a, b, hook := cachedKeyPair(t)
	ctx := a.ctx
	use := func(id string) (store.APIKeyUse, error) { u, err, _ := useVia(t, b, hook, id); return u, err }
	gone := func(id string) bool { _, err := use(id); return errors.Is(err, store.ErrNotFound) }
	gen := func(t *testing.T) uint64 {
		t.Helper()
		u, err := a.s.User(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.Generation
	}
	steps := []struct {
		name   string
		setup  func(t *testing.T, k *store.APIKey) // before the key is added
		change func(t *testing.T, k store.APIKey) error
		seen   func(k store.APIKey) bool
	}{
		{"RevokeAPIKey", nil,
			func(_ *testing.T, k store.APIKey) error { return a.s.RevokeAPIKey(ctx, "alice", k.ID) },
			func(k store.APIKey) bool { return gone(k.ID) }},
		{"ExpireAPIKey", nil,
			func(_ *testing.T, k store.APIKey) error {
				return a.s.ExpireAPIKey(ctx, "alice", k.ID, a.clock.Now().Add(time.Second))
			},
			func(k store.APIKey) bool {
				u, err := use(k.ID)
				return err == nil && u.Key.ExpiresAt.Equal(a.clock.Now().Add(time.Second))
			}},
		{"AddAPIKeyDropsExpired", func(_ *testing.T, k *store.APIKey) { k.ExpiresAt = a.clock.Now().Add(30 * time.Second) },
			func(t *testing.T, k store.APIKey) error {
				a.clock.Advance(31 * time.Second) // expired, and no touch due yet
				if _, err, n := useVia(t, b, hook, k.ID); err != nil || n != 0 {
					t.Fatalf("use of the expired key: %v, %d round trips; want it from the cache", err, n)
				}
				return a.s.AddAPIKey(ctx, a.newKey(t, "key-"+k.ID))
			},
			func(k store.APIKey) bool { return gone(k.ID) }},
		{"SetDisabled", nil,
			func(_ *testing.T, _ store.APIKey) error { return a.s.SetDisabled(ctx, "alice", true) },
			func(k store.APIKey) bool { u, err := use(k.ID); return err == nil && u.Owner.Disabled }},
		{"SetEnabled", func(t *testing.T, _ *store.APIKey) {
			if err := a.s.SetDisabled(ctx, "alice", true); err != nil {
				t.Fatal(err)
			}
		},
			func(_ *testing.T, _ store.APIKey) error { return a.s.SetDisabled(ctx, "alice", false) },
			func(k store.APIKey) bool { u, err := use(k.ID); return err == nil && !u.Owner.Disabled }},
		{"SetRoles", nil,
			func(_ *testing.T, _ store.APIKey) error { return a.s.SetRoles(ctx, "alice", []string{"ops"}) },
			func(k store.APIKey) bool {
				u, err := use(k.ID)
				return err == nil && slices.Equal(u.Owner.Roles, []string{"ops"})
			}},
		{"SetPasswordHash", nil,
			func(_ *testing.T, _ store.APIKey) error { return a.s.SetPasswordHash(ctx, "alice", []byte("new")) },
			func(k store.APIKey) bool {
				u, err := use(k.ID)
				return err == nil && u.Owner.Generation != k.Generation
			}},
		{"RevokeAll", nil,
			func(_ *testing.T, _ store.APIKey) error { return a.s.RevokeAll(ctx, "alice") },
			func(k store.APIKey) bool {
				u, err := use(k.ID)
				return err == nil && u.Owner.Generation != k.Generation
			}},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := a.s.SetDisabled(ctx, "alice", false); err != nil {
				t.Fatal(err)
			}
			if err := a.s.SetRoles(ctx, "alice", []string{"user"}); err != nil {
				t.Fatal(err)
			}
			k := a.newKey(t, "key-step"+string(rune('a'+i)))
			if st.setup != nil {
				st.setup(t, &k)
			}
			k.Generation = gen(t)
			cacheKey(t, a, b, hook, k)
			if err := st.change(t, k); err != nil {
				t.Fatal(err)
			}
			eventually(t, st.name, func() bool { return st.seen(k) })
		})
	}
}

// TestLocalCacheAPIKeyResubscribe breaks the cached store's subscription
// and keeps it from subscribing again: until it is back, every use of a
// key goes to Redis, and so sees a revocation whose message it missed;
// once back, it caches again. It runs on a private redis-server, since
// it changes ACLs and kills connections.
func TestLocalCacheAPIKeyResubscribe(t *testing.T) {
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
	admin(t, srv, "ACL", "SETUSER", "b", "on", ">secret", "~*", "&*", "+@all")
	a, b, hook := cachedPairOn(t, srv, &redis.Options{Username: "b", Password: "secret"})

	k := a.newKey(t, "key-0001")
	cacheKey(t, a, b, hook, k)

	admin(t, srv, "ACL", "SETUSER", "b", "resetchannels")
	admin(t, srv, "CLIENT", "KILL", "TYPE", "pubsub")
	waitReady(t, b.s, false)
	if got := b.s.CacheStats(); got.Entries != 0 {
		t.Errorf("CacheStats after the subscription broke = %+v, want no entries", got)
	}

	if err := a.s.RevokeAPIKey(a.ctx, "alice", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err, n := useVia(t, b, hook, k.ID); !errors.Is(err, store.ErrNotFound) || n != 1 {
		t.Errorf("use of a key revoked while unsubscribed: %v after %d round trips, want ErrNotFound from Redis", err, n)
	}
	k2 := a.newKey(t, "key-0002")
	if err := a.s.AddAPIKey(a.ctx, k2); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err, n := useVia(t, b, hook, k2.ID); err != nil || n != 1 {
			t.Errorf("use %d while unsubscribed: %v, %d round trips; want one, to Redis", i, err, n)
		}
	}

	admin(t, srv, "ACL", "SETUSER", "b", "&*")
	waitReady(t, b.s, true)
	useVia(t, b, hook, k2.ID)
	if _, err, n := useVia(t, b, hook, k2.ID); err != nil || n != 0 {
		t.Errorf("second use after subscribing again: %v, %d round trips; want it served from the cache", err, n)
	}
}
