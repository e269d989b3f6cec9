package redisstore

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// record is one session as stored: the value of the session's field in
// its user's sessions hash. All times are milliseconds of the store's
// clock.
//
// The encoding is binary and compact, since it is what a session costs
// in memory. Two layouts share it, told apart by the first byte; every
// number of the record fits the fixed one in any configuration the kit
// takes (lifetimes and idle timeouts under 17 years, fewer than 2^32
// rotations), and encode writes the varint one only beyond that:
//
//	fixed (version 2), big-endian, so that rotateScripts read it with one
//	struct.unpack, a C function, instead of decoding varints in Lua:
//	version byte (1)
//	ref            16 bytes, the current refresh digest (see [refKey])
//	seq            4 bytes, unsigned
//	created        6 bytes, signed
//	idle           5 bytes, unsigned
//	exp - created  5 bytes, signed
//	rot - created  5 bytes, signed } only when seq > 0: the last rotation
//	prev           16 bytes        } and the digest current before it
//	seen - created 5 bytes, signed   last, so that everything before it is
//	                                 the session's state apart from its
//	                                 last use
//
//	varint (version 1): the same fields in the same order, seq, idle as
//	uvarints and the times as varints.
//
// A rotated session's record takes 63 bytes (fixed), under the 64 that
// keep a small hash in Redis's compact listpack encoding
// (hash-max-listpack-value): one longer value would turn the user's whole
// sessions hash into a hash table, which more than doubles its size. A
// fresh one takes 42. Records written by earlier versions (varint) are
// read as they are and rewritten in the fixed layout by their next write.
//
// One script decodes a record: the rotate script, the refresh path (see
// [record.rotate]); it reads the fixed layout only and leaves the
// varint one to Go. The others compare and swap whole values (or their
// state prefix, see [record.encode]) that Go read and built.
type record struct {
	ref, prev refKey
	seq       uint64
	created   int64
	seen      int64
	idle      int64
	exp       int64
	rot       int64
}

// refKey is what a record keeps of a refresh digest: its first 128 bits.
// A refresh token is a 256-bit secret and the store only ever compares
// the digest of a presented token with the stored one, so matching 128
// bits takes as much work as guessing a 128-bit secret, the usual margin
// for credentials; the other 16 bytes would cost memory in every session
// and keep nothing out.
type refKey [16]byte

// refKeyOf returns the refKey of d.
func refKeyOf(d store.Digest) refKey { return refKey(d[:16]) }

// The first byte of a record names its layout.
const (
	recordVarint = 1
	recordFixed  = 2
)

// The fixed layout: the widths of its numbers, the bounds they hold, and
// its two lengths.
const (
	fixedSeqLen     = 4
	fixedCreatedLen = 6
	fixedRelLen     = 5 // idle and every time relative to created
	fixedFreshLen   = 1 + len(refKey{}) + fixedSeqLen + fixedCreatedLen + 3*fixedRelLen
	fixedRotatedLen = fixedFreshLen + fixedRelLen + len(refKey{})
	fixedMaxSeq     = 1<<(8*fixedSeqLen) - 1
	fixedCreatedMax = 1<<(8*fixedCreatedLen-1) - 1 // signed
	fixedIdleMax    = 1<<(8*fixedRelLen) - 1       // unsigned
	fixedRelMax     = 1<<(8*fixedRelLen-1) - 1     // signed
)

// live reports whether the session is live at now, as far as the record
// goes: neither its absolute expiry nor its idle timeout has passed. This
// is the one copy of the rule. Whatever else ends a session (a revoke, a
// password change, disabling the user, reuse of a refresh token) deletes
// its record in the same script, so a record that can be read and is
// live here is a live session.
func (r record) live(now int64) bool {
	return now < r.exp && now-r.seen < r.idle
}

// rotation is an outcome of [record.rotate], and the first element of
// a rotate script's reply (see rotateScripts).
type rotation int

const (
	rotateNotFound rotation = 0 // not live, or a token never issued
	rotateRotated  rotation = 1 // the presented token was current
	rotateRetried  rotation = 2 // a retry within the grace period
	rotateReused   rotation = 3 // a replay: the session ends
	// rotateFallback is a reply of the rotate scripts only: a reuse, a
	// record in the varint layout, a successor that the fixed layout
	// cannot hold, or a malformed record; Go must decide with rotate.
	rotateFallback rotation = 6
)

