package storetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

var refreshCases = []testCase{
	{"Rotate", testRotate},
	{"RotateSlides", testRotateSlides},
	{"Reuse", testReuse},
	{"ReuseAfterMany", testReuseAfterMany},
	{"NeverIssued", testNeverIssued},
	{"NotLive", testRotateNotLive},
	{"Invalid", testRotateInvalid},
	{"Concurrent", testConcurrentRotate},
	{"Grace", testGrace},
	{"GraceRejects", testGraceRejects},
	{"ConcurrentSameNext", testConcurrentSameNext},
	{"RetryReportsClient", testRetryReportsClient},
	{"RotateSeesRoles", testRotateSeesRoles},
}

// grace is the grace period of the tests that use one.
const grace = time.Minute

func testRotate(t *testing.T, e *env) {
	e.user(t, "alice", "admin")
	t0 := e.clock.Now()
	id, r0 := e.session(t, "alice", idle, life)
	want := store.Session{
		ID: id, Username: "alice", Roles: []string{"admin"},
		CreatedAt: t0, IdleTimeout: idle, ExpiresAt: t0.Add(life),
	}
	cur := r0
	for seq := range uint64(3) {
		e.clock.Advance(time.Minute)
		next := newDigest()
		got, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: cur, Seq: seq, Next: next, Grace: grace, Client: "192.0.2.1"})
		must(t, "RotateRefresh", err)
		want.LastSeen = e.clock.Now()
		checkSession(t, "RotateRefresh", got, want)
		checkRetried(t, "RotateRefresh", got, false, "")
		checkSession(t, "Session", e.live(t, "alice", id), want)
		cur = next
	}
}

// testRotateSeesRoles: what a rotation and a retry return carries the
// owner's roles as they are now, as a read would, also when the roles
// changed since the session was created. A backend that rotates in one
// step reads them there.
func testRotateSeesRoles(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	must(t, "SetRoles", e.s.SetRoles(e.ctx, "alice", []string{"admin", "ops"}))
	r1 := newDigest()
	got, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: r1, Grace: grace})
	must(t, "RotateRefresh", err)
	want := e.live(t, "alice", id)
	checkSession(t, "RotateRefresh after SetRoles", got, want)
	must(t, "SetRoles", e.s.SetRoles(e.ctx, "alice", nil))
	got, err = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: r1, Grace: grace})
	must(t, "RotateRefresh (retry)", err)
	checkRetried(t, "RotateRefresh (retry)", got, true, "")
	if len(got.Roles) != 0 {
		t.Errorf("retry after the roles were removed: roles %q, want none", got.Roles)
	}
}

func testRotateSlides(t *testing.T, e *env) {
	const idle = 10 * time.Minute
	e.user(t, "alice", "user")
	id, cur := e.session(t, "alice", idle, life)
	// Refreshing counts as use, like reading the session.
	for seq := range uint64(3) {
		e.clock.Advance(idle - time.Second)
		cur = e.rotate(t, "alice", id, cur, seq)
	}
	e.clock.Advance(idle)
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: cur, Seq: 3, Next: newDigest()})
	wantErr(t, "RotateRefresh after idle timeout", err, store.ErrNotFound)
}

func testReuse(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	other, otherRef := e.session(t, "alice", idle, life)
	r1 := e.rotate(t, "alice", id, r0, 0)
	r2 := e.rotate(t, "alice", id, r1, 1)

	// r0 was rotated away: presenting it again means it was copied. The
	// whole session ends, including for the holder of the newest token.
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: newDigest()})
	wantErr(t, "RotateRefresh of a rotated token", err, store.ErrReused)
	e.gone(t, "alice", id)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r2, Seq: 2, Next: newDigest()})
	wantErr(t, "RotateRefresh of the newest token after reuse", err, store.ErrNotFound)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: newDigest()})
	wantErr(t, "RotateRefresh of the reused token again", err, store.ErrNotFound)

	// Only that session: the user's other sessions carry on.
	e.live(t, "alice", other)
	e.rotate(t, "alice", other, otherRef, 0)
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 1 || list[0].ID != other {
		t.Errorf("Sessions after reuse = %v, want only %v", list, other)
	}
}

