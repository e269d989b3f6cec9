package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// Run runs the contract suite against stores made by newStore. Each subtest
// gets a fresh store; now is the clock the store must use.
//
// The subtests run one after another, never in parallel, so newStore need
// not isolate stores from each other beyond giving each a clean state.
// newStore should leave the store's options at their defaults: the suite
// relies, for instance, on a read being recorded once the session's last
// recorded use is a minute old (see [store.SessionStore]).
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Users", userCases},
		{"Sessions", sessionCases},
		{"Refresh", refreshCases},
		{"Attempts", attemptCases},
		{"Devices", deviceCases},
		{"Context", contextCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			runCases(t, g.cases, func(t *testing.T, clk *clock) *env {
				s := notNil(t, newStore(t, clk.Now))
				return &env{u: s, s: s, clock: clk, ctx: t.Context()}
			})
		})
	}
}

// RunUsers runs the user part of the contract suite against a
// store.UserStore that keeps no sessions, such as store/sqlstore: the
// user cases of [Run] without their checks on sessions. Each subtest gets
// a fresh store from newStore; now is the clock it must stamp users with.
func RunUsers(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.UserStore) {
	t.Helper()
	runCases(t, userCases, func(t *testing.T, clk *clock) *env {
		return &env{u: notNil(t, newStore(t, clk.Now)), clock: clk, ctx: t.Context()}
	})
}

// caseOf is one contract check, run on a fresh environment E.
type caseOf[E any] struct {
	name string
	run  func(t *testing.T, e *E)
}

// testCase is a check of [Run] or [RunUsers].
type testCase = caseOf[env]

// runCases runs each case in a subtest of its own, on a fresh
// environment from newEnv with a fresh clock.
func runCases[E any](t *testing.T, cases []caseOf[E], newEnv func(t *testing.T, clk *clock) *E) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newEnv(t, newClock())) })
	}
}

// notNil fails the test when newStore returned a nil store.
func notNil[S comparable](t *testing.T, s S) S {
	t.Helper()
	var zero S
	if s == zero {
		t.Fatal("newStore returned nil")
	}
	return s
}

// env is what a test case works with.
type env struct {
	// u is the store under test as a user store.
	u store.UserStore
	// s is the store under test; nil for [RunUsers], whose cases then
	// leave out what concerns sessions.
	s     store.Store
	clock *clock
	ctx   context.Context
}

// Defaults for sessions the suite creates.
const (
	idle = 30 * time.Minute
	life = 24 * time.Hour
)

// user creates an enabled user with the given roles, failing the test on
// error.
func (e *env) user(t *testing.T, name string, roles ...string) {
	t.Helper()
	u := store.User{Username: name, PasswordHash: []byte("$2a$10$" + name), Roles: roles}
	must(t, "CreateUser "+name, e.u.CreateUser(e.ctx, u))
}

// gen returns the user's current generation, failing the test on error.
func (e *env) gen(t *testing.T, username string) uint64 {
	t.Helper()
	u, err := e.u.User(e.ctx, username)
	must(t, "User "+username, err)
	return u.Generation
}

// spec returns what a caller that has just verified username's password
// passes to CreateSession: a session that ends after idle without use or
// after life in any case, in the user's current generation.
func (e *env) spec(t *testing.T, username string, idle, life time.Duration) store.SessionSpec {
	t.Helper()
	return store.SessionSpec{
		ID:          newDigest(),
		Username:    username,
		Refresh:     newDigest(),
		IdleTimeout: idle,
		ExpiresAt:   e.clock.Now().Add(life),
		Generation:  e.gen(t, username),
	}
}

// session creates a session for username that ends after idle without use
// or after life in any case, and returns its id and first refresh digest.
func (e *env) session(t *testing.T, username string, idle, life time.Duration) (id, refresh store.Digest) {
	t.Helper()
	ns := e.spec(t, username, idle, life)
	must(t, "CreateSession", e.create(t, ns))
	return ns.ID, ns.Refresh
}