// rotate is the rule of [store.RefreshStore.RotateRefresh] for one
// record: which case applies when old, presented with sequence number
// seq, is rotated to next at now with a grace period of grace
// milliseconds, and the record to store after a rotation or a retry.
//
// It is the one statement of the rule in Go. rotateScripts apply the
// same rule inside Redis, so that a rotation is one round trip;
// TestRotateScriptMatchesRule holds every decision and every record the
// script writes to this function, case by case. This function decides
// itself only for what the script declines (rotateFallback): a reuse,
// and rare records.
func (r record) rotate(old, next refKey, seq uint64, now, grace int64) (rotation, record) {
	if !r.live(now) {
		return rotateNotFound, r
	}
	n := r
	n.seen = now
	switch {
	case old == r.ref:
		n.prev, n.ref, n.seq, n.rot = r.ref, next, r.seq+1, now
		return rotateRotated, n
	case r.seq > 0 && old == r.prev && next == r.ref && now-r.rot < grace:
		return rotateRetried, n // only the use is recorded
	case seq < r.seq:
		return rotateReused, r
	default:
		return rotateNotFound, r
	}
}

// cover is until when a write of r must keep the sessions hash: r's
// deadline as if its last use had come at the end of the slack period
// it falls in (see [record.slack]), so that every write in one period
// asks for the same expiry. The hash so outlives its last session by at
// most one period.
//
// Every script that writes a record extends the hash's TTL to at least
// its cover (from [record.ttl]), and nothing shortens it. So when a
// rotation finds the record's previous use in the current period or a
// later one, the write that recorded that use has kept the hash until
// this rotation's cover already, and the rotate scripts skip the PTTL,
// a call into Redis on every refresh; a session refreshed every few
// minutes asks for the TTL once a period, and extends it then.
func (r record) cover() int64 {
	p := r.slack()
	return min(r.exp, r.seen-mod(r.seen, p)+p+min(r.idle, maxMillis))
}

// slack is the length of the periods of [record.cover]: a sixteenth of
// the idle timeout (90 minutes of the default 24 hours), at least 1 ms.
func (r record) slack() int64 { return max(min(r.idle, maxMillis)/ttlSlackDivisor, 1) }

const ttlSlackDivisor = 16

// mod is a modulo p >= 1, in [0, p) also for a negative a, as Lua's %.
func mod(a, p int64) int64 { return (a%p + p) % p }

// ttl is how long Redis must keep the record after now, in milliseconds:
// until its cover, at least 1 ms and at most maxTTL.
func (r record) ttl(now int64) int64 { return min(max(r.cover()-now, 1), maxTTL) }

// maxTTL caps TTLs at about 292 years, the longest time.Duration, so that
// no client or tool that reads a TTL back as a duration overflows.
const maxTTL = maxMillis

// encode returns the stored form of r and the length of its state
// prefix: every byte but the trailing last use. Two encodings with the
// same prefix are the same session in the same rotation state. It writes
// the fixed layout when every number fits, else the varint one.
func (r record) encode() (value string, state int) {
	if r.fitsFixed() {
		return r.encodeFixed()
	}
	return r.encodeVarint()
}

// encodeFor is encode, in the varint layout when legacy is set (see
// [Options.LegacyRecords]).
func (r record) encodeFor(legacy bool) (value string, state int) {
	if legacy {
		return r.encodeVarint()
	}
	return r.encode()
}

// encodeFixed is encode in the fixed layout, for a record that fits it.
func (r record) encodeFixed() (value string, state int) {
	b := make([]byte, 0, fixedRotatedLen)
	b = append(b, recordFixed)
	b = append(b, r.ref[:]...)
	b = appendBE(b, r.seq, fixedSeqLen)
	b = appendBE(b, uint64(r.created), fixedCreatedLen)
	b = appendBE(b, uint64(r.idle), fixedRelLen)
	b = appendBE(b, uint64(r.exp-r.created), fixedRelLen)
	if r.seq > 0 {
		b = appendBE(b, uint64(r.rot-r.created), fixedRelLen)
		b = append(b, r.prev[:]...)
	}
	state = len(b)
	b = appendBE(b, uint64(r.seen-r.created), fixedRelLen)
	return string(b), state
}

// encodeVarint is encode in the varint layout, which holds any record.
func (r record) encodeVarint() (value string, state int) {
	b := make([]byte, 0, 1+2*len(refKey{})+6*binary.MaxVarintLen64)
	b = append(b, recordVarint)
	b = append(b, r.ref[:]...)
	b = binary.AppendUvarint(b, r.seq)
	b = binary.AppendVarint(b, r.created)
	b = binary.AppendUvarint(b, uint64(r.idle))
	b = binary.AppendVarint(b, r.exp-r.created)
	if r.seq > 0 {
		b = binary.AppendVarint(b, r.rot-r.created)
		b = append(b, r.prev[:]...)
	}
	state = len(b)
	b = binary.AppendVarint(b, r.seen-r.created)
	return string(b), state
}

