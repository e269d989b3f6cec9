package redisstore_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

// TestContractLegacyRecords runs the contract on a store that writes
// the varint layout of earlier releases (Options.LegacyRecords).
func TestContractLegacyRecords(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		rdb, prefix := testredis.New(t)
		s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: now, LegacyRecords: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestLegacyRecordsRollingUpgrade is a rolling upgrade on one Redis: a
// store with LegacyRecords (as the upgraded instances run while older
// ones remain) writes only records of the varint layout, which the
// older releases read, and reads those of the fixed layout too; once it
// is unset, a store writes the fixed layout again, first write first.
func TestLegacyRecordsRollingUpgrade(t *testing.T) {
	f := newFixture(t)
	field := func(id store.Digest) string { return base64.RawURLEncoding.EncodeToString(id[:]) }
	layout := func(t *testing.T, id store.Digest) byte {
		t.Helper()
		v, err := f.rdb.HGet(f.ctx, f.key("s"), field(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return v[0]
	}
	legacy, err := redisstore.New(f.rdb, redisstore.Options{Prefix: f.prefix, Now: f.clock.Now, LegacyRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	modern := f.s

	// A session the fixed-layout store created, then one the legacy
	// store created.
	fixedID, fixedRef := f.session(t)
	f.s = legacy
	legacyID, legacyRef := f.session(t)
	f.s = modern
	if got := layout(t, fixedID); got != 2 {
		t.Errorf("a session created without LegacyRecords has layout %d, want 2", got)
	}
	if got := layout(t, legacyID); got != 1 {
		t.Errorf("a session created with LegacyRecords has layout %d, want 1", got)
	}

	// The legacy store reads and rotates both, and writes varints.
	for _, s := range []struct {
		id, ref store.Digest
	}{{fixedID, fixedRef}, {legacyID, legacyRef}} {
		if _, err := legacy.Session(f.ctx, "alice", s.id); err != nil {
			t.Fatalf("legacy store reading a session: %v", err)
		}
		if _, err := legacy.RotateRefresh(f.ctx, "alice", s.id, store.Rotation{Old: s.ref, Next: store.HashSecret([]byte(field(s.id)))}); err != nil {
			t.Fatalf("legacy store rotating: %v", err)
		}
		if got := layout(t, s.id); got != 1 {
			t.Errorf("after the legacy store's rotation, layout %d, want 1", got)
		}
	}

	// The upgrade done: a rotation rewrites the record in the fixed layout.
	next := store.HashSecret([]byte("after the upgrade"))
	if _, err := modern.RotateRefresh(f.ctx, "alice", legacyID, store.Rotation{Old: store.HashSecret([]byte(field(legacyID))), Seq: 1, Next: next}); err != nil {
		t.Fatal(err)
	}
	if got := layout(t, legacyID); got != 2 {
		t.Errorf("after a rotation without LegacyRecords, layout %d, want 2", got)
	}
}

// TestSweepLeavesUnknownLayout: a record of a layout this release does
// not know (a later release's) is neither swept as dead nor counted
// against the cap by a login, so that instances of two releases on one
// Redis never delete each other's sessions.
func TestSweepLeavesUnknownLayout(t *testing.T) {
	f := newFixture(t)
	later := store.HashSecret([]byte("a later release's session"))
	laterField := base64.RawURLEncoding.EncodeToString(later[:])
	id, _ := f.session(t)
	if err := f.rdb.HSet(f.ctx, f.key("s"), laterField, "\x09 a record of layout 9").Err(); err != nil {
		t.Fatal(err)
	}
	u, err := f.s.User(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// With a cap of 2 the store reads every session; without one it
	// samples: both sweep what they take for dead.
	for _, limit := range []int{2, 0} {
		_, err := f.s.CreateSession(f.ctx, store.SessionSpec{
			ID: store.HashSecret([]byte(time.Now().String())), Username: "alice", Refresh: store.HashSecret([]byte("r")),
			IdleTimeout: time.Hour, ExpiresAt: f.clock.Now().Add(time.Hour), Generation: u.Generation, MaxSessions: limit,
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.rdb.HExists(f.ctx, f.key("s"), laterField).Result(); err != nil || !n {
			t.Fatalf("MaxSessions %d: the later release's record was deleted (%v)", limit, err)
		}
	}
	// The cap of 2 counted the two sessions this release knows, not the
	// later one: the first session is still there.
	if _, err := f.s.Session(f.ctx, "alice", id); err != nil {
		t.Errorf("the first session: %v", err)
	}
}
