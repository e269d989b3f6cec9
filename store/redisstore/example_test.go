package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// ExampleNew creates a store on a UniversalClient, which can point at a
// single server, Sentinel or Cluster. An in-process miniredis stands in for
// the server here so that the example runs anywhere.
func ExampleNew() {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()

	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{mr.Addr()},
		// Required: without it go-redis ignores context deadlines.
		ContextTimeoutEnabled: true,
	})
	defer client.Close()

	s, err := redisstore.New(client, redisstore.Options{Prefix: "myapp:auth:"})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	err = s.CreateUser(ctx, store.User{
		Username:     "alice",
		PasswordHash: []byte("$2a$10$…"), // a bcrypt hash
		Roles:        []string{"admin"},
	})
	if err != nil {
		log.Fatal(err)
	}

	// A login reads the user, checks the password against its hash, and
	// creates the session in the generation it read: a password change in
	// between makes the creation fail with store.ErrStale.
	u, err := s.User(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	// The store sees digests only: the secrets go to the client.
	id := store.HashSecret([]byte("session secret from crypto/rand"))
	_, err = s.CreateSession(ctx, store.SessionSpec{
		ID:          id,
		Username:    "alice",
		Refresh:     store.HashSecret([]byte("refresh token from crypto/rand")),
		IdleTimeout: 30 * time.Minute,
		ExpiresAt:   time.Now().Add(24 * time.Hour),
		Generation:  u.Generation,
		MaxSessions: 10,
	})
	if err != nil {
		log.Fatal(err)
	}

	sess, err := s.Session(ctx, "alice", id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sess.Username, sess.Roles)

	_, err = s.Session(ctx, "alice", store.HashSecret([]byte("guessed")))
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// alice [admin]
	// true
}

// ExampleStore_RotateRefresh shows a rotation, a retry within the grace
// period, and reuse detection: a token presented after it was rotated,
// other than such a retry, ends the whole session.
func ExampleStore_RotateRefresh() {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("$2a$10$…")}); err != nil {
		log.Fatal(err)
	}
	u, err := s.User(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	id := store.HashSecret([]byte("session secret"))
	first := store.HashSecret([]byte("first refresh token"))
	second := store.HashSecret([]byte("second refresh token"))
	_, err = s.CreateSession(ctx, store.SessionSpec{
		ID: id, Username: "alice", Refresh: first,
		IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(24 * time.Hour),
		Generation: u.Generation,
	})
	if err != nil {
		log.Fatal(err)
	}

	// The first token is number 0 of the session's chain.
	r := store.Rotation{Old: first, Seq: 0, Next: second, Grace: 10 * time.Second}
	_, err = s.RotateRefresh(ctx, "alice", id, r)
	fmt.Println("rotate first:", err)

	// The client lost the response and retries at once: within the grace
	// period, the same request succeeds again.
	_, err = s.RotateRefresh(ctx, "alice", id, r)
	fmt.Println("retry:", err)

	// An attacker replays the first token.
	_, err = s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: first, Seq: 0, Next: store.HashSecret([]byte("attacker's"))})
	fmt.Println("replay reused:", errors.Is(err, store.ErrReused))

	// The legitimate holder of the second token is logged out too.
	_, err = s.Session(ctx, "alice", id)
	fmt.Println("session gone:", errors.Is(err, store.ErrNotFound))
	// Output:
	// rotate first: <nil>
	// retry: <nil>
	// replay reused: true
	// session gone: true
}

// ExampleOptions_localCache configures a store that answers most session
// reads from memory. Revocations made through any store on the same Redis
// reach it by pub/sub within milliseconds; an entry is never served for
// longer than TTL. A store with a cache must be closed.
func ExampleOptions_localCache() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.Options{
		LocalCache: &redisstore.LocalCacheOptions{Size: 50_000, TTL: 500 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// Use s as any store.Store.
}
