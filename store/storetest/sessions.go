package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

var sessionCases = []testCase{
	{"CreateAndRead", testCreateAndReadSession},
	{"ReadLag", testReadLag},
	{"CreateRejects", testCreateSessionRejects},
	{"DuplicateID", testDuplicateSessionID},
	{"RolesFollowUser", testSessionRolesFollowUser},
	{"IdleTimeout", testIdleTimeout},
	{"AbsoluteExpiry", testAbsoluteExpiry},
	{"FarFuture", testFarFuture},
	{"Revoke", testRevokeSession},
	{"RevokeAll", testRevokeAll},
	{"List", testListSessions},
	{"DisableRevokes", testDisableRevokes},
	{"WrongOwner", testWrongOwner},
	{"Peek", testPeekSession},
	{"Stale", testStaleGeneration},
	{"PasswordChangeRace", testPasswordChangeRace},
	{"MaxSessions", testMaxSessions},
}

func testCreateAndReadSession(t *testing.T, e *env) {
	e.user(t, "alice", "admin", "user")
	t0 := e.clock.Now()
	id, _ := e.session(t, "alice", idle, life)
	want := store.Session{
		ID:          id,
		Username:    "alice",
		Roles:       []string{"admin", "user"},
		CreatedAt:   t0,
		IdleTimeout: idle,
		ExpiresAt:   t0.Add(life),
	}
	// A read a minute or more after the last recorded use records the
	// time of the read (see testReadLag for shorter gaps).
	for _, step := range []time.Duration{time.Minute, 2 * time.Minute} {
		e.clock.Advance(step)
		want.LastSeen = e.clock.Now()
		checkSession(t, "Session", e.live(t, "alice", id), want)
	}
}

// testReadLag checks the bounds the contract puts on LastSeen when reads
// come close together: a store may record each of them or only some, but
// LastSeen is never before the last recorded use nor after the read, a
// peek sees what the read returned, and a minute later the use is
// recorded again.
func testReadLag(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	t0 := e.clock.Now()
	id, _ := e.session(t, "alice", idle, life)
	last := t0
	for range 3 {
		e.clock.Advance(time.Millisecond)
		got := e.live(t, "alice", id)
		if got.LastSeen.Before(last) || got.LastSeen.After(e.clock.Now()) {
			t.Errorf("LastSeen = %v, want between the last recorded use %v and the read %v", got.LastSeen, last, e.clock.Now())
		}
		peek, err := e.s.PeekSession(e.ctx, "alice", id)
		must(t, "PeekSession", err)
		checkSession(t, "PeekSession after Session", peek, got)
		last = got.LastSeen
	}
	e.clock.Advance(time.Minute)
	if got := e.live(t, "alice", id); !got.LastSeen.Equal(e.clock.Now()) {
		t.Errorf("LastSeen a minute after the last recorded use = %v, want the read's time %v", got.LastSeen, e.clock.Now())
	}
}

func testCreateSessionRejects(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	e.user(t, "dis", "user")
	must(t, "SetDisabled", e.s.SetDisabled(e.ctx, "dis", true))

	tests := []struct {
		name   string
		change func(ns *store.SessionSpec)
		want   error
	}{
		{"UnknownUser", func(ns *store.SessionSpec) { ns.Username = "nobody" }, store.ErrNotFound},
		{"DisabledUser", func(ns *store.SessionSpec) { ns.Username = "dis" }, store.ErrNotFound},
		{"InvalidUsername", func(ns *store.SessionSpec) { ns.Username = "bad name" }, store.ErrInvalid},
		{"ZeroIdle", func(ns *store.SessionSpec) { ns.IdleTimeout = 0 }, store.ErrInvalid},
		{"NegativeIdle", func(ns *store.SessionSpec) { ns.IdleTimeout = -time.Minute }, store.ErrInvalid},
		{"ExpiresNow", func(ns *store.SessionSpec) { ns.ExpiresAt = e.clock.Now() }, store.ErrInvalid},
		{"ExpiredAlready", func(ns *store.SessionSpec) { ns.ExpiresAt = e.clock.Now().Add(-time.Hour) }, store.ErrInvalid},
		{"ZeroExpiry", func(ns *store.SessionSpec) { ns.ExpiresAt = time.Time{} }, store.ErrInvalid},
		{"ZeroID", func(ns *store.SessionSpec) { ns.ID = store.Digest{} }, store.ErrInvalid},
		{"ZeroRefresh", func(ns *store.SessionSpec) { ns.Refresh = store.Digest{} }, store.ErrInvalid},
		{"NegativeMaxSessions", func(ns *store.SessionSpec) { ns.MaxSessions = -1 }, store.ErrInvalid},
		{"StaleGeneration", func(ns *store.SessionSpec) { ns.Generation++ }, store.ErrStale},
		{"UpperCaseUsername", func(ns *store.SessionSpec) { ns.Username = "Alice" }, store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := e.spec(t, "alice", idle, life)
			tc.change(&ns)
			wantErr(t, "CreateSession", e.create(t, ns), tc.want)
			// Nothing was stored under any owner.
			for _, u := range []string{"alice", "dis"} {
				e.gone(t, u, ns.ID)
			}
		})
	}
	for _, u := range []string{"alice", "dis"} {
		list, err := e.s.Sessions(e.ctx, u)
		must(t, "Sessions", err)
		if len(list) != 0 {
			t.Errorf("Sessions(%s) = %d sessions after rejected creates, want 0", u, len(list))
		}
	}
}