// testReuseAfterMany checks that the rotation state, though constant in
// size, still recognises the first token of a long chain as reused.
func testReuseAfterMany(t *testing.T, e *env) {
	const rotations = 200
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	cur := r0
	for seq := range uint64(rotations) {
		cur = e.rotate(t, "alice", id, cur, seq)
	}
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: newDigest(), Grace: grace})
	wantErr(t, "RotateRefresh of the first token", err, store.ErrReused)
	e.gone(t, "alice", id)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: cur, Seq: rotations, Next: newDigest()})
	wantErr(t, "RotateRefresh of the newest token after reuse", err, store.ErrNotFound)
}

func testNeverIssued(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	other, otherRef := e.session(t, "alice", idle, life)

	// A digest the session never issued proves nothing about theft, so the
	// session survives it.
	_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: newDigest(), Next: newDigest()})
	wantErr(t, "RotateRefresh of an unknown digest", err, store.ErrNotFound)
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: otherRef, Next: newDigest()})
	wantErr(t, "RotateRefresh of another session's digest", err, store.ErrNotFound)
	e.live(t, "alice", id)
	e.live(t, "alice", other)
	r1 := e.rotate(t, "alice", id, r0, 0)
	r2 := e.rotate(t, "alice", id, r1, 1)
	e.rotate(t, "alice", other, otherRef, 0)

	// Nor does an unknown digest that claims a place at or after the
	// session's current one in the chain.
	for _, seq := range []uint64{2, 3, math.MaxUint64} {
		_, err = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: newDigest(), Seq: seq, Next: newDigest(), Grace: grace})
		wantErr(t, "RotateRefresh of an unknown digest at a current or later seq", err, store.ErrNotFound)
	}
	e.live(t, "alice", id)
	e.rotate(t, "alice", id, r2, 2)
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
		{"PasswordChanged", func(t *testing.T) (string, store.Digest, store.Digest) {
			e.user(t, "u7", "user")
			id, ref := e.session(t, "u7", idle, life)
			must(t, "SetPasswordHash", e.s.SetPasswordHash(e.ctx, "u7", []byte("new")))
			return "u7", id, ref
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
			_, err := e.s.RotateRefresh(e.ctx, username, id, store.Rotation{Old: ref, Next: newDigest(), Grace: grace})
			wantErr(t, "RotateRefresh", err, store.ErrNotFound)
		})
	}
}

func testRotateInvalid(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	tests := []struct {
		name string
		r    store.Rotation
	}{
		{"ZeroNext", store.Rotation{Old: r0, Next: store.Digest{}}},
		{"NextIsOld", store.Rotation{Old: r0, Next: r0}},
		{"NegativeGrace", store.Rotation{Old: r0, Next: newDigest(), Grace: -time.Second}},
		{"LongClient", store.Rotation{Old: r0, Next: newDigest(), Client: strings.Repeat("1", store.MaxClientLen+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.RotateRefresh(e.ctx, "alice", id, tc.r)
			wantErr(t, "RotateRefresh", err, store.ErrInvalid)
		})
	}
	// A rejected call changes nothing.
	e.rotate(t, "alice", id, r0, 0)
}

// checkRetried fails the test unless s reports Retried and RotatedBy as
// wanted.
func checkRetried(t *testing.T, what string, s store.Session, retried bool, by string) {
	t.Helper()
	if s.Retried != retried || s.RotatedBy != by {
		t.Errorf("%s: Retried, RotatedBy = %v, %q; want %v, %q", what, s.Retried, s.RotatedBy, retried, by)
	}
}

// testRetryReportsClient checks that a retry within the grace period
// says so, with the client address the retried rotation recorded, and
// that a rotation never does: it records its own address instead,
// replacing the previous one, or none.
func testRetryReportsClient(t *testing.T, e *env) {
	const first, second = "192.0.2.1", "2001:db8::2"
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	r1, r2, r3, r4, r5 := newDigest(), newDigest(), newDigest(), newDigest(), newDigest()
	rotation := func(old, next store.Digest, seq uint64, client string) store.Rotation {
		return store.Rotation{Old: old, Seq: seq, Next: next, Grace: grace, Client: client}
	}
	present := func(t *testing.T, what string, r store.Rotation, retried bool, by string) {
		t.Helper()
		got, err := e.s.RotateRefresh(e.ctx, "alice", id, r)
		must(t, what, err)
		checkRetried(t, what, got, retried, by)
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"RotationIsNoRetry", func(t *testing.T) {
			present(t, "RotateRefresh", rotation(r0, r1, 0, first), false, "")
		}},
		{"RetryReportsTheRotationsClient", func(t *testing.T) {
			e.clock.Advance(time.Second)
			present(t, "retry from another client", rotation(r0, r1, 0, second), true, first)
		}},
		{"RetryRecordsNothing", func(t *testing.T) {
			present(t, "retry from the first client", rotation(r0, r1, 0, first), true, first)
			present(t, "retry without a client", rotation(r0, r1, 0, ""), true, first)
		}},
		{"MaxClientLen", func(t *testing.T) {
			long := strings.Repeat("f", store.MaxClientLen)
			present(t, "RotateRefresh", rotation(r1, r2, 1, long), false, "")
			present(t, "retry", rotation(r1, r2, 1, first), true, long)
		}},
		{"EmptyClientRecordsNone", func(t *testing.T) {
			present(t, "RotateRefresh", rotation(r2, r3, 2, ""), false, "")
			present(t, "retry", rotation(r2, r3, 2, second), true, "")
		}},
		{"RotationAfterRetries", func(t *testing.T) {
			// The session carries on from r3, whatever the retries.
			present(t, "RotateRefresh", rotation(r3, r4, 3, second), false, "")
		}},
		{"SameClientAgain", func(t *testing.T) {
			present(t, "RotateRefresh", rotation(r4, r5, 4, second), false, "")
			present(t, "retry", rotation(r4, r5, 4, first), true, second)
		}},
	}
	for _, st := range steps {
		t.Run(st.name, st.run)
	}
}

