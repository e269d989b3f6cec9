package redisstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
)

// rotateCase is one rotation presented to a stored record.
type rotateCase struct {
	rec       record
	old, next refKey
	seq       uint64
	now       int64
	grace     int64
}

func (c rotateCase) String() string {
	return fmt.Sprintf("record %+v, old %x, next %x, seq %d, now %d, grace %d", c.rec, c.old[:2], c.next[:2], c.seq, c.now, c.grace)
}

// TestRotateScriptMatchesRule holds the rotate script, the rule of a
// rotation as it runs inside Redis, to [record.rotate], its statement in
// Go: every combination below of record, presented tokens, sequence
// number, time and grace period (the boundaries of each condition and of
// the TTL's slack periods, and random ones) goes through both, which
// must reach the same outcome and, after a rotation or a retry, store
// the very same bytes and leave the hash the TTL of [record.ttl];
// anything else must leave the record as it was. The script must decide
// every record of the fixed layout itself, but for a rotation or retry
// whose successor that layout cannot hold, and decline (rotateFallback)
// exactly those, reuses (which Go applies), records of the varint layout
// and malformed ones, changing nothing.
func TestRotateScriptMatchesRule(t *testing.T) {
	rdb, prefix := testredis.New(t)
	s, err := New(rdb, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const user = "alice"
	id := store.HashSecret([]byte("session"))
	key := s.sessionsKey(user)
	t.Cleanup(func() { rdb.Del(context.Background(), key) })

	// decided and declined count the cases the script decided itself and
	// those it left to Go, and extended those whose write needed a longer
	// TTL than the hash had, so that each subtest can show it met them.
	var decided, declined, extended int
	run := func(t *testing.T, c rotateCase, stored string) (rotation, string) {
		t.Helper()
		// The hash is made anew with the TTL that the write of the record
		// left it (until its cover, see record.cover) at c.now. The TTLs
		// of the fake times run in real time, so one too short to outlast
		// the case is not set: the hash then has none.
		prior := c.rec.cover() - c.now
		setTTL := prior > 10_000
		start := time.Now()
		_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key)
			p.HSet(ctx, key, idField(id), stored, sessFieldRoles, "user")
			if setTTL {
				p.Do(ctx, "PEXPIRE", key, min(prior, maxTTL))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var old, next store.Digest
		copy(old[:], c.old[:])
		copy(next[:], c.next[:])
		next[31] = 1 // a digest whose refKey is c.next, never equal to old
		got, rec, _, _, err := s.rotateOnce(ctx, user, id, store.Rotation{Old: old, Seq: c.seq, Next: next}, c.now, c.grace)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		after := rdb.HGet(ctx, key, idField(id)).Val()
		if got == rotateRotated || got == rotateRetried {
			// A record near its end gets a TTL of a few ms, which run in
			// real time: the hash may be gone by now. The reply is what
			// the script wrote, and what it stored when still there.
			v, _ := rec.encode()
			if after != "" && v != after {
				t.Errorf("%v: the script replied record %x but stored %x", c, v, after)
			}
			after = v
			// The hash lives until the new record's cover: the TTL it had
			// if that was long enough, else what the record needs (see
			// record.ttl), less the real time since (at most elapsed).
			// A TTL of a few ms may have run out already (-2, no key). No
			// TTL at all (-1) is a failure, unless the hash had none and
			// did not need one longer than the prior TTL.
			need := rec.ttl(c.now)
			want := need
			if setTTL {
				want = max(min(prior, maxTTL), need)
			}
			ttl, _ := rdb.Do(ctx, "PTTL", key).Int64()
			elapsed := time.Since(start).Milliseconds() + 1
			switch {
			case ttl == -2:
			case ttl == -1:
				if setTTL || need > prior {
					t.Errorf("%v: the hash has no TTL, want %d ms", c, want)
				}
			case ttl > want || ttl < want-elapsed:
				t.Errorf("%v: the hash's TTL is %d ms, want %d", c, ttl, want)
			}
			if setTTL && need > prior {
				extended++
			}
		}
		return got, after
	}
	// Redis has the struct library the script reads records with; a
	// server without it (miniredis) has the script decline every record,
	// and Go decides.
	reads, err := s.readsFixed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the server's Lua reads the fixed layout: %v", reads)
	check := func(t *testing.T, c rotateCase) {
		t.Helper()
		stored, _ := c.rec.encode()
		want, next := c.rec.rotate(c.old, c.next, c.seq, c.now, c.grace)
		got, after := run(t, c, stored)
		// The script reads the fixed layout only, declines to write a
		// successor that the fixed layout cannot hold, and leaves a reuse
		// to Go.
		writes := want == rotateRotated || want == rotateRetried
		if !reads || stored[0] != recordFixed || writes && !next.fitsFixed() || want == rotateReused {
			if got != rotateFallback || after != stored {
				t.Fatalf("%v: script %d and stored %x, want a fallback that changes nothing", c, got, after)
			}
			declined++
			return
		}
		decided++
		if got != want {
			t.Fatalf("%v: script %d, rule %d", c, got, want)
		}
		switch want {
		case rotateRotated, rotateRetried:
			if v, _ := next.encode(); after != v {
				t.Errorf("%v: script stored %x, rule %x", c, after, v)
			}
		default:
			if after != stored {
				t.Errorf("%v: record changed from %x to %x", c, stored, after)
			}
		}
	}
	both := func(t *testing.T) {
		t.Helper()
		t.Logf("%d cases decided by the script, %d declined, %d extended the TTL", decided, declined, extended)
		if reads && (decided == 0 || extended == 0) || declined == 0 {
			t.Errorf("the cases must include all: %d decided, %d declined, %d extended", decided, declined, extended)
		}
		decided, declined, extended = 0, 0, 0
	}

	ref, prev, other := refKey{1}, refKey{2}, refKey{3}
	const t0 = int64(1_900_000_000_000)
	fresh := record{ref: ref, created: t0, seen: t0 + 1000, idle: 600_000, exp: t0 + 3_600_000}
	rotated := record{ref: ref, prev: prev, seq: 7, rot: t0 + 500_000, created: t0, seen: t0 + 500_000, idle: 600_000, exp: t0 + 3_600_000}
	nearEnd := rotated
	nearEnd.seen = t0 + 3_500_000
	odd := record{ref: ref, prev: prev, seq: 1, rot: t0 - 5, created: t0, seen: t0 - 10, idle: 1, exp: t0 + 1} // times before creation
	// At the bounds of the fixed layout: the last sequence number it
	// holds, the latest creation time, the longest relative times.
	lastSeq := rotated
	lastSeq.seq = fixedMaxSeq
	late := record{ref: ref, created: fixedCreatedMax - 3_600_000, seen: fixedCreatedMax - 3_000_000, idle: 600_000, exp: fixedCreatedMax}
	long := record{ref: ref, prev: prev, seq: 2, created: t0, rot: t0 + fixedRelMax - 1, seen: t0 + fixedRelMax - 10, idle: fixedIdleMax, exp: t0 + fixedRelMax}
	varintRec := rotated
	varintRec.exp = t0 + fixedRelMax + 1
	// Used last in the last millisecond of a slack period (see
	// record.cover), so that a rotation a millisecond later must extend
	// the TTL.
	periodEnd := rotated
	periodEnd.seen = rotated.seen - mod(rotated.seen, rotated.slack()) + rotated.slack() - 1
	periodEnd.rot = periodEnd.seen
	records := []record{fresh, rotated, nearEnd, odd, lastSeq, late, long, varintRec, periodEnd}
	t.Run("Boundaries", func(t *testing.T) {
		n := 0
		for _, rec := range records {
			// The period of the last use ends at period - 1.
			period := rec.seen - mod(rec.seen, rec.slack()) + rec.slack()
			times := []int64{rec.created, rec.seen, rec.rot, rec.rot + 1, rec.seen + rec.idle - 1, rec.seen + rec.idle, rec.exp - 1, rec.exp, rec.created - 1,
				period - 1, period, period + rec.slack() - 1}
			graces := []int64{0, 1, 30_000}
			for _, now := range times {
				graces = append(graces, now-rec.rot, now-rec.rot+1)
			}
			slices.Sort(graces)
			graces = slices.Compact(graces)
			for _, now := range times {
				for _, old := range []refKey{ref, prev, other} {
					for _, next := range []refKey{ref, other} {
						for _, seq := range []uint64{0, rec.seq - 1, rec.seq, rec.seq + 1, math.MaxUint64} {
							for _, grace := range graces {
								if grace < 0 || old == next {
									continue
								}
								check(t, rotateCase{rec, old, next, seq, now, grace})
								n++
							}
						}
					}
				}
			}
		}
		t.Logf("%d cases", n)
		both(t)
	})
	// ttlAfter rotates the record rotated at now in a hash whose TTL is
	// ttl and returns the hash's TTL after.
	ttlAfter := func(t *testing.T, ttl time.Duration, now int64) time.Duration {
		t.Helper()
		if !reads {
			t.Skip("SKIPPED: the server has no struct library, so Go rotates (see rotateSlow)")
		}
		stored, _ := rotated.encode()
		rdb.Del(ctx, key)
		rdb.HSet(ctx, key, idField(id), stored, sessFieldRoles, "user")
		rdb.PExpire(ctx, key, ttl)
		var old, next store.Digest
		copy(old[:], ref[:])
		next[0] = 9
		got, _, _, _, err := s.rotateOnce(ctx, user, id, store.Rotation{Old: old, Seq: rotated.seq, Next: next}, now, 0)
		if err != nil || got != rotateRotated {
			t.Fatalf("rotation: %d, %v", got, err)
		}
		return rdb.PTTL(ctx, key).Val()
	}
	t.Run("TTLLongEnough", func(t *testing.T) {
		// A rotation in a later period than the record's last use looks
		// at the TTL, and keeps one that covers the rotated record.
		next := rotated.seen - mod(rotated.seen, rotated.slack()) + rotated.slack()
		if ttl := ttlAfter(t, 100*time.Hour, next); ttl < 99*time.Hour {
			t.Errorf("the hash's TTL went from 100 h to %v", ttl)
		}
	})
	t.Run("NoTTLLookWithinPeriod", func(t *testing.T) {
		// A rotation whose record was last used in the current period
		// trusts the TTL that use's write set and does not look: it
		// leaves even a TTL too short, which no write of the store
		// leaves, as it is. That is the PTTL a refresh saves.
		now := rotated.seen + 1
		if now-mod(now, rotated.slack()) > rotated.seen {
			t.Fatalf("the fixture's record was not used in the period of %d", now)
		}
		if ttl := ttlAfter(t, 100*time.Second, now); ttl > 100*time.Second {
			t.Errorf("the hash's TTL went from 100 s to %v: the rotation looked at it", ttl)
		}
	})
	t.Run("Random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		pick := func(ks ...refKey) refKey { return ks[rng.IntN(len(ks))] }
		for range 500 {
			created := t0 + rng.Int64N(1e12) - 5e11
			// Lifetimes up to 19 years: most records fit the fixed
			// layout, some (beyond 17 years) the varint one.
			rec := record{ref: ref, created: created, idle: 1 + rng.Int64N(1e9), exp: created + rng.Int64N(6e11)}
			rec.seen = created + rng.Int64N(1e9) - 1e6
			if rng.IntN(4) > 0 {
				// Sequence numbers mostly within the fixed layout's 32 bits.
				rec.seq, rec.prev, rec.rot = rng.Uint64N(1<<33), prev, created+rng.Int64N(1e9)-1e6
			}
			now := rec.seen + rng.Int64N(2*rec.idle) - rec.idle/2
			old := pick(ref, prev, other)
			next := pick(ref, other)
			if old == next {
				next = refKey{4}
			}
			check(t, rotateCase{rec, old, next, rng.Uint64N(rec.seq + 2), now, rng.Int64N(2e9)})
		}
		both(t)
	})
	t.Run("Fallback", func(t *testing.T) {
		far := record{ref: ref, prev: prev, seq: math.MaxUint64, rot: t0, created: t0, seen: t0, idle: maxMillis, exp: 253402300799000}
		v, _ := far.encode()
		malformed, _ := rotated.encode()
		for _, stored := range []string{v, malformed[:20], malformed + "x", "\x03" + malformed[1:], malformed[:fixedFreshLen]} {
			c := rotateCase{rec: rotated, old: ref, next: other, now: t0 + 1}
			if got, after := run(t, c, stored); got != rotateFallback || after != stored {
				t.Errorf("stored %x: script %d and stored %x, want a fallback that changes nothing", stored, got, after)
			}
		}
		// The fallback decides with the rule: the far record rotates.
		s.now = func() time.Time { return time.UnixMilli(t0 + 1) }
		rdb.Del(ctx, key)
		rdb.HSet(ctx, key, idField(id), v)
		var old store.Digest
		copy(old[:], ref[:])
		got, err := s.RotateRefresh(ctx, user, id, store.Rotation{Old: old, Seq: 3, Next: store.HashSecret([]byte("n"))})
		if err != nil || got.Retried {
			t.Errorf("RotateRefresh of a record beyond the script's numbers: %+v, %v", got, err)
		}
	})
}
