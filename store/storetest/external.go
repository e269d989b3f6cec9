package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// RunExternalUsers runs the contract of a session store configured for
// users held in another store.UserSource (see [store.SessionStore]):
// sessions need no user in the store, carry the generation they were
// created in and no roles, an older generation is stale, and a newer one
// ends the sessions of older ones. Each subtest gets a fresh store from
// newStore; now is the clock it must use.
func RunExternalUsers(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.SessionBackend) {
	t.Helper()
	runCases(t, externalCases, func(t *testing.T, clk *clock) *xenv {
		return &xenv{s: notNil(t, newStore(t, clk.Now)), clock: clk, ctx: t.Context()}
	})
}

// xenv is what an external-users case works with.
type xenv struct {
	s     store.SessionBackend
	clock *clock
	ctx   context.Context
}

// create creates a session of username in generation gen and returns its
// spec, failing the test on error.
func (e *xenv) create(t *testing.T, username string, gen uint64) store.SessionSpec {
	t.Helper()
	ns := store.SessionSpec{
		ID: newDigest(), Username: username, Refresh: newDigest(),
		IdleTimeout: idle, ExpiresAt: e.clock.Now().Add(life), Generation: gen,
	}
	_, err := e.s.CreateSession(e.ctx, ns)
	must(t, "CreateSession", err)
	return ns
}

// live fails the test unless the session reads back in generation gen.
func (e *xenv) live(t *testing.T, ns store.SessionSpec) store.Session {
	t.Helper()
	s, err := e.s.Session(e.ctx, ns.Username, ns.ID)
	must(t, "Session", err)
	if s.Generation != ns.Generation {
		t.Errorf("Session.Generation = %d, want %d", s.Generation, ns.Generation)
	}
	if len(s.Roles) != 0 {
		t.Errorf("Session.Roles = %q, want none: the user source holds the roles", s.Roles)
	}
	return s
}

// gone fails the test unless the session reads as not found.
func (e *xenv) gone(t *testing.T, ns store.SessionSpec) {
	t.Helper()
	_, err := e.s.PeekSession(e.ctx, ns.Username, ns.ID)
	wantErr(t, "PeekSession", err, store.ErrNotFound)
	_, err = e.s.Session(e.ctx, ns.Username, ns.ID)
	wantErr(t, "Session", err, store.ErrNotFound)
}

var externalCases = []caseOf[xenv]{
	{"CreateWithoutUser", func(t *testing.T, e *xenv) {
		ns := e.create(t, "alice", 7)
		got := e.live(t, ns)
		checkSession(t, "Session", got, store.Session{
			ID: ns.ID, Username: "alice", CreatedAt: e.clock.Now(), LastSeen: e.clock.Now(),
			IdleTimeout: idle, ExpiresAt: ns.ExpiresAt,
		})
		peek, err := e.s.PeekSession(e.ctx, "alice", ns.ID)
		must(t, "PeekSession", err)
		if peek.Generation != 7 {
			t.Errorf("PeekSession.Generation = %d, want 7", peek.Generation)
		}
	}},
	{"SameGeneration", func(t *testing.T, e *xenv) {
		a, b := e.create(t, "alice", 7), e.create(t, "alice", 7)
		e.live(t, a)
		e.live(t, b)
	}},
	{"OlderGenerationIsStale", func(t *testing.T, e *xenv) {
		ns := e.create(t, "alice", 1<<60)
		old := ns
		old.ID, old.Refresh, old.Generation = newDigest(), newDigest(), 1<<60-1
		_, err := e.s.CreateSession(e.ctx, old)
		wantErr(t, "CreateSession older", err, store.ErrStale)
		e.live(t, ns)
		e.gone(t, old)
	}},
	{"NewerGenerationEndsOlder", func(t *testing.T, e *xenv) {
		old := e.create(t, "alice", 9)
		other := e.create(t, "bob", 9)
		e.clock.Advance(time.Second)
		ns := e.create(t, "alice", 10)
		e.gone(t, old)
		e.live(t, ns)
		e.live(t, other)
		if l, ok := e.s.(store.SessionLister); ok {
			list, err := l.Sessions(e.ctx, "alice")
			must(t, "Sessions", err)
			if len(list) != 1 || list[0].ID != ns.ID {
				t.Errorf("Sessions = %d sessions, want only the newest", len(list))
			}
		}
	}},
	{"RevokeAndRotate", func(t *testing.T, e *xenv) {
		a, b := e.create(t, "alice", 3), e.create(t, "alice", 3)
		next := newDigest()
		s, err := e.s.RotateRefresh(e.ctx, "alice", a.ID, store.Rotation{Old: a.Refresh, Next: next})
		must(t, "RotateRefresh", err)
		if s.Generation != 3 || len(s.Roles) != 0 {
			t.Errorf("RotateRefresh = generation %d, roles %q; want 3 and none", s.Generation, s.Roles)
		}
		must(t, "RevokeSession", e.s.RevokeSession(e.ctx, "alice", a.ID))
		e.gone(t, a)
		e.live(t, b)
		must(t, "RevokeAll", e.s.RevokeAll(e.ctx, "alice"))
		e.gone(t, b)
		// The user's next login, in the same generation, works.
		e.live(t, e.create(t, "alice", 3))
	}},
	{"Expiry", func(t *testing.T, e *xenv) {
		ns := e.create(t, "alice", 3)
		e.clock.Advance(idle)
		e.gone(t, ns)
	}},
}