// testConcurrentRotate checks that of concurrent rotations of one token to
// different successors exactly one wins, with or without a grace period:
// the grace covers only the successor that won.
func testConcurrentRotate(t *testing.T, e *env) {
	const n = 50
	e.user(t, "alice", "user")
	for _, g := range []struct {
		name  string
		grace time.Duration
	}{{"NoGrace", 0}, {"Grace", grace}} {
		t.Run(g.name, func(t *testing.T) {
			id, r0 := e.session(t, "alice", idle, life)
			errs := make([]error, n)
			concurrently(n, func(i int) {
				_, errs[i] = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Next: newDigest(), Grace: g.grace})
			})

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
			// Every loser came after the winner, so the first of them saw
			// a rotated token and revoked the session.
			if reused == 0 {
				t.Errorf("no call reported ErrReused")
			}
			e.gone(t, "alice", id)
		})
	}
}

// testConcurrentSameNext checks the point of the grace period: concurrent
// refreshes that derive the same successor (as a client retrying, or two
// tabs sharing a token) all succeed, and the session stays live.
func testConcurrentSameNext(t *testing.T, e *env) {
	const n = 50
	e.user(t, "alice", "user")
	id, r0 := e.session(t, "alice", idle, life)
	r1 := newDigest()
	errs := make([]error, n)
	got := make([]store.Session, n)
	client := func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }
	concurrently(n, func(i int) {
		got[i], errs[i] = e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r0, Next: r1, Grace: grace, Client: client(i)})
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err != nil:
			t.Errorf("call %d: error = %v, want success", i, err)
		case !got[i].Retried && winner >= 0:
			t.Errorf("calls %d and %d both report a rotation, want one", winner, i)
		case !got[i].Retried:
			winner = i
		}
	}
	// The others were retries of the one that rotated, and say whose.
	for i, s := range got {
		if winner >= 0 && i != winner && errs[i] == nil {
			checkRetried(t, fmt.Sprintf("call %d", i), s, true, client(winner))
		}
	}
	if winner < 0 {
		t.Errorf("no call reports the rotation")
	}
	e.live(t, "alice", id)
	// They rotated once, not n times: r1 is current, with seq 1.
	e.rotate(t, "alice", id, r1, 1)
}

