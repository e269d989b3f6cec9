package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// RunChallenges runs the contract of a [store.ChallengeStore]: values
// kept until an expiry read from the injected clock, read in place or
// taken once, of concurrent takes exactly one winning. Each subtest gets
// a fresh store from newStore; now is the clock it must use.
func RunChallenges(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.ChallengeStore) {
	t.Helper()
	runCases(t, challengeCases, func(t *testing.T, clk *clock) *cenv {
		return &cenv{s: notNil(t, newStore(t, clk.Now)), clock: clk, ctx: t.Context()}
	})
}

// cenv is what a challenge case works with.
type cenv struct {
	s     store.ChallengeStore
	clock *clock
	ctx   context.Context
}

var challengeCases = []caseOf[cenv]{
	{"PutPeekTake", testChallengePutPeekTake},
	{"ValueIsCopied", testChallengeCopies},
	{"ConcurrentTake", testChallengeConcurrentTake},
	{"Expiry", testChallengeExpiry},
	{"LiveDuplicateExists", testChallengeDuplicate},
	{"Invalid", testChallengeInvalid},
	{"ContextDone", testChallengeContextDone},
}

// put stores value under a fresh id for life, failing the test on error.
func (e *cenv) put(t *testing.T, value string, life time.Duration) store.Digest {
	t.Helper()
	id := newDigest()
	must(t, "PutChallenge", e.s.PutChallenge(e.ctx, id, []byte(value), e.clock.Now().Add(life)))
	return id
}

// wantLive fails the test unless id reads back as value (without taking it).
func (e *cenv) wantLive(t *testing.T, what string, id store.Digest, value string) {
	t.Helper()
	got, err := e.s.Challenge(e.ctx, id)
	if err != nil || string(got) != value {
		t.Errorf("%s: Challenge = %q, %v; want %q", what, got, err, value)
	}
}

// wantGone fails the test unless id reads as not found, peeked or taken.
func (e *cenv) wantGone(t *testing.T, what string, id store.Digest) {
	t.Helper()
	_, err := e.s.Challenge(e.ctx, id)
	wantErr(t, what+": Challenge", err, store.ErrNotFound)
	_, err = e.s.TakeChallenge(e.ctx, id)
	wantErr(t, what+": TakeChallenge", err, store.ErrNotFound)
}

func testChallengePutPeekTake(t *testing.T, e *cenv) {
	id := e.put(t, "ticket for alice", time.Minute)
	other := e.put(t, "webauthn state", time.Minute)
	e.wantLive(t, "after put", id, "ticket for alice")
	e.wantLive(t, "read again", id, "ticket for alice")
	got, err := e.s.TakeChallenge(e.ctx, id)
	if err != nil || string(got) != "ticket for alice" {
		t.Errorf("TakeChallenge = %q, %v; want the value", got, err)
	}
	e.wantGone(t, "after take", id)
	e.wantGone(t, "unknown", newDigest())
	e.wantLive(t, "the other one", other, "webauthn state")
	// A taken id may be used again.
	must(t, "PutChallenge after take", e.s.PutChallenge(e.ctx, id, []byte("again"), e.clock.Now().Add(time.Minute)))
	e.wantLive(t, "put again", id, "again")
	// The largest value round-trips.
	big := bytes.Repeat([]byte{0, 1, 0xfe, 0xff}, store.MaxChallenge/4)
	bigID := newDigest()
	must(t, "PutChallenge(MaxChallenge)", e.s.PutChallenge(e.ctx, bigID, big, e.clock.Now().Add(time.Minute)))
	got, err = e.s.TakeChallenge(e.ctx, bigID)
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("TakeChallenge(MaxChallenge) = %d bytes, %v; want the %d put", len(got), err, len(big))
	}
}

func testChallengeCopies(t *testing.T, e *cenv) {
	id, value := newDigest(), []byte("value")
	must(t, "PutChallenge", e.s.PutChallenge(e.ctx, id, value, e.clock.Now().Add(time.Minute)))
	value[0] = 'X'
	e.wantLive(t, "after changing the value put", id, "value")
	got, err := e.s.Challenge(e.ctx, id)
	must(t, "Challenge", err)
	got[0] = 'X'
	e.wantLive(t, "after changing the value read", id, "value")
}

