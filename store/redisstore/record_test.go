package redisstore

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
)

// TestRecordEncoding round-trips records through both layouts: the
// fixed one for every record whose numbers fit it (and at its bounds),
// the varint one beyond, and the varint one for records that fit the
// fixed one too, as earlier versions wrote them and as they are still
// read.
func TestRecordEncoding(t *testing.T) {
	ref := refKeyOf(store.HashSecret([]byte("ref")))
	prev := refKeyOf(store.HashSecret([]byte("prev")))
	const t0 = int64(1_900_000_000_000)
	tests := []struct {
		name   string
		r      record
		layout byte
	}{
		{"Fresh", record{ref: ref, created: t0, seen: t0, idle: 30 * 60_000, exp: t0 + 86_400_000}, recordFixed},
		{"Rotated", record{ref: ref, prev: prev, seq: 7, rot: t0 + 5000, created: t0, seen: t0 + 6000, idle: 30 * 60_000, exp: t0 + 30*86_400_000}, recordFixed},
		{"SeenBeforeCreated", record{ref: ref, created: t0, seen: t0 - 10, idle: 1, exp: t0 + 1}, recordFixed},
		{"FixedBounds", record{ref: ref, prev: prev, seq: fixedMaxSeq, rot: t0 - fixedRelMax - 1, created: t0, seen: t0 + fixedRelMax, idle: fixedIdleMax, exp: t0 - fixedRelMax - 1}, recordFixed},
		{"FixedCreatedBounds", record{ref: ref, created: -fixedCreatedMax - 1, seen: -fixedCreatedMax - 1, exp: -fixedCreatedMax}, recordFixed},
		{"FarFuture", record{ref: ref, prev: prev, seq: math.MaxUint64, rot: t0, created: t0, seen: t0, idle: maxMillis, exp: 253402300799000}, recordVarint},
		{"SeqBeyond", record{ref: ref, prev: prev, seq: fixedMaxSeq + 1, rot: t0, created: t0, seen: t0, idle: 1, exp: t0 + 1}, recordVarint},
		{"LifetimeBeyond", record{ref: ref, created: t0, seen: t0, idle: 1, exp: t0 + fixedRelMax + 1}, recordVarint},
		{"IdleBeyond", record{ref: ref, created: t0, seen: t0, idle: fixedIdleMax + 1, exp: t0 + 1}, recordVarint},
		{"CreatedBeyond", record{ref: ref, created: fixedCreatedMax + 1, seen: fixedCreatedMax + 1, idle: 1, exp: fixedCreatedMax + 2}, recordVarint},
		{"RotationBeyond", record{ref: ref, prev: prev, seq: 1, rot: t0 - fixedRelMax - 2, created: t0, seen: t0, idle: 1, exp: t0 + 1}, recordVarint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, state := tc.r.encode()
			if v[0] != tc.layout {
				t.Fatalf("encode wrote layout %d, want %d", v[0], tc.layout)
			}
			encodings := []string{v}
			if tc.layout == recordFixed {
				want := fixedFreshLen
				if tc.r.seq > 0 {
					want = fixedRotatedLen
				}
				if len(v) != want || len(v) > 64 {
					t.Errorf("a record of seq %d takes %d bytes, want %d (a listpack value holds 64)", tc.r.seq, len(v), want)
				}
				// As an earlier version wrote it: still read alike.
				old, _ := tc.r.encodeVarint()
				encodings = append(encodings, old)
			}
			for _, v := range encodings {
				got, gotState, err := decodeRecord(v)
				_, wantState := tc.r.encode()
				if v[0] == recordVarint {
					_, wantState = tc.r.encodeVarint()
				}
				if err != nil || got != tc.r || gotState != wantState {
					t.Errorf("layout %d: decode(encode(%+v)) = %+v, state %d, %v; want state %d", v[0], tc.r, got, gotState, err, wantState)
				}
				for i := range len(v) {
					if _, _, err := decodeRecord(v[:i]); err == nil {
						t.Errorf("layout %d: decodeRecord of the first %d bytes succeeded", v[0], i)
					}
				}
			}
			// The state prefix is everything but the last use.
			later := tc.r
			later.seen = tc.r.created + 1_000_000
			if v2, state2 := later.encode(); v2[0] == v[0] && (state2 != state || v2[:state] != v[:state]) {
				t.Errorf("a later use changed the state prefix")
			}
		})
	}
	// A fixed record whose length disagrees with its sequence number is
	// malformed.
	fresh, _ := tests[0].r.encode()
	rotated, _ := tests[1].r.encode()
	for _, v := range []string{rotated[:fixedFreshLen], fresh + rotated[fixedFreshLen-fixedRelLen:fixedRotatedLen-fixedRelLen]} {
		if _, _, err := decodeRecord(v); err == nil {
			t.Errorf("decodeRecord(%x) succeeded", v)
		}
	}
}