// testGrace walks one session through the grace period of a rotation.
func testGrace(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	t0 := e.clock.Now()
	id, r0 := e.session(t, "alice", idle, life)
	r1 := newDigest()
	retry := store.Rotation{Old: r0, Seq: 0, Next: r1, Grace: grace}
	want := store.Session{
		ID: id, Username: "alice", Roles: []string{"user"},
		CreatedAt: t0, IdleTimeout: idle, ExpiresAt: t0.Add(life),
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Rotate", func(t *testing.T) {
			_, err := e.s.RotateRefresh(e.ctx, "alice", id, retry)
			must(t, "RotateRefresh", err)
		}},
		{"RetryWithinGrace", func(t *testing.T) {
			e.clock.Advance(grace / 2)
			got, err := e.s.RotateRefresh(e.ctx, "alice", id, retry)
			must(t, "RotateRefresh retry", err)
			// A retry is a use, like any refresh.
			want.LastSeen = e.clock.Now()
			checkSession(t, "RotateRefresh retry", got, want)
			checkRetried(t, "RotateRefresh retry", got, true, "")
			got, err = e.s.PeekSession(e.ctx, "alice", id)
			must(t, "PeekSession", err)
			checkSession(t, "PeekSession", got, want)
		}},
		{"RetryAgainJustBeforeGraceEnds", func(t *testing.T) {
			// The retry changed neither r1 nor r0's place as the previous
			// digest, so it can be retried again.
			e.clock.Advance(grace/2 - time.Millisecond)
			_, err := e.s.RotateRefresh(e.ctx, "alice", id, retry)
			must(t, "RotateRefresh retry", err)
		}},
		{"UnknownDigestAtCurrentSeq", func(t *testing.T) {
			// The retries did not move the sequence number past 1.
			_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: newDigest(), Seq: 1, Next: newDigest(), Grace: grace})
			wantErr(t, "RotateRefresh of an unknown digest", err, store.ErrNotFound)
			e.live(t, "alice", id)
		}},
		{"RetryAfterGrace", func(t *testing.T) {
			// The grace runs from the rotation, not from the last retry.
			e.clock.Advance(time.Millisecond)
			_, err := e.s.RotateRefresh(e.ctx, "alice", id, retry)
			wantErr(t, "RotateRefresh retry after the grace", err, store.ErrReused)
			e.gone(t, "alice", id)
		}},
	}
	for _, st := range steps {
		t.Run(st.name, st.run)
	}
}

// testGraceRejects checks that the grace period forgives nothing but a
// retry of the latest rotation with the same successor, in time.
func testGraceRejects(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	tests := []struct {
		name string
		// present returns the rotation presented after r0 was rotated to
		// r1 (and r1 to r2) at the start of the test.
		present func(r0, r1, r2 store.Digest) store.Rotation
		after   time.Duration
	}{
		{"OtherNext", func(r0, r1, r2 store.Digest) store.Rotation {
			return store.Rotation{Old: r1, Seq: 1, Next: newDigest(), Grace: grace}
		}, time.Second},
		{"NoGrace", func(r0, r1, r2 store.Digest) store.Rotation {
			return store.Rotation{Old: r1, Seq: 1, Next: r2}
		}, 0},
		{"GraceEnded", func(r0, r1, r2 store.Digest) store.Rotation {
			return store.Rotation{Old: r1, Seq: 1, Next: r2, Grace: grace}
		}, grace},
		{"ShorterGrace", func(r0, r1, r2 store.Digest) store.Rotation {
			return store.Rotation{Old: r1, Seq: 1, Next: r2, Grace: time.Second}
		}, time.Second},
		{"OlderRotation", func(r0, r1, r2 store.Digest) store.Rotation {
			return store.Rotation{Old: r0, Seq: 0, Next: r1, Grace: grace}
		}, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, r0 := e.session(t, "alice", idle, life)
			r1 := e.rotate(t, "alice", id, r0, 0)
			r2 := newDigest()
			_, err := e.s.RotateRefresh(e.ctx, "alice", id, store.Rotation{Old: r1, Seq: 1, Next: r2, Grace: grace})
			must(t, "RotateRefresh", err)
			e.clock.Advance(tc.after)
			_, err = e.s.RotateRefresh(e.ctx, "alice", id, tc.present(r0, r1, r2))
			wantErr(t, "RotateRefresh", err, store.ErrReused)
			e.gone(t, "alice", id)
		})
	}
}