func testDuplicateSessionID(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, ref := e.session(t, "alice", idle, life)
	ns := e.spec(t, "alice", idle, life)
	ns.ID = id
	err := e.create(t, ns)
	wantErr(t, "CreateSession with a live session's ID", err, store.ErrExists)
	// The original session, with its refresh token, is untouched.
	e.rotate(t, "alice", id, ref, 0)
}

func testSessionRolesFollowUser(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, _ := e.session(t, "alice", idle, life)
	if s := e.live(t, "alice", id); !sameRoles(s.Roles, []string{"user"}) {
		t.Fatalf("Roles = %q, want [user]", s.Roles)
	}
	must(t, "SetRoles", e.s.SetRoles(e.ctx, "alice", []string{"admin", "user"}))
	if s := e.live(t, "alice", id); !sameRoles(s.Roles, []string{"admin", "user"}) {
		t.Errorf("Roles after SetRoles = %q, want [admin user]", s.Roles)
	}
	must(t, "SetRoles", e.s.SetRoles(e.ctx, "alice", nil))
	if s := e.live(t, "alice", id); len(s.Roles) != 0 {
		t.Errorf("Roles after SetRoles(nil) = %q, want none", s.Roles)
	}
}

func testIdleTimeout(t *testing.T, e *env) {
	const idle = 10 * time.Minute
	e.user(t, "alice", "user")
	id, _ := e.session(t, "alice", idle, life)
	// Reads keep the session alive well past its idle timeout (sliding).
	for range 3 {
		e.clock.Advance(idle - time.Millisecond)
		e.live(t, "alice", id)
	}
	// Unused for exactly the idle timeout, it is over, and stays over.
	e.clock.Advance(idle)
	e.gone(t, "alice", id)
	e.gone(t, "alice", id)
}

func testAbsoluteExpiry(t *testing.T, e *env) {
	const idle, life = 10 * time.Minute, 30 * time.Minute
	e.user(t, "alice", "user")
	id, _ := e.session(t, "alice", idle, life)
	// Constant use does not extend the absolute lifetime.
	for range 3 {
		e.clock.Advance(9 * time.Minute)
		e.live(t, "alice", id)
	}
	e.clock.Advance(2*time.Minute + 59*time.Second)
	e.live(t, "alice", id)
	e.clock.Advance(time.Second)
	e.gone(t, "alice", id)
}

// testFarFuture checks that extreme but valid limits work: callers may
// express "no limit" as the largest duration and a distant date.
func testFarFuture(t *testing.T, e *env) {
	const idle = time.Duration(1<<63 - 1)
	exp := time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)
	e.user(t, "alice", "user")
	t0 := e.clock.Now()
	ns := e.spec(t, "alice", idle, time.Hour)
	ns.ExpiresAt = exp
	must(t, "CreateSession", e.create(t, ns))
	e.clock.Advance(100 * 24 * time.Hour)
	s := e.live(t, "alice", ns.ID)
	if !s.ExpiresAt.Equal(exp) || !s.CreatedAt.Equal(t0) || s.IdleTimeout < 292*365*24*time.Hour {
		t.Errorf("Session = %+v, want ExpiresAt %v, IdleTimeout about 292 years", s, exp)
	}
	e.rotate(t, "alice", ns.ID, ns.Refresh, 0)
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 1 {
		t.Errorf("Sessions = %d sessions, want 1", len(list))
	}
}

