package sqlstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/sqlstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

// newCache returns a listening cache over a fresh schema.
func newCache(t testing.TB, now func() time.Time) (*sqlstore.Cache, *sqlstore.Store) {
	t.Helper()
	s, _ := newStore(t, now)
	return cacheOn(t, s, slog.New(slog.DiscardHandler)), s
}

// cacheOn returns a cache over s, closed when t ends, once it listens.
func cacheOn(t testing.TB, s *sqlstore.Store, logger *slog.Logger) *sqlstore.Cache {
	t.Helper()
	c, err := sqlstore.NewCache(s, sqlstore.CacheOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitFor(t, "the cache to listen", func() bool { return sqlstore.Listening(c) })
	return c
}

// waitFor polls cond every few milliseconds, for at most 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheContract(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T, now func() time.Time) store.UserStore {
		c, _ := newCache(t, now)
		return c
	})
}

// TestCacheAnswersFromMemory hides the table from SQL: a cached user
// still reads, an uncached one does not.
func TestCacheAnswersFromMemory(t *testing.T) {
	s, _ := newStore(t, nil)
	ctx := t.Context()
	// Created before the cache listens, so that no notification of
	// theirs can arrive after the read below.
	for _, name := range []string{"alice", "bob"} {
		if err := s.CreateUser(ctx, store.User{Username: name, PasswordHash: []byte("h"), Roles: []string{"user"}}); err != nil {
			t.Fatal(err)
		}
	}
	c := cacheOn(t, s, slog.New(slog.DiscardHandler))
	if _, err := c.User(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, s, `ALTER TABLE authkit_users RENAME TO authkit_users_hidden`)
	defer sqlExec(t, s, `ALTER TABLE authkit_users_hidden RENAME TO authkit_users`)
	if u, err := c.User(ctx, "alice"); err != nil || u.Username != "alice" {
		t.Errorf("cached User(alice) with the table hidden = %+v, %v; want it from memory", u, err)
	}
	if _, err := c.User(ctx, "bob"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("uncached User(bob) with the table hidden = %v, want a database error", err)
	}
}

// TestCacheSeesChangesByHand: an UPDATE made in plain SQL reaches the
// cache through NOTIFY, and so do DELETE and TRUNCATE.
func TestCacheSeesChangesByHand(t *testing.T) {
	c, s := newCache(t, nil)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h"), Roles: []string{"user"}}); err != nil {
		t.Fatal(err)
	}
	before, err := c.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	sqlExec(t, s, `UPDATE authkit_users SET roles = '{admin}', disabled = true WHERE username = 'alice'`)
	waitFor(t, "the cache to see the UPDATE", func() bool {
		u, err := c.User(ctx, "alice")
		return err == nil && u.Disabled && len(u.Roles) == 1 && u.Roles[0] == "admin" && u.Generation != before.Generation
	})
	sqlExec(t, s, `DELETE FROM authkit_users WHERE username = 'alice'`)
	waitFor(t, "the cache to see the DELETE", func() bool {
		_, err := c.User(ctx, "alice")
		return errors.Is(err, store.ErrNotFound)
	})
	if err := s.CreateUser(ctx, store.User{Username: "bob", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.User(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, s, `TRUNCATE authkit_users`)
	waitFor(t, "the cache to see the TRUNCATE", func() bool {
		_, err := c.User(ctx, "bob")
		return errors.Is(err, store.ErrNotFound)
	})
}

// TestCacheListenerLost kills the listening connection: the cache stops
// answering from memory at once, reads the database meanwhile, and
// listens again.
func TestCacheListenerLost(t *testing.T) {
	var logs bytes.Buffer
	s, _ := newStore(t, nil)
	c := cacheOn(t, s, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.User(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	// Only this package's tests LISTEN, one at a time. The listener's
	// last query is LISTEN, or its ping once a ping interval has passed.
	sqlExec(t, s, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query IN ('LISTEN authkit_users', '`+sqlstore.PingQuery+`') AND datname = current_database()`)
	waitFor(t, "the cache to notice", func() bool { return !sqlstore.Listening(c) })
	waitFor(t, "the cache to listen again", func() bool { return sqlstore.Listening(c) })
	if !bytes.Contains(logs.Bytes(), []byte("not listening")) {
		t.Errorf("log = %q, want the lost connection reported", logs.String())
	}
	sqlExec(t, s, `UPDATE authkit_users SET disabled = true WHERE username = 'alice'`)
	waitFor(t, "the cache to see the UPDATE after reconnecting", func() bool {
		u, err := c.User(ctx, "alice")
		return err == nil && u.Disabled
	})
}

func sqlExec(t testing.TB, s *sqlstore.Store, q string) {
	t.Helper()
	if _, err := sqlstore.DB(s).ExecContext(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestCacheStats: CacheStats counts a miss then a hit, holds the user,
// and reports whether the cache listens.
func TestCacheStats(t *testing.T) {
	c, s := newCache(t, nil)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	// The notification of the insert empties the cache: wait for the
	// user to stay cached.
	waitFor(t, "alice to be answered from memory", func() bool {
		before := c.CacheStats().Hits
		_, err := c.User(ctx, "alice")
		return err == nil && c.CacheStats().Hits > before
	})
	got := c.CacheStats()
	if got.Entries != 1 || got.Hits == 0 || got.Misses == 0 || !got.Healthy {
		t.Errorf("CacheStats = %+v, want 1 entry, hits, misses, healthy", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.CacheStats(); got.Healthy {
		t.Errorf("CacheStats after Close = %+v, want unhealthy", got)
	}
}