// create calls CreateSession and returns its error. It fails the test
// when the call reports evicted sessions with an error or without a cap.
func (e *env) create(t *testing.T, ns store.SessionSpec) error {
	t.Helper()
	evicted, err := e.s.CreateSession(e.ctx, ns)
	if evicted != nil && (err != nil || ns.MaxSessions == 0) {
		t.Errorf("CreateSession (MaxSessions %d) = %v evicted, error %v; want none evicted", ns.MaxSessions, evicted, err)
	}
	return err
}

// rotate rotates the session's refresh token old, number seq in its chain,
// to a fresh one, failing the test on error, and returns the new digest.
func (e *env) rotate(t *testing.T, username string, id, old store.Digest, seq uint64) store.Digest {
	t.Helper()
	next := newDigest()
	_, err := e.s.RotateRefresh(e.ctx, username, id, store.Rotation{Old: old, Seq: seq, Next: next})
	must(t, "RotateRefresh", err)
	return next
}

// live fails the test unless the session reads back.
func (e *env) live(t *testing.T, username string, id store.Digest) store.Session {
	t.Helper()
	s, err := e.s.Session(e.ctx, username, id)
	must(t, "Session", err)
	return s
}

// gone fails the test unless the session reads as not found, with and
// without marking it used.
func (e *env) gone(t *testing.T, username string, id store.Digest) {
	t.Helper()
	_, err := e.s.PeekSession(e.ctx, username, id)
	wantErr(t, "PeekSession", err, store.ErrNotFound)
	_, err = e.s.Session(e.ctx, username, id)
	wantErr(t, "Session", err, store.ErrNotFound)
}

// newDigest returns the digest of a fresh random secret, as callers of a
// store do.
func newDigest() store.Digest { return store.HashSecret([]byte(rand.Text())) }

var sentinels = []error{store.ErrNotFound, store.ErrExists, store.ErrReused, store.ErrStale, store.ErrInvalid}

// must stops the test when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// wantErr reports an error unless err wraps want and no other sentinel, so
// that callers mapping errors to responses see one unambiguous category.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want one wrapping %q", what, err, want)
		return
	}
	for _, s := range sentinels {
		if !errors.Is(want, s) && errors.Is(err, s) {
			t.Errorf("%s: error %q wraps both %q and %q", what, err, want, s)
		}
	}
}

// wantInfraErr reports an error unless err is an infrastructure failure:
// non-nil and wrapping no sentinel, so it can never read as "not found".
func wantInfraErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: error = nil, want an infrastructure error", what)
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Errorf("%s: error %q wraps %q, want an infrastructure error", what, err, s)
		}
	}
}

// sameRoles compares role lists as sets; stores need not keep their order.
func sameRoles(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkSession reports every field of got that differs from want.
func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s: ID = %v, want %v", what, got.ID, want.ID)
	}
	if got.Username != want.Username {
		t.Errorf("%s: Username = %q, want %q", what, got.Username, want.Username)
	}
	if !sameRoles(got.Roles, want.Roles) {
		t.Errorf("%s: Roles = %q, want %q", what, got.Roles, want.Roles)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: CreatedAt = %v, want %v", what, got.CreatedAt, want.CreatedAt)
	}
	if !got.LastSeen.Equal(want.LastSeen) {
		t.Errorf("%s: LastSeen = %v, want %v", what, got.LastSeen, want.LastSeen)
	}
	if got.IdleTimeout != want.IdleTimeout {
		t.Errorf("%s: IdleTimeout = %v, want %v", what, got.IdleTimeout, want.IdleTimeout)
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("%s: ExpiresAt = %v, want %v", what, got.ExpiresAt, want.ExpiresAt)
	}
}

// concurrently runs f(0) to f(n-1) in goroutines released at once, and
// waits for all of them.
func concurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}