func testChallengeConcurrentTake(t *testing.T, e *cenv) {
	const n = 16
	for round := range 5 {
		id := e.put(t, "once", time.Minute)
		var won, lost atomic.Int32
		concurrently(n, func(int) {
			v, err := e.s.TakeChallenge(e.ctx, id)
			switch {
			case err == nil && string(v) == "once":
				won.Add(1)
			case errors.Is(err, store.ErrNotFound):
				lost.Add(1)
			default:
				t.Errorf("TakeChallenge = %q, %v", v, err)
			}
		})
		if won.Load() != 1 || lost.Load() != n-1 {
			t.Fatalf("round %d: %d takes won and %d found nothing, want 1 and %d", round, won.Load(), lost.Load(), n-1)
		}
	}
}

func testChallengeExpiry(t *testing.T, e *cenv) {
	short := e.put(t, "short", time.Minute)
	long := e.put(t, "long", 2*time.Minute)
	e.clock.Advance(time.Minute - time.Millisecond)
	e.wantLive(t, "just before its expiry", short, "short")
	e.clock.Advance(time.Millisecond)
	e.wantGone(t, "at its expiry", short)
	e.wantLive(t, "the longer-lived one", long, "long")
	e.clock.Advance(time.Minute)
	e.wantGone(t, "the longer-lived one at its expiry", long)
}

func testChallengeDuplicate(t *testing.T, e *cenv) {
	id := e.put(t, "first", time.Minute)
	err := e.s.PutChallenge(e.ctx, id, []byte("second"), e.clock.Now().Add(time.Hour))
	wantErr(t, "PutChallenge of a live id", err, store.ErrExists)
	e.wantLive(t, "after ErrExists", id, "first")
	// Once expired, the id may be used again.
	e.clock.Advance(time.Minute)
	must(t, "PutChallenge of an expired id", e.s.PutChallenge(e.ctx, id, []byte("third"), e.clock.Now().Add(time.Minute)))
	e.wantLive(t, "put over an expired one", id, "third")
	e.clock.Advance(time.Minute - time.Millisecond)
	e.wantLive(t, "with its own expiry", id, "third")
}

func testChallengeInvalid(t *testing.T, e *cenv) {
	now := e.clock.Now()
	for _, c := range []struct {
		name      string
		value     []byte
		expiresAt time.Time
	}{
		{"TooLarge", make([]byte, store.MaxChallenge+1), now.Add(time.Minute)},
		{"ExpiresNow", []byte("v"), now},
		{"ExpiredAlready", []byte("v"), now.Add(-time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := newDigest()
			wantErr(t, "PutChallenge", e.s.PutChallenge(e.ctx, id, c.value, c.expiresAt), store.ErrInvalid)
			e.wantGone(t, "after the invalid put", id)
		})
	}
}

func testChallengeContextDone(t *testing.T, e *cenv) {
	id := e.put(t, "kept", time.Minute)
	for _, c := range doneContexts(t, e.ctx) {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			exp := e.clock.Now().Add(time.Minute)
			calls := []struct {
				name string
				call func() error
			}{
				{"PutChallenge", func() error { return e.s.PutChallenge(ctx, newDigest(), []byte("v"), exp) }},
				{"Challenge", func() error { _, err := e.s.Challenge(ctx, id); return err }},
				{"ChallengeUnknown", func() error { _, err := e.s.Challenge(ctx, newDigest()); return err }},
				{"TakeChallenge", func() error { _, err := e.s.TakeChallenge(ctx, id); return err }},
				{"TakeChallengeUnknown", func() error { _, err := e.s.TakeChallenge(ctx, newDigest()); return err }},
			}
			for _, c := range calls {
				wantInfraErr(t, c.name, c.call())
			}
		})
	}
	e.wantLive(t, "after the failed calls", id, "kept")
}
