package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

var refreshCases = []testCase{
	{"Rotate", testRotate},
	{"RotateSlides", testRotateSlides},
	{"Reuse", testReuse},
	{"NeverIssued", testNeverIssued},
	{"NotLive", testRotateNotLive},
	{"InvalidNext", testRotateInvalidNext},
	{"Concurrent", testConcurrentRotate},
}

func testRotate(t *testing.T, e *env) {
	e.user(t, "alice", "admin")
	t0 := e.clock.Now()
	id, r0 := e.session(t, "alice", idle, life)
	want := store.Session{
		ID: id, Username: "alice", Roles: []string{"admin"},
		CreatedAt: t0, IdleTimeout: idle, ExpiresAt: t0.Add(life),
	}
	cur := r0
	for range 3 {
		e.clock.Advance(time.Minute)
		next := newDigest()
		got, err := e.s.RotateRefresh(e.ctx, "alice", id, cur, next)
		must(t, "RotateRefresh", err)
		want.LastSeen = e.clock.Now()
		checkSession(t, "RotateRefresh", got, want)
		checkSession(t, "Session", e.live(t, "alice", id), want)
		cur = next
	}
}

func testRotateSlides(t *testing.T, e *env) {
	const idle = 10 * time.Minute
	e.user(t, "alice", "user")
	id, cur := e.session(t, "alice", idle, life)
	// Refreshing counts as use, like reading the session.
	for range 3 {
		e.clock.Advance(idle - time.Second)
		next := newDigest()
		_, err := e.s.RotateRefresh(e.ctx, "alice", id, cur, next)
		must(t, "RotateRefresh", err)
		cur = next
	}
	e.clock.Advance(idle)
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, cur, newDigest())
	wantErr(t, "RotateRefresh after idle timeout", err, store.ErrNotFound)
}

func testReuse(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	other, otherRef := e.session(t, "alice", idle, life)
	r1, r2 := newDigest(), newDigest()
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, r0, r1)
	must(t, "RotateRefresh", err)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r1, r2)
	must(t, "RotateRefresh", err)

	// r0 was rotated away: presenting it again means it was copied. The
	// whole session ends, including for the holder of the newest token.
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r0, newDigest())
	wantErr(t, "RotateRefresh of a rotated token", err, store.ErrReused)
	e.gone(t, "alice", id)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r2, newDigest())
	wantErr(t, "RotateRefresh of the newest token after reuse", err, store.ErrNotFound)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r0, newDigest())
	wantErr(t, "RotateRefresh of the reused token again", err, store.ErrNotFound)

	// Only that session: the user's other sessions carry on.
	e.live(t, "alice", other)
	_, err = e.s.RotateRefresh(e.ctx, "alice", other, otherRef, newDigest())
	must(t, "RotateRefresh of another session", err)
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 1 || list[0].ID != other {
		t.Errorf("Sessions after reuse = %v, want only %v", list, other)
	}
}

func testNeverIssued(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	other, otherRef := e.session(t, "alice", idle, life)

	// A digest the session never issued proves nothing about theft, so the
	// session survives it.
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, newDigest(), newDigest())
	wantErr(t, "RotateRefresh of an unknown digest", err, store.ErrNotFound)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, otherRef, newDigest())
	wantErr(t, "RotateRefresh of another session's digest", err, store.ErrNotFound)
	e.live(t, "alice", id)
	e.live(t, "alice", other)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r0, newDigest())
	must(t, "RotateRefresh", err)
	_, err = e.s.RotateRefresh(e.ctx, "alice", other, otherRef, newDigest())
	must(t, "RotateRefresh of the other session", err)
}

func testRotateNotLive(t *testing.T, e *env) {
	tests := []struct {
		name string
		// setup creates a user and a session and makes it not live; it
		// returns what the caller then presents.
		setup func(t *testing.T) (username string, id, ref store.Digest)
	}{
		{"UnknownSession", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u1", "user")
			return "u1", newDigest(), newDigest()
		}},
		{"UnknownUser", func(t *testing.T) (string, store.Digest, store.Digest) {
			return "nobody", newDigest(), newDigest()
		}},
		{"MalformedUser", func(t *testing.T) (string, store.Digest, store.Digest) {
			return "bad name", newDigest(), newDigest()
		}},
		{"DisabledUser", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u2", "user")
			id, ref := e.session(t, "u2", idle, life)
			must(t, "SetDisabled", e.s.SetDisabled(e.ctx, "u2", true))
			return "u2", id, ref
		}},
		{"IdleExpired", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u3", "user")
			id, ref := e.session(t, "u3", time.Minute, life)
			e.clock.Advance(time.Minute)
			return "u3", id, ref
		}},
		{"Expired", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u4", "user")
			id, ref := e.session(t, "u4", idle, 10*time.Minute)
			e.clock.Advance(5 * time.Minute)
			e.live(t, "u4", id) // use does not extend the lifetime
			e.clock.Advance(5 * time.Minute)
			return "u4", id, ref
		}},
		{"Revoked", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u5", "user")
			id, ref := e.session(t, "u5", idle, life)
			must(t, "RevokeSession", e.s.RevokeSession(e.ctx, "u5", id))
			return "u5", id, ref
		}},
		{"RevokedAll", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u6", "user")
			id, ref := e.session(t, "u6", idle, life)
			must(t, "RevokeAll", e.s.RevokeAll(e.ctx, "u6"))
			return "u6", id, ref
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			username, id, ref := tc.setup(t)
			_, err := e.s.RotateRefresh(e.ctx, username, id, ref, newDigest())
			wantErr(t, "RotateRefresh", err, store.ErrNotFound)
		})
	}
}

func testRotateInvalidNext(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, r0, store.Digest{})
	wantErr(t, "RotateRefresh to the zero digest", err, store.ErrInvalid)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r0, r0)
	wantErr(t, "RotateRefresh to the same digest", err, store.ErrInvalid)
	// A rejected call changes nothing.
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, r0, newDigest())
	must(t, "RotateRefresh", err)
}

func testConcurrentRotate(t *testing.T, e *env) {
	const n = 50
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)

	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = e.s.RotateRefresh(e.ctx, "alice", id, r0, newDigest())
		})
	}
	close(start)
	wg.Wait()

	var ok, reused int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrReused):
			reused++
		case errors.Is(err, store.ErrNotFound):
		default:
			t.Errorf("call %d: error = %v, want nil, ErrReused or ErrNotFound", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent rotations of one token succeeded, want exactly 1", ok, n)
	}
	// Every loser came after the winner, so the first of them saw a
	// rotated token and revoked the session.
	if reused == 0 {
		t.Errorf("no call reported ErrReused")
	}
	e.gone(t, "alice", id)
}
