package redisstore

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
)

// TestUseFactorScriptMatchesRule holds useFactorScript, the counter rule
// as it runs inside Redis (luaAccepts), to [store.Accepts], its one
// statement in Go: every pair of the boundary counters below, and random
// pairs, goes through both, which must agree; an accepted use must
// store the counter, the time and the confirmation and keep the rest of
// the record, a refused one must leave the record as it was.
func TestUseFactorScriptMatchesRule(t *testing.T) {
	rdb, prefix := testredis.New(t)
	s, err := New(rdb, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := s.factorsKey("alice")
	field := factorField(store.Passkey, "cred")
	created := time.UnixMilli(1_900_000_000_000)
	at := created.Add(time.Hour)

	check := func(t *testing.T, stored, counter uint64) {
		t.Helper()
		f := store.Factor{Kind: store.Passkey, ID: "cred", Name: "Key 1", Data: []byte("a b\x00c"), Counter: stored, CreatedAt: created}
		rec := encodeFactor(f)
		if err := rdb.HSet(ctx, key, field, rec).Err(); err != nil {
			t.Fatal(err)
		}
		reply, err := useFactorScript.Run(ctx, rdb, []string{key}, field, strconv.FormatUint(counter, 10), at.UnixMilli()).Slice()
		if err != nil {
			t.Fatal(err)
		}
		got, err := rdb.HGet(ctx, key, field).Result()
		if err != nil {
			t.Fatal(err)
		}
		want, wantCode := rec, int64(2)
		if store.Accepts(stored, counter) {
			f.Counter, f.LastUsed, f.Confirmed = counter, at, true
			want, wantCode = encodeFactor(f), 1
		}
		if reply[0] != wantCode || got != want {
			t.Errorf("stored %d, counter %d: script replied %v and left %q; store.Accepts = %v, want %q",
				stored, counter, reply, got, store.Accepts(stored, counter), want)
		}
		if wantCode == 1 && (len(reply) != 2 || reply[1] != want) {
			t.Errorf("stored %d, counter %d: script replied %v, want the record written", stored, counter, reply)
		}
	}

	var edges []uint64
	for _, e := range []uint64{0, 1, 9, 10, 99, 100, 1 << 32, 1<<53 - 1, 1 << 53, math.MaxInt64, math.MaxUint64 / 10, math.MaxUint64} {
		edges = append(edges, e-1, e, e+1) // wrapping around at 0 and MaxUint64 is intended
	}
	for _, a := range edges {
		for _, b := range edges {
			check(t, a, b)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		a := rng.Uint64() >> rng.IntN(64)
		b := a + uint64(rng.IntN(5)) - 2
		if rng.IntN(2) == 0 {
			b = rng.Uint64() >> rng.IntN(64)
		}
		check(t, a, b)
	}
}

// TestFactorRecordRoundTrip checks encodeFactor and decodeFactor against
// each other on names with spaces, binary data and the zero last use.
func TestFactorRecordRoundTrip(t *testing.T) {
	for _, f := range []store.Factor{
		{Kind: store.TOTP, ID: "totp", Data: []byte("x"), CreatedAt: time.UnixMilli(1)},
		{Kind: store.Passkey, ID: "a:b", Name: "My key 2", Data: []byte(" 1 2 \x00\xff"), Confirmed: true,
			Counter: math.MaxUint64, CreatedAt: time.UnixMilli(1_900_000_000_000), LastUsed: time.UnixMilli(1_900_000_000_001)},
	} {
		got, err := decodeFactor(factorField(f.Kind, f.ID), encodeFactor(f))
		if err != nil || got.Kind != f.Kind || got.ID != f.ID || got.Name != f.Name || string(got.Data) != string(f.Data) ||
			got.Confirmed != f.Confirmed || got.Counter != f.Counter || !got.CreatedAt.Equal(f.CreatedAt) || !got.LastUsed.Equal(f.LastUsed) {
			t.Errorf("decodeFactor(encodeFactor(%+v)) = %+v, %v", f, got, err)
		}
	}
	for _, bad := range []string{"", "1 2 3 4 5 x", "x 0 0 0 0 ", "1 0 0 0 9 short", "1 0 0 0 -1 x"} {
		if _, err := decodeFactor("passkey:x", bad); err == nil {
			t.Errorf("decodeFactor(%q) = nil error, want one", bad)
		}
	}
}
