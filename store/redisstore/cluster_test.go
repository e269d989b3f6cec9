package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

// startCluster starts a private three-master Redis Cluster and returns it
// with a cluster client that authkit accepts. It skips under -short.
func startCluster(t *testing.T) (*testredis.Cluster, *redis.ClusterClient) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test starts a private Redis Cluster")
	}
	c := testredis.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() }) // before the nodes stop: cleanups run last first
	return c, rdb
}

// TestClusterContract runs the contract suite on a real Redis Cluster, so
// every script and pipeline of the store is routed by go-redis's cluster
// client and checked by servers that reject keys spanning slots.
func TestClusterContract(t *testing.T) {
	c, rdb := startCluster(t)

	t.Run("New", func(t *testing.T) {
		s, err := redisstore.New(rdb, redisstore.Options{Prefix: testredis.NewPrefix()})
		if err != nil {
			t.Fatalf("New(cluster client with ContextTimeoutEnabled) = %v", err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping = %v", err)
		}
		without := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
		defer without.Close()
		if _, err := redisstore.New(without, redisstore.Options{}); !errors.Is(err, redisstore.ErrNoContextTimeout) {
			t.Errorf("New(cluster client without ContextTimeoutEnabled) error = %v, want ErrNoContextTimeout", err)
		}
	})

	// The nodes are private and die with the test, so the keys of each
	// store need no cleanup; a fresh prefix is enough to isolate them.
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := redisstore.New(rdb, redisstore.Options{Prefix: testredis.NewPrefix(), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	storetest.RunExternalUsers(t, func(t *testing.T, now func() time.Time) store.SessionBackend {
		s, err := redisstore.New(rdb, redisstore.Options{Prefix: testredis.NewPrefix(), Now: now, ExternalUsers: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})

	// Factors and recovery codes in the user's slot, passkey owner
	// entries and challenges in slots of their own.
	clusterStore := func(t *testing.T, now func() time.Time) *redisstore.Store {
		s, err := redisstore.New(rdb, redisstore.Options{Prefix: testredis.NewPrefix(), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("Factors", func(t *testing.T) {
		storetest.RunFactors(t, func(t *testing.T, now func() time.Time) store.FactorBackend { return clusterStore(t, now) })
	})
	t.Run("Challenges", func(t *testing.T) {
		storetest.RunChallenges(t, func(t *testing.T, now func() time.Time) store.ChallengeStore { return clusterStore(t, now) })
	})
	// API keys in the owner's slot, read with the user hash.
	t.Run("APIKeys", func(t *testing.T) {
		storetest.RunAPIKeys(t, func(t *testing.T, now func() time.Time) storetest.APIKeyBackend { return clusterStore(t, now) })
	})
	t.Run("APIKeysExternalUsers", func(t *testing.T) {
		storetest.RunExternalAPIKeys(t, func(t *testing.T, now func() time.Time) store.APIKeyStore {
			s, err := redisstore.New(rdb, redisstore.Options{Prefix: testredis.NewPrefix(), Now: now, ExternalUsers: true})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	// OAuth clients in one hash, in a slot of its own.
	t.Run("Clients", func(t *testing.T) {
		storetest.RunClients(t, func(t *testing.T, now func() time.Time) store.ClientStore { return clusterStore(t, now) })
	})

	// Last, since it changes the configuration of one node: CheckEviction
	// asks every master, so one that may evict is enough to fail it.
	t.Run("CheckEviction", func(t *testing.T) {
		logger, logs := logBuffer()
		s, err := redisstore.New(rdb, redisstore.Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckEviction(t.Context()); err != nil {
			t.Fatalf("CheckEviction with noeviction everywhere = %v", err)
		}
		node := redis.NewClient(&redis.Options{Addr: c.Addrs[1], ContextTimeoutEnabled: true})
		defer node.Close()
		if err := node.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckEviction(t.Context()); !errors.Is(err, redisstore.ErrEvictionPolicy) {
			t.Errorf("CheckEviction with allkeys-lfu on %s = %v, want ErrEvictionPolicy", c.Addrs[1], err)
		}
		if !strings.Contains(logs.String(), "addr="+c.Addrs[1]) {
			t.Errorf("logged %q, want a warning naming %s", logs, c.Addrs[1])
		}
	})
}

// TestClusterUsersSpread runs the flows of a login for many users on a real
// Redis Cluster and checks that the users land on several masters while
// each user's keys stay together in one slot: the flows succeed (no
// CROSSSLOT error) because of the hash tag, not because everything
// happened to sit on one node.
func TestClusterUsersSpread(t *testing.T) {
	_, rdb := startCluster(t)
	ctx := t.Context()
	prefix := testredis.NewPrefix()
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	const users = 30
	for i := range users {
		loginFlows(t, ctx, s, fmt.Sprintf("user%02d", i))
	}

	// Find every key of the test on the master that holds it.
	var mu sync.Mutex
	masterOf := map[string]string{} // username -> address of its master
	keyCount := map[string]int{}    // username -> keys found
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		keys, err := testredis.Keys(ctx, m, prefix)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, k := range keys {
			name := userOfKey(t, prefix, k)
			if other, ok := masterOf[name]; ok && other != m.Options().Addr {
				t.Errorf("keys of %s are on %s and %s", name, other, m.Options().Addr)
			}
			masterOf[name] = m.Options().Addr
			keyCount[name]++
			// The server agrees with the slot the unit tests compute.
			slot, err := m.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				return err
			}
			if want := int64(keySlot(k)); slot != want {
				t.Errorf("CLUSTER KEYSLOT %s = %d, keySlot = %d", k, slot, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	perMaster := map[string]int{}
	for i := range users {
		name := fmt.Sprintf("user%02d", i)
		// Left by loginFlows: the user and its sessions hash, holding one
		// live session.
		if keyCount[name] != 2 {
			t.Errorf("%s has %d keys, want 2", name, keyCount[name])
		}
		perMaster[masterOf[name]]++
	}
	t.Logf("%d users per master: %v", users, perMaster)
	if len(perMaster) < 2 {
		t.Errorf("all %d users landed on one master (%v); the test proves nothing about slots", users, perMaster)
	}
}

// loginFlows runs, for one new user, what authkit does at login (with a
// cap of two sessions), on each request, at refresh, on a replayed refresh
// token and at "log out everywhere", and leaves one live, rotated session
// behind.
func loginFlows(t *testing.T, ctx context.Context, s *redisstore.Store, name string) {
	t.Helper()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %s: %v", name, what, err)
		}
	}
	gone := func(what string, id store.Digest) {
		t.Helper()
		if _, err := s.Session(ctx, name, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Session %s: %v, want ErrNotFound", name, what, err)
		}
	}
	session := func(life time.Duration) (id, ref store.Digest) {
		t.Helper()
		u, err := s.User(ctx, name)
		check("User", err)
		id, ref = store.HashSecret([]byte(name+"-id-"+rand.Text())), store.HashSecret([]byte(name+"-ref-"+rand.Text()))
		_, err = s.CreateSession(ctx, store.SessionSpec{
			ID: id, Username: name, Refresh: ref, IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(life),
			Generation: u.Generation, MaxSessions: 2,
		})
		check("CreateSession", err)
		return id, ref
	}
	rotate := func(id, old store.Digest, seq uint64) store.Digest {
		t.Helper()
		next := store.HashSecret([]byte(name + "-next-" + rand.Text()))
		_, err := s.RotateRefresh(ctx, name, id, store.Rotation{Old: old, Seq: seq, Next: next})
		check("RotateRefresh", err)
		return next
	}

	check("CreateUser", s.CreateUser(ctx, store.User{Username: name, PasswordHash: []byte("h"), Roles: []string{"user"}}))
	_, err := s.User(ctx, name)
	check("User", err)

	// Login, a request, a refresh, then a replay of the first token.
	id, ref := session(24 * time.Hour)
	sess, err := s.Session(ctx, name, id)
	check("Session", err)
	if sess.Username != name || len(sess.Roles) != 1 || sess.Roles[0] != "user" {
		t.Errorf("%s: Session = %+v", name, sess)
	}
	rotate(id, ref, 0)
	if _, err := s.RotateRefresh(ctx, name, id, store.Rotation{Old: ref, Next: store.HashSecret([]byte("replay"))}); !errors.Is(err, store.ErrReused) {
		t.Errorf("%s: RotateRefresh of a rotated token: %v, want ErrReused", name, err)
	}
	gone("after reuse", id)

	// Three devices with a cap of two, then "log out everywhere".
	first, _ := session(23 * time.Hour) // expires first, so goes first
	a, _ := session(24 * time.Hour)
	b, _ := session(24 * time.Hour)
	gone("first after the cap", first)
	list, err := s.Sessions(ctx, name)
	check("Sessions", err)
	if len(list) != 2 {
		t.Errorf("%s: Sessions = %d, want 2", name, len(list))
	}
	check("RevokeAll", s.RevokeAll(ctx, name))
	gone("a after RevokeAll", a)
	gone("b after RevokeAll", b)

	// A fresh login that stays, so its keys can be located afterwards.
	id, ref = session(24 * time.Hour)
	rotate(id, ref, 0)
	_, err = s.Session(ctx, name, id)
	check("Session after rotation", err)
	_, err = s.PeekSession(ctx, name, id)
	check("PeekSession", err)
}

// userOfKey returns the username in the hash tag of a store key,
// P{u:<name>}:...
func userOfKey(t *testing.T, prefix, key string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(key, prefix+"{u:")
	name, _, found := strings.Cut(rest, "}")
	if !ok || !found {
		t.Fatalf("key %q does not follow the layout %s{u:<name>}:...", key, prefix)
	}
	return name
}

// TestClusterLocalCache runs the local cache on a real Redis Cluster:
// the cached store subscribes, on each master, to the sharded channel of
// every slot it serves, and the write scripts publish to the channel of
// the user's slot from the user's node. A revocation of a cached session
// or API key reaches the cache whichever master holds the user.
func TestClusterLocalCache(t *testing.T) {
	c, rdb := startCluster(t)
	prefix := testredis.NewPrefix()
	a, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	other := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
	defer other.Close()
	hook := &hookRecorder{}
	other.AddHook(hook)
	b, err := redisstore.New(other, redisstore.Options{Prefix: prefix, LocalCache: &redisstore.LocalCacheOptions{TTL: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitReady(t, b, true)

	ctx := t.Context()
	masters := map[uint16]bool{}
	for i := range 12 {
		name := fmt.Sprintf("cached%02d", i)
		masters[keySlot("{u:"+name+"}")*3/16384] = true // roughly which third of the slots
		if err := a.CreateUser(ctx, store.User{Username: name, PasswordHash: []byte("h")}); err != nil {
			t.Fatal(err)
		}
		u, err := a.User(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		id := store.HashSecret([]byte(name))
		_, err = a.CreateSession(ctx, store.SessionSpec{ID: id, Username: name, Refresh: store.HashSecret([]byte("r" + name)),
			IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(time.Hour), Generation: u.Generation})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := b.Session(ctx, name, id); err != nil {
				t.Fatal(err)
			}
		}
		hook.take()
		if _, err := b.Session(ctx, name, id); err != nil {
			t.Fatal(err)
		}
		if process, pipelines, _ := hook.take(); process+pipelines != 0 {
			t.Fatalf("%s: a third read reached Redis; want it served from the cache", name)
		}
		if err := a.RevokeSession(ctx, name, id); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			_, err := b.Session(ctx, name, id)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("%s: the cached store still accepts a session revoked a second ago (%v)", name, err)
			}
			time.Sleep(time.Millisecond)
		}
		// The same for an API key, revoked by revokeAPIKeyScript.
		k := store.APIKey{ID: "key-" + name, Owner: name, Secret: store.HashSecret([]byte(name)),
			CreatedAt: time.Now(), Generation: u.Generation}
		if err := a.AddAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := b.UseAPIKey(ctx, name, k.ID); err != nil {
				t.Fatal(err)
			}
		}
		hook.take()
		if _, err := b.UseAPIKey(ctx, name, k.ID); err != nil {
			t.Fatal(err)
		}
		if process, pipelines, _ := hook.take(); process+pipelines != 0 {
			t.Fatalf("%s: a third use of a key reached Redis; want it served from the cache", name)
		}
		if err := a.RevokeAPIKey(ctx, name, k.ID); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		for {
			_, err := b.UseAPIKey(ctx, name, k.ID)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("%s: the cached store still accepts a key revoked a second ago (%v)", name, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Logf("users spread over %d thirds of the slot space", len(masters))
}