func testRevokeSession(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	a, _ := e.session(t, "alice", idle, life)
	b, _ := e.session(t, "alice", idle, life)
	must(t, "RevokeSession", e.s.RevokeSession(e.ctx, "alice", a))
	e.gone(t, "alice", a)
	e.live(t, "alice", b)
	// Revoking what is not there is not an error.
	must(t, "RevokeSession again", e.s.RevokeSession(e.ctx, "alice", a))
	must(t, "RevokeSession unknown id", e.s.RevokeSession(e.ctx, "alice", newDigest()))
	must(t, "RevokeSession unknown user", e.s.RevokeSession(e.ctx, "nobody", newDigest()))
	must(t, "RevokeSession malformed user", e.s.RevokeSession(e.ctx, "bad name", newDigest()))
	e.live(t, "alice", b)
}

func testRevokeAll(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	e.user(t, "bob", "user")
	e.user(t, "carol", "user")
	a1, _ := e.session(t, "alice", idle, life)
	a2, _ := e.session(t, "alice", idle, life)
	b1, _ := e.session(t, "bob", idle, life)

	must(t, "RevokeAll", e.s.RevokeAll(e.ctx, "alice"))
	e.gone(t, "alice", a1)
	e.gone(t, "alice", a2)
	e.live(t, "bob", b1)
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 0 {
		t.Errorf("Sessions after RevokeAll = %d sessions, want 0", len(list))
	}

	// Logging out everywhere does not lock the user out.
	a3, _ := e.session(t, "alice", idle, life)
	e.live(t, "alice", a3)

	must(t, "RevokeAll without sessions", e.s.RevokeAll(e.ctx, "carol"))
	must(t, "RevokeAll unknown user", e.s.RevokeAll(e.ctx, "nobody"))
	must(t, "RevokeAll malformed user", e.s.RevokeAll(e.ctx, "bad name"))
	e.live(t, "alice", a3)
	e.live(t, "bob", b1)
}

func testListSessions(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	e.user(t, "bob", "user")
	t0 := e.clock.Now()
	// Later sessions expire sooner, so only creation order gives the
	// expected list order.
	s1, _ := e.session(t, "alice", idle, 48*time.Hour)
	e.clock.Advance(time.Minute)
	s2, _ := e.session(t, "alice", idle, 24*time.Hour)
	e.clock.Advance(time.Minute)
	s3, _ := e.session(t, "alice", idle, 12*time.Hour)
	e.clock.Advance(time.Minute)
	revoked, _ := e.session(t, "alice", idle, life)
	must(t, "RevokeSession", e.s.RevokeSession(e.ctx, "alice", revoked))
	idled, _ := e.session(t, "alice", time.Minute, life)
	short, _ := e.session(t, "alice", idle, 2*time.Minute)
	e.session(t, "bob", idle, life)
	// idled and short are over now, but nothing has touched them since:
	// Sessions alone must tell that they are not live.
	e.clock.Advance(3 * time.Minute)
	e.live(t, "alice", s2) // marks s2 as used now

	got, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	want := []store.Session{
		{ID: s1, CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(48 * time.Hour)},
		{ID: s2, CreatedAt: t0.Add(time.Minute), LastSeen: e.clock.Now(), ExpiresAt: t0.Add(time.Minute + 24*time.Hour)},
		{ID: s3, CreatedAt: t0.Add(2 * time.Minute), LastSeen: t0.Add(2 * time.Minute), ExpiresAt: t0.Add(2*time.Minute + 12*time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("Sessions = %d sessions, want %d (%v)", len(got), len(want), got)
	}
	for i := range want {
		want[i].Username = "alice"
		want[i].Roles = []string{"user"}
		want[i].IdleTimeout = idle
		checkSession(t, fmt.Sprintf("Sessions[%d]", i), got[i], want[i])
	}

	e.gone(t, "alice", idled)
	e.gone(t, "alice", short)

	for _, name := range []string{"nobody", "bad name", ""} {
		list, err := e.s.Sessions(e.ctx, name)
		must(t, "Sessions("+name+")", err)
		if len(list) != 0 {
			t.Errorf("Sessions(%q) = %d sessions, want 0", name, len(list))
		}
	}
}

func testDisableRevokes(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	e.user(t, "bob", "user")
	read, _ := e.session(t, "alice", idle, life)
	untouched, untouchedRef := e.session(t, "alice", idle, life)
	bobs, _ := e.session(t, "bob", idle, life)

	must(t, "SetDisabled(true)", e.s.SetDisabled(e.ctx, "alice", true))
	must(t, "SetDisabled(true)", e.s.SetDisabled(e.ctx, "bob", true))
	e.gone(t, "alice", read)
	list, err := e.s.Sessions(e.ctx, "bob")
	must(t, "Sessions", err)
	if len(list) != 0 {
		t.Errorf("Sessions of a disabled user = %d sessions, want 0", len(list))
	}

	// Re-enabling lets the users log in again, but the sessions that
	// existed when the accounts were disabled stay dead, including one
	// that nobody looked at in between.
	must(t, "SetDisabled(false)", e.s.SetDisabled(e.ctx, "alice", false))
	must(t, "SetDisabled(false)", e.s.SetDisabled(e.ctx, "bob", false))
	for _, u := range []string{"alice", "bob"} {
		list, err = e.s.Sessions(e.ctx, u)
		must(t, "Sessions", err)
		if len(list) != 0 {
			t.Errorf("Sessions(%s) after re-enable = %d sessions, want 0", u, len(list))
		}
	}
	e.gone(t, "alice", untouched)
	e.gone(t, "alice", read)
	e.gone(t, "bob", bobs)
	_, err = e.s.RotateRefresh(e.ctx, "alice", untouched, store.Rotation{Old: untouchedRef, Next: newDigest()})
	wantErr(t, "RotateRefresh after re-enable", err, store.ErrNotFound)
	fresh, _ := e.session(t, "alice", idle, life)
	e.live(t, "alice", fresh)
}

func testWrongOwner(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	e.user(t, "bob", "user")
	id, ref := e.session(t, "bob", idle, life)
	e.gone(t, "alice", id)
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: ref, Next: newDigest()})
	wantErr(t, "RotateRefresh as the wrong user", err, store.ErrNotFound)
	must(t, "RevokeSession as the wrong user", e.s.RevokeSession(e.ctx, "alice", id))
	must(t, "RevokeAll of another user", e.s.RevokeAll(e.ctx, "alice"))
	e.live(t, "bob", id)
	e.rotate(t, "bob", id, ref, 0)
}