// TestLive is the table of the liveness rule, the one copy of it.
func TestAddrEncoding(t *testing.T) {
	tests := []struct {
		name, client string
		size         int // of the encoding
	}{
		{"Empty", "", 0},
		{"IPv4", "203.0.113.195", 5},
		{"IPv6", "2a01:cb19:8d4b:e800:5d3a:1f2c:9e0b:4a71", 17},
		{"IPv6Short", "2001:db8::1", 17},
		{"IPv4InIPv6", "::ffff:192.0.2.1", 17},
		{"IPv6Zone", "fe80::1%eth0", 12},
		{"NotCanonical", "2001:DB8::1", 11},
		{"LeadingZeros", "192.000.002.001", 15},
		{"Text", "client-7", 8},
		{"LowByte", "\x01\x02\x03\x04", 5},
		{"ZeroByte", "\x00", 2},
		{"Long", strings.Repeat("x", store.MaxClientLen), store.MaxClientLen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := encodeAddr(tc.client)
			if len(v) != tc.size {
				t.Errorf("encodeAddr(%q) = %q, %d bytes; want %d", tc.client, v, len(v), tc.size)
			}
			if got := decodeAddr(v); got != tc.client {
				t.Errorf("decodeAddr(encodeAddr(%q)) = %q", tc.client, got)
			}
		})
	}
}

func TestLive(t *testing.T) {
	const t0 = int64(1_900_000_000_000)
	r := record{created: t0, seen: t0 + 1000, idle: 600_000, exp: t0 + 3_600_000}
	tests := []struct {
		name string
		now  int64
		want bool
	}{
		{"AtCreation", t0, true},
		{"JustBeforeIdle", t0 + 1000 + 599_999, true},
		{"AtIdle", t0 + 1000 + 600_000, false},
		{"AfterIdle", t0 + 1000 + 700_000, false},
		{"JustBeforeExpiry", t0 + 3_599_999, false}, // idle over long before
	}
	for _, tc := range tests {
		if got := r.live(tc.now); got != tc.want {
			t.Errorf("%s: live(%d) = %v, want %v", tc.name, tc.now, got, tc.want)
		}
	}
	busy := r
	busy.seen = t0 + 3_500_000
	for _, tc := range []struct {
		name string
		now  int64
		want bool
	}{
		{"UsedJustBeforeExpiry", t0 + 3_599_999, true},
		{"AtExpiry", t0 + 3_600_000, false},
	} {
		if got := busy.live(tc.now); got != tc.want {
			t.Errorf("%s: live(%d) = %v, want %v", tc.name, tc.now, got, tc.want)
		}
	}
}

func TestTouchInterval(t *testing.T) {
	const minute = int64(60_000)
	tests := []struct {
		option time.Duration
		idle   int64
		want   int64
	}{
		{0, 24 * 60 * minute, minute},
		{0, 30 * minute, 18_000},
		{0, 50, 0},
		{-1, 30 * minute, 0},
		{5 * time.Minute, 60 * minute, 5 * minute},
		{5 * time.Minute, 6 * minute, 3 * minute},
	}
	for _, tc := range tests {
		s := &Store{touch: tc.option}
		if got := s.touchInterval(tc.idle); got != tc.want {
			t.Errorf("TouchInterval %v, idle %d ms: interval %d ms, want %d", tc.option, tc.idle, got, tc.want)
		}
	}
}

// TestTouchDoesNotResurrect runs the touch of a read that found a live
// session after the session was revoked: the record must stay deleted.
func TestTouchDoesNotResurrect(t *testing.T) {
	rdb, prefix := testredis.New(t)
	now := time.Now()
	s, err := New(rdb, Options{Prefix: prefix, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	u, _ := s.User(ctx, "alice")
	keep, gone := store.HashSecret([]byte("keep")), store.HashSecret([]byte("gone"))
	for _, id := range []store.Digest{keep, gone} {
		_, err := s.CreateSession(ctx, store.SessionSpec{ID: id, Username: "alice", Refresh: store.HashSecret(id[:]),
			IdleTimeout: time.Hour, ExpiresAt: now.Add(time.Hour), Generation: u.Generation})
		if err != nil {
			t.Fatal(err)
		}
	}
	st, _, ok, err := s.read(ctx, "alice", gone, false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := s.RevokeSession(ctx, "alice", gone); err != nil {
		t.Fatal(err)
	}
	next := st.record
	next.seen += 60_000
	done, err := s.cas(ctx, "alice", gone, st, &next, nil, now.UnixMilli(), noPublish, false)
	if err != nil || done {
		t.Errorf("touch of a revoked session = %v, %v; want false", done, err)
	}
	if _, _, ok, err := s.read(ctx, "alice", gone, false); ok || err != nil {
		t.Errorf("after the touch, the revoked session reads back (%v, %v)", ok, err)
	}
}

// TestFieldNames pins the field names to the stored format the package
// documentation describes, and checks that each is a plain lower-case
// word, which luaLocals quotes as it is. (Two constants of one name would
// not compile: the map's keys are constants.)
func TestFieldNames(t *testing.T) {
	documented := map[string]string{
		userFieldHash: "hash", userFieldRoles: "roles", userFieldDisabled: "disabled",
		userFieldCreated: "created", userFieldGen: "gen",
		sessFieldRoles: "o", sessFieldVersion: "v", sessFieldGen: "g", addrFieldPrefix: "a",
	}
	for got, want := range documented {
		if got != want {
			t.Errorf("field %q, documented as %q", got, want)
		}
		if strings.Trim(got, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("field %q is not a plain lower-case word", got)
		}
		if !strings.Contains(luaFields, " = '"+got+"'\n") {
			t.Errorf("luaFields does not define field %q", got)
		}
	}
}
