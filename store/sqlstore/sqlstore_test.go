package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testpg"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/sqlstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

// newStore returns a store on a fresh, migrated schema.
func newStore(t testing.TB, now func() time.Time) (*sqlstore.Store, *sql.DB) {
	t.Helper()
	db := testpg.New(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(db, sqlstore.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestContract(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T, now func() time.Time) store.UserStore {
		s, _ := newStore(t, now)
		return s
	})
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	s, db := newStore(t, nil)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h"), Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- sqlstore.Migrate(ctx, db) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Migrate again: %v", err)
		}
	}
	if u, err := s.User(ctx, "alice"); err != nil || u.Roles[0] != "admin" {
		t.Errorf("after migrating again: User = %+v, %v; want alice kept", u, err)
	}
}

// TestChangesByHand edits the table as an administrator would, in plain
// SQL: the trigger moves the generation exactly when a password or a
// disable must end the sessions.
func TestChangesByHand(t *testing.T) {
	s, db := newStore(t, nil)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("old"), Roles: []string{"user"}}); err != nil {
		t.Fatal(err)
	}
	gen := func() uint64 {
		t.Helper()
		u, err := s.User(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.Generation
	}
	steps := []struct {
		name  string
		sql   string
		bumps bool
	}{
		{"roles", `UPDATE authkit_users SET roles = '{user,admin}' WHERE username = 'alice'`, false},
		{"enable while enabled", `UPDATE authkit_users SET disabled = false WHERE username = 'alice'`, false},
		{"same hash", `UPDATE authkit_users SET password_hash = 'old' WHERE username = 'alice'`, false},
		{"password hash", `UPDATE authkit_users SET password_hash = 'new' WHERE username = 'alice'`, true},
		{"disable", `UPDATE authkit_users SET disabled = true WHERE username = 'alice'`, true},
		{"re-enable", `UPDATE authkit_users SET disabled = false WHERE username = 'alice'`, false},
		{"generation backwards", `UPDATE authkit_users SET generation = generation - 5 WHERE username = 'alice'`, false},
		{"hash and generation by hand", `UPDATE authkit_users SET password_hash = 'newer', generation = generation + 1 WHERE username = 'alice'`, true},
	}
	for _, st := range steps {
		before := gen()
		if _, err := db.ExecContext(ctx, st.sql); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		after := gen()
		switch {
		case st.bumps && after <= before:
			t.Errorf("%s: generation %d -> %d, want it to move on", st.name, before, after)
		case !st.bumps && after != before:
			t.Errorf("%s: generation %d -> %d, want it unchanged", st.name, before, after)
		}
	}
}

// TestCorruptRowFailsClosed: a role the kit cannot represent, written by
// hand, makes the user unreadable as an infrastructure error (503), never
// a missing user (401) nor a user with part of its roles.
func TestCorruptRowFailsClosed(t *testing.T) {
	s, db := newStore(t, nil)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO authkit_users (username, password_hash, roles) VALUES ('mallory', 'h', '{"a,b"}')`); err != nil {
		t.Fatal(err)
	}
	_, err := s.User(ctx, "mallory")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("User with a role containing a comma = %v, want an infrastructure error", err)
	}
}

func TestUnavailable(t *testing.T) {
	s, db := newStore(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.User(ctx, "alice")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("User with a cancelled context = %v, want an infrastructure error", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v", err)
	}
	db.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping on a closed pool = nil, want an error")
	}
	if _, err := s.User(t.Context(), "alice"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("User on a closed pool = %v, want an infrastructure error", err)
	}
}

func TestContractFactors(t *testing.T) {
	storetest.RunFactors(t, func(t *testing.T, now func() time.Time) store.FactorBackend {
		s, _ := newStore(t, now)
		return s
	})
}

// TestUseFactorMatchesRule holds the counter rule of UseFactor's UPDATE
// (numeric comparison in SQL) to store.Accepts on every pair of the
// boundary counters below: accepted exactly when the Go rule accepts.
func TestUseFactorMatchesRule(t *testing.T) {
	clk := func() time.Time { return time.UnixMilli(1_900_000_000_000) }
	s, _ := newStore(t, clk)
	ctx := t.Context()
	var edges []uint64
	for _, e := range []uint64{0, 1, 10, 1 << 53, math.MaxInt64, math.MaxUint64} {
		edges = append(edges, e-1, e, e+1) // wrapping around at 0 and MaxUint64 is intended
	}
	for i, stored := range edges {
		user := fmt.Sprint("user", i)
		for j, counter := range edges {
			f := store.Factor{Kind: store.Passkey, ID: fmt.Sprintf("cred-%d-%d", i, j), Data: []byte("c"), Counter: stored, CreatedAt: clk()}
			if err := s.AddFactor(ctx, user, f); err != nil {
				t.Fatal(err)
			}
			got, err := s.UseFactor(ctx, user, f.Kind, f.ID, counter, clk())
			switch want := store.Accepts(stored, counter); {
			case want && (err != nil || got.Counter != counter):
				t.Errorf("stored %d, counter %d: UseFactor = %d, %v; want accepted", stored, counter, got.Counter, err)
			case !want && !errors.Is(err, store.ErrReused):
				t.Errorf("stored %d, counter %d: UseFactor = %v; want ErrReused", stored, counter, err)
			}
			if err := s.RemoveFactor(ctx, user, f.Kind, f.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestMigrateFrom001 upgrades a database that has only the first
// migration: Migrate adds the factor tables and keeps the users.
func TestMigrateFrom001(t *testing.T) {
	db := testpg.New(t)
	ctx := t.Context()
	first, err := os.ReadFile("migrations/001_users.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, string(first)); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Factors(ctx, "alice"); err == nil {
		t.Fatal("Factors before migration 002 succeeded; want an error (no table)")
	}
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	f := store.Factor{Kind: store.TOTP, ID: "totp", Data: []byte("sealed"), CreatedAt: time.Now()}
	if err := s.AddFactor(ctx, "alice", f); err != nil {
		t.Errorf("AddFactor after Migrate: %v", err)
	}
	if _, err := s.User(ctx, "alice"); err != nil {
		t.Errorf("User after Migrate: %v", err)
	}
}

func TestContractAPIKeys(t *testing.T) {
	storetest.RunAPIKeys(t, func(t *testing.T, now func() time.Time) storetest.APIKeyBackend {
		s, _ := newStore(t, now)
		return s
	})
}

// TestAPIKeyOwnerDeleted deletes a key's owner by hand: the key no
// longer works, and one of a user created again under the name is of
// another generation.
func TestAPIKeyOwnerDeleted(t *testing.T) {
	s, db := newStore(t, time.Now)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	k := store.APIKey{ID: "key-0001", Owner: "alice", Secret: store.HashSecret([]byte("s")), CreatedAt: time.Now(), Generation: u.Generation}
	if err := s.AddAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM authkit_users WHERE username = 'alice'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseAPIKey(ctx, "alice", k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseAPIKey of a deleted owner's key = %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	use, err := s.UseAPIKey(ctx, "alice", k.ID)
	if err != nil || use.Key.Live(time.Now(), use.Owner) {
		t.Errorf("UseAPIKey after the name was created again = %+v, %v; want a key that is not live", use, err)
	}
}