// testPeekSession checks that PeekSession reads what Session reads but
// changes nothing: it neither slides the idle timeout nor records a use.
func testPeekSession(t *testing.T, e *env) {
	const idle = 10 * time.Minute
	e.user(t, "alice", "admin")
	e.user(t, "bob", "user")
	t0 := e.clock.Now()
	id, _ := e.session(t, "alice", idle, life)
	want := store.Session{
		ID: id, Username: "alice", Roles: []string{"admin"},
		CreatedAt: t0, LastSeen: t0, IdleTimeout: idle, ExpiresAt: t0.Add(life),
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"PeekReadsTheSession", func(t *testing.T) {
			e.clock.Advance(time.Minute)
			got, err := e.s.PeekSession(e.ctx, "alice", id)
			must(t, "PeekSession", err)
			checkSession(t, "PeekSession", got, want)
		}},
		{"PeekAfterSessionMatchesIt", func(t *testing.T) {
			read := e.live(t, "alice", id)
			want.LastSeen = e.clock.Now()
			checkSession(t, "Session", read, want)
			got, err := e.s.PeekSession(e.ctx, "alice", id)
			must(t, "PeekSession", err)
			checkSession(t, "PeekSession", got, read)
		}},
		{"PeekSeesCurrentRoles", func(t *testing.T) {
			must(t, "SetRoles", e.s.SetRoles(e.ctx, "alice", []string{"ops"}))
			want.Roles = []string{"ops"}
			got, err := e.s.PeekSession(e.ctx, "alice", id)
			must(t, "PeekSession", err)
			checkSession(t, "PeekSession", got, want)
		}},
		{"PeekDoesNotSlide", func(t *testing.T) {
			e.clock.Advance(idle - time.Millisecond)
			got, err := e.s.PeekSession(e.ctx, "alice", id)
			must(t, "PeekSession just before the idle timeout", err)
			checkSession(t, "PeekSession", got, want)
			e.clock.Advance(time.Millisecond)
			e.gone(t, "alice", id)
		}},
		{"PeekNotLive", func(t *testing.T) {
			for _, c := range []struct {
				name, username string
				id             store.Digest
			}{
				{"UnknownID", "alice", newDigest()},
				{"WrongOwner", "bob", id},
				{"UnknownUser", "nobody", id},
				{"MalformedUser", "bad name", id},
			} {
				_, err := e.s.PeekSession(e.ctx, c.username, c.id)
				wantErr(t, "PeekSession "+c.name, err, store.ErrNotFound)
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, st.run)
	}
}

// testStaleGeneration checks that a login whose user changed between the
// password check and the session creation creates nothing.
func testStaleGeneration(t *testing.T, e *env) {
	tests := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"PasswordChanged", func(t *testing.T) {
			must(t, "SetPasswordHash", e.s.SetPasswordHash(e.ctx, "alice", []byte("$2a$10$new")))
		}},
		{"DisabledAndEnabled", func(t *testing.T) {
			must(t, "SetDisabled(true)", e.s.SetDisabled(e.ctx, "alice", true))
			must(t, "SetDisabled(false)", e.s.SetDisabled(e.ctx, "alice", false))
		}},
		{"RevokedAll", func(t *testing.T) {
			must(t, "RevokeAll", e.s.RevokeAll(e.ctx, "alice"))
		}},
	}
	e.user(t, "alice", "user")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := e.spec(t, "alice", idle, life)
			tc.change(t)
			wantErr(t, "CreateSession", e.create(t, ns), store.ErrStale)
			e.gone(t, "alice", ns.ID)
			list, err := e.s.Sessions(e.ctx, "alice")
			must(t, "Sessions", err)
			if len(list) != 0 {
				t.Errorf("Sessions = %d sessions after a stale create, want 0", len(list))
			}
			// A login that reads the user again succeeds.
			id, _ := e.session(t, "alice", idle, life)
			e.live(t, "alice", id)
			must(t, "RevokeSession", e.s.RevokeSession(e.ctx, "alice", id))
		})
	}
}