// fitsFixed reports whether every number of r fits the fixed layout.
func (r record) fitsFixed() bool {
	rel := func(t int64) bool { return t >= r.created-fixedRelMax-1 && t <= r.created+fixedRelMax }
	return r.seq <= fixedMaxSeq &&
		r.created >= -fixedCreatedMax-1 && r.created <= fixedCreatedMax &&
		r.idle >= 0 && r.idle <= fixedIdleMax &&
		rel(r.exp) && rel(r.seen) && (r.seq == 0 || rel(r.rot))
}

// appendBE appends the low n bytes of v, big-endian.
func appendBE(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// readBE reads b big-endian, sign-extended when signed.
func readBE(b string, signed bool) int64 {
	var v uint64
	for i := range len(b) {
		v = v<<8 | uint64(b[i])
	}
	if shift := 64 - 8*len(b); signed {
		return int64(v<<shift) >> shift
	}
	return int64(v)
}

var errRecord = errors.New("malformed session record")

// errRecordLayout is a record whose first byte names no layout this
// release knows: one written by a later release, which the sweeps of
// CreateSession leave alone rather than take for dead.
var errRecordLayout = fmt.Errorf("%w: unknown layout", errRecord)

// decodeRecord parses what [record.encode] wrote, in either layout, and
// returns the length of its state prefix as encode does.
func decodeRecord(v string) (r record, state int, err error) {
	if len(v) > 0 && v[0] == recordFixed {
		return decodeFixed(v)
	}
	b := []byte(v)
	n := len(refKey{})
	if len(b) > 0 && b[0] != recordVarint {
		return record{}, 0, errRecordLayout
	}
	if len(b) < 1+n {
		return record{}, 0, errRecord
	}
	copy(r.ref[:], b[1:1+n])
	b = b[1+n:]
	var ok bool
	var idle, exp, rot, seen int64
	if r.seq, b, ok = uvarint(b); !ok {
		return record{}, 0, errRecord
	}
	if r.created, b, ok = varint(b); !ok {
		return record{}, 0, errRecord
	}
	var u uint64
	if u, b, ok = uvarint(b); !ok || u > uint64(maxMillis) {
		return record{}, 0, errRecord
	}
	idle = int64(u)
	if exp, b, ok = varint(b); !ok {
		return record{}, 0, errRecord
	}
	if r.seq > 0 {
		if rot, b, ok = varint(b); !ok || len(b) < n {
			return record{}, 0, errRecord
		}
		copy(r.prev[:], b[:n])
		b = b[n:]
		r.rot = r.created + rot
	}
	state = len(v) - len(b)
	if seen, b, ok = varint(b); !ok || len(b) != 0 {
		return record{}, 0, errRecord
	}
	r.idle, r.exp, r.seen = idle, r.created+exp, r.created+seen
	return r, state, nil
}

// decodeFixed parses the fixed layout: 42 bytes with seq 0, 63 with a
// rotation, and nothing else.
func decodeFixed(v string) (r record, state int, err error) {
	if len(v) != fixedFreshLen && len(v) != fixedRotatedLen {
		return record{}, 0, errRecord
	}
	b := v[1:] // the version byte read
	field := func(n int) string {
		f := b[:n]
		b = b[n:]
		return f
	}
	copy(r.ref[:], field(len(refKey{})))
	r.seq = uint64(readBE(field(fixedSeqLen), false))
	if (r.seq > 0) != (len(v) == fixedRotatedLen) {
		return record{}, 0, errRecord
	}
	r.created = readBE(field(fixedCreatedLen), true)
	r.idle = readBE(field(fixedRelLen), false)
	r.exp = r.created + readBE(field(fixedRelLen), true)
	if r.seq > 0 {
		r.rot = r.created + readBE(field(fixedRelLen), true)
		copy(r.prev[:], field(len(refKey{})))
	}
	r.seen = r.created + readBE(field(fixedRelLen), true)
	return r, len(v) - fixedRelLen, nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

// session returns the record as the [store.Session] id of username.
func (r record) session(username string, id store.Digest, o owner) store.Session {
	return store.Session{
		ID:          id,
		Username:    username,
		Roles:       o.roles,
		Generation:  o.gen,
		CreatedAt:   time.UnixMilli(r.created),
		LastSeen:    time.UnixMilli(r.seen),
		IdleTimeout: time.Duration(r.idle) * time.Millisecond,
		ExpiresAt:   time.UnixMilli(r.exp),
	}
}

// touchInterval returns, in milliseconds, how stale a record's last use
// may be before a read records a new one (see [Options.TouchInterval]).
func (s *Store) touchInterval(idle int64) int64 {
	switch d := s.touch; {
	case d < 0:
		return 0
	case d == 0:
		return min(time.Minute.Milliseconds(), idle/100)
	default:
		return min(d.Milliseconds(), idle/2)
	}
}

// touchDue reports whether a read at now must record the use.
func (s *Store) touchDue(r record, now int64) bool {
	return now-r.seen >= s.touchInterval(r.idle)
}

// idField is the name of a session's field in its user's sessions hash:
// the ID in unpadded base64url, 43 characters.
func idField(id store.Digest) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// addrIDChars is how many characters of a session's field name name its
// address field: 96 bits of the ID, which is a SHA-256 digest of a
// random secret, so two sessions of one user share them with a
// probability of about n²/2⁹⁷ for n sessions, and a shorter name keeps
// a rotated session's fields small (see the package documentation).
const addrIDChars = 16

// addrField is the name of the field, in the sessions hash, that holds
// the client address recorded by the session's last rotation: "a"
// (addrFieldPrefix) and
// the first addrIDChars characters of the session's field. luaAddr
// builds the same name in the scripts.
func addrField(id store.Digest) string { return addrFieldPrefix + idField(id)[:addrIDChars] }

// isAddrField reports whether f is an address field. A session's own
// field is 43 characters long, so the two never meet.
func isAddrField(f string) bool {
	return len(f) == len(addrFieldPrefix)+addrIDChars && strings.HasPrefix(f, addrFieldPrefix)
}

// encodeAddr returns what an address field holds for client, the
// [store.Rotation].Client of a rotation: an IP address in its canonical
// text form (what net/netip prints, as gin's ClientIP does) as a tag
// byte, 1 for IPv4 or 2 for IPv6, and its 4 or 16 bytes, which saves up
// to 22 bytes a session on an IPv6 address; anything else as it is, or
// after a 0 byte when it starts with a byte below 3 (so that a text of
// [store.MaxClientLen] bytes starting so takes 65 bytes, one past a
// listpack value: allowed, at the cost of the hash's compact encoding;
// no address starts so). The empty string stays empty, which deletes the
// field.
func encodeAddr(client string) string {
	if a, err := netip.ParseAddr(client); err == nil && a.Zone() == "" && a.String() == client {
		if a.Is4() {
			b := a.As4()
			return "\x01" + string(b[:])
		}
		b := a.As16()
		return "\x02" + string(b[:])
	}
	if client != "" && client[0] < 3 {
		return "\x00" + client
	}
	return client
}

// decodeAddr is the inverse of encodeAddr.
func decodeAddr(v string) string {
	switch {
	case v == "":
		return ""
	case v[0] == 1 && len(v) == 1+4:
		return netip.AddrFrom4([4]byte([]byte(v[1:]))).String()
	case v[0] == 2 && len(v) == 1+16:
		return netip.AddrFrom16([16]byte([]byte(v[1:]))).String()
	case v[0] < 3:
		return v[1:]
	default:
		return v
	}
}

// parseIDField is the inverse of idField.
func parseIDField(f string) (store.Digest, error) {
	var d store.Digest
	if len(f) != 43 {
		return d, fmt.Errorf("field %q is not a session ID", f)
	}
	n, err := base64.RawURLEncoding.Decode(d[:], []byte(f))
	if err != nil || n != len(d) {
		return d, fmt.Errorf("field %q is not a session ID", f)
	}
	return d, nil
}

// owner is what a read finds of a session's user in the sessions hash:
// the roles (field o, absent with external users) and the generation
// the sessions were created in (field g; zero in hashes written before
// it existed).
type owner struct {
	roles []string
	gen   uint64
}

// parseOwner decodes the values of fields o and g as HMGET returns them.
func parseOwner(o, g any) (owner, error) {
	os, _ := o.(string)
	roles, err := decodeRoles(os)
	if err != nil {
		return owner{}, err
	}
	var gen uint64
	if gs, ok := g.(string); ok {
		if gen, err = strconv.ParseUint(gs, 10, 64); err != nil {
			return owner{}, fmt.Errorf("field %s: %v", sessFieldGen, err)
		}
	}
	return owner{roles: roles, gen: gen}, nil
}

// clone copies o, so that callers never share its roles.
func (o owner) clone() owner { return owner{roles: slices.Clone(o.roles), gen: o.gen} }