// testPasswordChangeRace runs logins concurrently with a password change.
// Each login reads the user and, while it still sees the old hash (its
// password check would pass), creates a session with the generation it
// read. Whatever the interleaving, no session created by such a login may
// outlive the change. The change waits until logins are under way, so
// that some are in flight when it lands.
func testPasswordChangeRace(t *testing.T, e *env) {
	const (
		logins   = 8
		attempts = 50 // per login goroutine, so the test ends
	)
	e.user(t, "alice", "user")
	oldHash := []byte("$2a$10$alice")

	var (
		mu      sync.Mutex
		created []store.Digest
		stale   int
	)
	var wg sync.WaitGroup
	start := make(chan struct{})
	underway := make(chan struct{})
	signal := sync.OnceFunc(func() { close(underway) })
	for range logins {
		wg.Go(func() {
			defer signal() // never leave the change waiting
			<-start
			for range attempts {
				u, err := e.s.User(e.ctx, "alice")
				if err != nil {
					t.Errorf("User: %v", err)
					return
				}
				if !bytes.Equal(u.PasswordHash, oldHash) {
					return // the password check would fail from now on
				}
				ns := store.SessionSpec{
					ID: newDigest(), Username: "alice", Refresh: newDigest(),
					IdleTimeout: idle, ExpiresAt: e.clock.Now().Add(life), Generation: u.Generation,
				}
				err = e.create(t, ns)
				mu.Lock()
				switch {
				case err == nil:
					created = append(created, ns.ID)
					if len(created) == logins {
						signal()
					}
				case errors.Is(err, store.ErrStale):
					stale++
				default:
					t.Errorf("CreateSession: error = %v, want nil or ErrStale", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		<-underway
		if err := e.s.SetPasswordHash(e.ctx, "alice", []byte("$2a$10$new")); err != nil {
			t.Errorf("SetPasswordHash: %v", err)
		}
	})
	close(start)
	wg.Wait()

	t.Logf("%d sessions created before the change, %d logins refused as stale", len(created), stale)
	for _, id := range created {
		e.gone(t, "alice", id)
	}
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 0 {
		t.Errorf("Sessions after the password change = %d sessions, want 0", len(list))
	}
}

// testMaxSessions checks the per-user cap: creating a session beyond it
// revokes the user's oldest sessions (earliest absolute expiry), counting
// only live ones and never the new session itself, and reports exactly
// those it revoked, oldest first.
func testMaxSessions(t *testing.T, e *env) {
	const maxSessions = 3
	// createCapped creates a session under cap and checks that it
	// evicted exactly want, which then no longer read.
	createCapped := func(t *testing.T, username string, idle, life time.Duration, limit int, want ...store.Digest) store.Digest {
		t.Helper()
		ns := e.spec(t, username, idle, life)
		ns.MaxSessions = limit
		evicted, err := e.s.CreateSession(e.ctx, ns)
		must(t, "CreateSession", err)
		if !slices.Equal(evicted, want) {
			t.Errorf("CreateSession evicted %v, want %v", evicted, want)
		}
		if want == nil && evicted != nil {
			t.Errorf("CreateSession evicted %#v, want nil", evicted)
		}
		for _, id := range evicted {
			e.gone(t, username, id)
		}
		return ns.ID
	}
	create := func(t *testing.T, username string, idle, life time.Duration, want ...store.Digest) store.Digest {
		t.Helper()
		return createCapped(t, username, idle, life, maxSessions, want...)
	}
	listIDs := func(t *testing.T, username string) []store.Digest {
		t.Helper()
		list, err := e.s.Sessions(e.ctx, username)
		must(t, "Sessions", err)
		ids := make([]store.Digest, len(list))
		for i, s := range list {
			ids[i] = s.ID
		}
		return ids
	}

	t.Run("OldestGo", func(t *testing.T) {
		e.user(t, "alice", "user")
		e.user(t, "bob", "user")
		bobs := create(t, "bob", idle, life)
		var ids []store.Digest
		for i := range 5 {
			// The fourth and fifth each end the oldest then.
			var want []store.Digest
			if i >= maxSessions {
				want = ids[i-maxSessions : i-maxSessions+1]
			}
			ids = append(ids, create(t, "alice", idle, life, want...))
			e.clock.Advance(time.Minute)
		}
		for _, id := range ids[:2] {
			e.gone(t, "alice", id)
		}
		for _, id := range ids[2:] {
			e.live(t, "alice", id)
		}
		if got := listIDs(t, "alice"); !slices.Equal(got, ids[2:]) {
			t.Errorf("Sessions = %v, want the 3 newest %v", got, ids[2:])
		}
		e.live(t, "bob", bobs) // the cap is per user
	})
	t.Run("ByExpiry", func(t *testing.T) {
		e.user(t, "carol", "user")
		long := create(t, "carol", idle, 48*time.Hour)
		short := create(t, "carol", idle, time.Hour)
		mid := create(t, "carol", idle, 24*time.Hour)
		// The new session expires first of all, yet it is the one the
		// caller is about to hand out: the oldest of the others goes.
		newest := create(t, "carol", idle, 30*time.Minute, short)
		for _, id := range []store.Digest{long, mid, newest} {
			e.live(t, "carol", id)
		}
	})
	t.Run("SeveralOldestFirst", func(t *testing.T) {
		// A lower cap than the sessions already there ends several in
		// one step, reported in the order the cap chose them.
		e.user(t, "frank", "user")
		long := create(t, "frank", idle, 48*time.Hour)
		short := create(t, "frank", idle, time.Hour)
		mid := create(t, "frank", idle, 24*time.Hour)
		only := createCapped(t, "frank", idle, life, 1, short, mid, long)
		if got := listIDs(t, "frank"); !slices.Equal(got, []store.Digest{only}) {
			t.Errorf("Sessions = %v, want only the new one %v", got, only)
		}
	})
	t.Run("DeadSessionsDoNotCount", func(t *testing.T) {
		e.user(t, "dave", "user")
		idled := create(t, "dave", time.Minute, life)
		live1 := create(t, "dave", idle, life)
		must(t, "RevokeSession", e.s.RevokeSession(e.ctx, "dave", create(t, "dave", idle, life)))
		e.clock.Advance(2 * time.Minute)
		// Sweeping idled away is no eviction: it had ended already.
		live2 := create(t, "dave", idle, life)
		live3 := create(t, "dave", idle, life)
		for _, id := range []store.Digest{live1, live2, live3} {
			e.live(t, "dave", id)
		}
		e.gone(t, "dave", idled)
		if got := listIDs(t, "dave"); len(got) != maxSessions {
			t.Errorf("Sessions = %d sessions, want %d", len(got), maxSessions)
		}
	})
	t.Run("ZeroMeansNoCap", func(t *testing.T) {
		e.user(t, "erin", "user")
		var ids []store.Digest
		for range 5 {
			id, _ := e.session(t, "erin", idle, life)
			ids = append(ids, id)
		}
		for _, id := range ids {
			e.live(t, "erin", id)
		}
	})
}
