package redisstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// maxAttempts bounds the read-and-compare-and-set rounds of one call. A
// round fails only when another call changed the same record (or, for a
// capped CreateSession, the same user's set of sessions) in between, and
// each such change is one that succeeded, so running out means dozens of
// concurrent writers on one user.
const maxAttempts = 16

// errContention is returned, wrapped, when maxAttempts rounds all lost.
var errContention = errors.New("too many concurrent changes to the same sessions, try again")

// sweepSample is how many fields of a user's sessions hash an uncapped
// CreateSession examines for expiry. Any value that samples more than one
// session removes dead sessions faster than new ones arrive. Some fields
// are not sessions (roles, version, generation, and the address field of
// each rotated session), so of a large hash 16 samples at least about
// eight sessions; a hash of at most 16 fields is examined whole. A small
// value keeps the cost of a create constant.
const sweepSample = 16

// stored is a session record as read, with its encoding.
type stored struct {
	record
	raw   string // the value read, compared by casScript
	state int    // length of raw's state prefix
	// rotBy is the client address the last rotation recorded, read only
	// by RotateRefresh.
	rotBy string
}

// newVersion returns a fresh set version for the sessions hash. It is
// random, so that a hash deleted and created again never repeats a value
// a reader may hold.
func newVersion() string { return strconv.FormatUint(rand.Uint64(), 36) }

// read reads session id of username and what a read needs of its owner
// in one HMGET: the roles (field o), or with external users, which have
// none here, the generation (field g); withAddr adds the session's
// address field. ok is false when there is no such record.
func (s *Store) read(ctx context.Context, username string, id store.Digest, withAddr bool) (st stored, o owner, ok bool, err error) {
	field := sessFieldRoles
	if s.external {
		field = sessFieldGen
	}
	var cmd *redis.SliceCmd
	if withAddr {
		cmd = s.client.HMGet(ctx, s.sessionsKey(username), idField(id), field, addrField(id))
	} else {
		cmd = s.client.HMGet(ctx, s.sessionsKey(username), idField(id), field)
	}
	vals, err := cmd.Result()
	if err != nil {
		return stored{}, owner{}, false, err
	}
	raw, ok := vals[0].(string)
	if !ok {
		return stored{}, owner{}, false, nil
	}
	rec, state, err := decodeRecord(raw)
	if err != nil {
		return stored{}, owner{}, false, fmt.Errorf("session %v: %w", id, err)
	}
	if s.external {
		o, err = parseOwner(nil, vals[1])
	} else {
		o, err = parseOwner(vals[1], nil)
	}
	if err != nil {
		return stored{}, owner{}, false, err
	}
	st = stored{record: rec, raw: raw, state: state}
	if withAddr {
		v, _ := vals[2].(string)
		st.rotBy = decodeAddr(v)
	}
	return st, o, true, nil
}

// cas replaces the record st of session id with next, or deletes it when
// next is nil (then publishing pub), provided its state is still st's.
// With addr, a rotation, it also records *addr as the client address of
// the session's last rotation. A durable change waits for the replicas
// of [Options.WaitReplicas]. It reports whether it did.
func (s *Store) cas(ctx context.Context, username string, id store.Digest, st stored, next *record, addr *string, now int64, pub []any, durable bool) (bool, error) {
	value, ttl := "", int64(1)
	if next != nil {
		value, _ = next.encodeFor(s.legacy)
		ttl = next.ttl(now)
	}
	args := make([]any, 0, 12)
	args = append(args, idField(id), st.raw, st.state, value, ttl, newVersion())
	args = append(args, pub...)
	if addr != nil {
		args = append(args, "1", encodeAddr(*addr))
	} else {
		args = append(args, "0", "")
	}
	n, err := s.run(ctx, durable, casScript, []string{s.sessionsKey(username)}, args...).Int()
	if err != nil {
		return false, err
	}
	return n == replyOK, nil
}

// CreateSession implements [store.SessionStore]. Times are kept in whole
// milliseconds; an idle timeout is rounded up to the next one.
//
// It reads the user's sessions first (all of them with a cap, else a
// sample to sweep) and decides in Go which are dead and which the cap
// evicts; the script then checks the user and what Go read, writes, and
// replies with the IDs of the sessions the cap evicted.
func (s *Store) CreateSession(ctx context.Context, ns store.SessionSpec) ([]store.Digest, error) {
	const op = "create session"
	// Expiry is kept in whole milliseconds, so it is checked as stored.
	now, exp := s.nowMillis(), ns.ExpiresAt.UnixMilli()
	kept := ns
	kept.ExpiresAt = time.UnixMilli(exp)
	if err := kept.Validate(time.UnixMilli(now)); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	rec := record{ref: refKeyOf(ns.Refresh), created: now, seen: now, idle: ceilMillis(ns.IdleTimeout), exp: exp}
	for range maxAttempts {
		n, evicted, err := s.createSession(ctx, ns, rec, now)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		switch n {
		case replyOK:
			return evicted, nil
		case replyExists:
			return nil, fmt.Errorf("redisstore: %s: %w: session ID in use", op, store.ErrExists)
		case replyStale:
			return nil, fmt.Errorf("redisstore: %s: %w", op, store.ErrStale)
		case replyNotFound:
			return nil, notFound(op)
		}
		// replyChanged: read again.
	}
	return nil, fmt.Errorf("redisstore: %s: %w", op, errContention)
}

// createSession makes one attempt of CreateSession and returns its reply
// and, after replyOK, the IDs of the sessions the cap evicted.
func (s *Store) createSession(ctx context.Context, ns store.SessionSpec, rec record, now int64) (int, []store.Digest, error) {
	key, field := s.sessionsKey(ns.Username), idField(ns.ID)
	capped := ns.MaxSessions > 0
	var fields map[string]string
	if capped {
		var err error
		if fields, err = s.client.HGetAll(ctx, key).Result(); err != nil {
			return 0, nil, err
		}
	} else {
		var own *redis.StringCmd
		var sample *redis.Cmd
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			own = p.HGet(ctx, key, field)
			sample = p.Do(ctx, "HRANDFIELD", key, sweepSample, "WITHVALUES")
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, nil, err
		}
		fields = pairs(sample.Val())
		if v, err := own.Result(); err == nil {
			fields[field] = v
		}
	}

	current := fields[field]
	if current != "" {
		if old, _, err := decodeRecord(current); err == nil && old.live(now) {
			return replyExists, nil, nil
		}
	}
	// Sort the others into dead ones, which go, and live ones, of which
	// the cap keeps the newest and evicts the rest. Both lists hold pairs
	// of field and value read.
	type other struct {
		field string
		rec   record
	}
	var dead, evict []string
	var live []other
	for f, v := range fields {
		if f == field || isMeta(f) {
			continue
		}
		r, _, err := decodeRecord(v)
		if errors.Is(err, errRecordLayout) {
			continue // a later release's: neither counted nor swept
		}
		if err != nil || !r.live(now) {
			dead = append(dead, f, v)
			continue
		}
		live = append(live, other{f, r})
	}
	if capped {
		slices.SortFunc(live, func(a, b other) int {
			// The earliest absolute expiry goes first, ties by ID.
			return cmp.Or(cmp.Compare(a.rec.exp, b.rec.exp), bytes.Compare(fieldBytes(a.field), fieldBytes(b.field)))
		})
		for _, o := range live[:max(0, len(live)-(ns.MaxSessions-1))] {
			evict = append(evict, o.field, fields[o.field])
		}
	}
	pub := noPublish
	if len(evict) > 0 || s.external {
		pub = s.pub.args(ns.Username)
	}
	value, _ := rec.encodeFor(s.legacy)
	args := make([]any, 0, 13+len(evict)+len(dead))
	args = append(args, strconv.FormatUint(ns.Generation, 10), fields[sessFieldVersion], newVersion(),
		field, current, value, rec.ttl(now), boolFlag(capped))
	args = append(args, pub...)
	args = append(args, boolFlag(s.external), len(evict)/2)
	for _, d := range evict {
		args = append(args, d)
	}
	for _, d := range dead {
		args = append(args, d)
	}
	keys := []string{s.userKey(ns.Username), key}
	reply, err := s.run(ctx, true, createSessionScript, keys, args...).Slice()
	if len(evict) > 0 || s.external {
		s.cache.invalidate(ns.Username)
	}
	if err != nil {
		return 0, nil, err
	}
	return parseCreateReply(reply)
}

// parseCreateReply reads the reply of createSessionScript: its outcome
// and, after replyOK, the fields of the evicted sessions as IDs.
func parseCreateReply(reply []any) (int, []store.Digest, error) {
	if len(reply) == 0 {
		return 0, nil, errors.New("empty reply from the create session script")
	}
	n, ok := reply[0].(int64)
	if !ok {
		return 0, nil, fmt.Errorf("create session script replied %T, want an integer", reply[0])
	}
	var evicted []store.Digest
	for _, v := range reply[1:] {
		f, _ := v.(string)
		id, err := parseIDField(f)
		if err != nil {
			return 0, nil, fmt.Errorf("create session script: evicted %w", err)
		}
		evicted = append(evicted, id)
	}
	return int(n), evicted, nil
}

// isMeta reports the fields of a sessions hash that hold no session:
// o, the roles; v, the set version; g, the generation; and the address
// fields of rotated sessions.
func isMeta(f string) bool {
	return f == sessFieldRoles || f == sessFieldVersion || f == sessFieldGen || isAddrField(f)
}

// nilIfEmpty returns nil for an absent field of an HGETALL, as HMGET
// would.
func nilIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// fieldBytes returns the ID in a session field, for ordering; a field
// that is no ID sorts as empty.
func fieldBytes(f string) []byte {
	d, err := parseIDField(f)
	if err != nil {
		return nil
	}
	return d[:]
}

// Session implements [store.SessionStore]. It reads the session and the
// user's roles with one HMGET, decides in Go whether the session is live,
// and writes only when the last recorded use is older than the touch
// interval (see [Options.TouchInterval]); then a second round trip
// records the use, unless the session changed or ended in between. With
// a local cache, a session read recently may not reach Redis at all.
func (s *Store) Session(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	const op = "session"
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound(op)
	}
	now := s.nowMillis()
	if rec, o, ok := s.cache.get(username, id); ok && rec.live(now) && !s.touchDue(rec, now) {
		return rec.session(username, id, o), nil
	}
	epoch := s.cache.epoch()
	st, o, ok, err := s.read(ctx, username, id, false)
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if !ok || !st.live(now) {
		return store.Session{}, notFound(op)
	}
	if s.touchDue(st.record, now) {
		next := st.record
		next.seen = now
		done, err := s.cas(ctx, username, id, st, &next, nil, now, noPublish, false)
		if err != nil {
			return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if done {
			st.record = next
		}
	}
	s.cache.put(epoch, username, id, st.record, o)
	return st.session(username, id, o), nil
}

// PeekSession implements [store.SessionStore] with one HMGET and nothing
// else.
func (s *Store) PeekSession(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	const op = "peek session"
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound(op)
	}
	st, o, ok, err := s.read(ctx, username, id, false)
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if !ok || !st.live(s.nowMillis()) {
		return store.Session{}, notFound(op)
	}
	return st.session(username, id, o), nil
}

// Sessions implements [store.SessionStore] with one HGETALL of the user's
// sessions hash; liveness is decided in Go.
func (s *Store) Sessions(ctx context.Context, username string) ([]store.Session, error) {
	const op = "sessions"
	if store.ValidateUsername(username) != nil {
		return nil, nil
	}
	fields, err := s.client.HGetAll(ctx, s.sessionsKey(username)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	o, err := parseOwner(fields[sessFieldRoles], nilIfEmpty(fields[sessFieldGen]))
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	now := s.nowMillis()
	var list []store.Session
	for f, v := range fields {
		if isMeta(f) {
			continue
		}
		id, err := parseIDField(f)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		rec, _, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: session %v: %w", op, id, err)
		}
		if rec.live(now) {
			list = append(list, rec.session(username, id, o.clone()))
		}
	}
	store.SortSessions(list)
	return list, nil
}

// RevokeSession implements [store.SessionStore].
func (s *Store) RevokeSession(ctx context.Context, username string, id store.Digest) error {
	if store.ValidateUsername(username) != nil {
		return nil // no such user, so no such session
	}
	args := append([]any{idField(id), newVersion()}, s.pub.args(username, idField(id))...)
	err := s.run(ctx, true, revokeSessionScript, []string{s.sessionsKey(username)}, args...).Err()
	s.cache.invalidate(username, idField(id))
	if err != nil {
		return fmt.Errorf("redisstore: revoke session: %w", err)
	}
	return nil
}

// RevokeAll implements [store.SessionStore].
func (s *Store) RevokeAll(ctx context.Context, username string) error {
	if store.ValidateUsername(username) != nil {
		return nil // no such user, so no sessions
	}
	keys := []string{s.userKey(username), s.sessionsKey(username)}
	err := s.run(ctx, true, revokeAllScript, keys, s.pub.args(username)...).Err()
	s.cache.invalidate(username)
	if err != nil {
		return fmt.Errorf("redisstore: revoke all: %w", err)
	}
	return nil
}

// RotateRefresh implements [store.RefreshStore] in one round trip: a
// rotate script (see rotateScripts) reads the session record, decides
// which case of the contract applies with the rule of [record.rotate]
// and applies it, and replies with the record written and the owner's
// field, from which the session is built. A rotation writes r.Client to
// the session's address field in the same script, and a retry reads the
// address recorded by the rotation it retries. The grace period is kept
// in whole milliseconds, rounded up.
//
// A reuse, and a record the script does not read, are rotated by
// rotateSlow instead, which decides in Go; so is every record when the
// server cannot run the script (see [Store.readsFixed]) or the store
// writes [Options.LegacyRecords].
func (s *Store) RotateRefresh(ctx context.Context, username string, id store.Digest, r store.Rotation) (store.Session, error) {
	const op = "rotate refresh"
	if r.Next.IsZero() || r.Next == r.Old {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w: next digest is zero or equals old", op, store.ErrInvalid)
	}
	if r.Grace < 0 {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w: grace %v is negative", op, store.ErrInvalid, r.Grace)
	}
	if len(r.Client) > store.MaxClientLen {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w: client address of %d bytes, limit %d", op, store.ErrInvalid, len(r.Client), store.MaxClientLen)
	}
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound(op)
	}
	grace := ceilMillis(r.Grace)
	fast := !s.legacy
	if fast {
		var err error
		if fast, err = s.readsFixed(ctx); err != nil {
			return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
	}
	if !fast {
		return s.rotateSlow(ctx, username, id, r, grace)
	}
	outcome, rec, o, by, err := s.rotateOnce(ctx, username, id, r, s.nowMillis(), grace)
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	switch outcome {
	case rotateRotated, rotateRetried:
		out := rec.session(username, id, o)
		if outcome == rotateRetried {
			out.Retried, out.RotatedBy = true, by
		}
		return out, nil
	case rotateFallback:
		return s.rotateSlow(ctx, username, id, r, grace)
	default:
		return store.Session{}, notFound(op)
	}
}

// readsFixed reports whether the server runs rotateScripts: whether its
// Lua has a struct library that reads the fixed layout's widths
// (probeScript). A store asks once and keeps the answer, so that a
// refresh does not pay for the check; an error is not kept. The servers
// behind one client (a replica promoted by Sentinel, the nodes of a
// Cluster) are taken to be builds alike, as replication needs anyway; a
// script that finds no struct library at all still declines.
func (s *Store) readsFixed(ctx context.Context) (bool, error) {
	if v := s.fixed.Load(); v != fixedUnknown {
		return v == fixedReads, nil
	}
	// One probe at a time: a store made during an outage meets the rush
	// of refreshes after it with one probe, not one per refresh.
	s.probe.Lock()
	defer s.probe.Unlock()
	if v := s.fixed.Load(); v != fixedUnknown {
		return v == fixedReads, nil
	}
	n, err := probeScript.Run(ctx, s.client, nil).Int64()
	if err != nil {
		return false, fmt.Errorf("probe the struct library: %w", err)
	}
	if n != 1 {
		s.fixed.Store(fixedUnread)
		return false, nil
	}
	s.fixed.Store(fixedReads)
	return true, nil
}

// Values of Store.fixed: what [Store.readsFixed] found.
const (
	fixedUnknown int32 = iota
	fixedReads
	fixedUnread
)

// rotateOnce runs the store's rotate script for r at now and parses its
// reply.
func (s *Store) rotateOnce(ctx context.Context, username string, id store.Digest, r store.Rotation, now, grace int64) (rotation, record, owner, string, error) {
	old, next := refKeyOf(r.Old), refKeyOf(r.Next)
	// The script compares seq with a sequence number below 2^32, so any
	// seq from 2^52 up compares the same as 2^52, which a Lua number holds.
	cmd := s.run(ctx, true, s.rotate, []string{s.sessionsKey(username)}, idField(id),
		string(old[:]), string(next[:]), int64(min(r.Seq, 1<<52)), now, grace, encodeAddr(r.Client))
	reply, ok := cmd.Val().([]any)
	if err := cmd.Err(); err != nil {
		// With a reply, the error is the WAIT's (see Store.run); it does
		// not matter when the script wrote nothing: a token not found, or
		// a fallback, whose write Go waits for itself (a reuse must end
		// the session even while the replicas lag).
		if !ok || len(reply) == 0 || (reply[0] != int64(rotateNotFound) && reply[0] != int64(rotateFallback)) {
			return 0, record{}, owner{}, "", err
		}
	}
	return parseRotateReply(reply, s.external)
}

// parseRotateReply reads the reply of a rotate script: the outcome and,
// after a rotation or a retry, the record written, its owner and the
// address of the rotation retried. The owner field is g (the
// generation) with external users, else o (the roles).
func parseRotateReply(reply []any, external bool) (outcome rotation, rec record, o owner, by string, err error) {
	if len(reply) == 0 {
		return 0, record{}, owner{}, "", errors.New("empty reply from the rotate script")
	}
	n, ok := reply[0].(int64)
	if !ok {
		return 0, record{}, owner{}, "", fmt.Errorf("rotate script replied %T, want an integer", reply[0])
	}
	outcome = rotation(n)
	if outcome != rotateRotated && outcome != rotateRetried {
		return outcome, record{}, owner{}, "", nil
	}
	if len(reply) < 2 {
		return 0, record{}, owner{}, "", errors.New("rotate script replied without the record")
	}
	v, _ := reply[1].(string)
	if rec, _, err = decodeRecord(v); err != nil {
		return 0, record{}, owner{}, "", fmt.Errorf("rotate script wrote %w", err)
	}
	var field any
	if len(reply) > 2 {
		field = reply[2]
	}
	if external {
		o, err = parseOwner(nil, field)
	} else {
		o, err = parseOwner(field, nil)
	}
	if err != nil {
		return 0, record{}, owner{}, "", err
	}
	if len(reply) > 3 {
		a, _ := reply[3].(string)
		by = decodeAddr(a)
	}
	return outcome, rec, o, by, nil
}

// rotateSlow is RotateRefresh for what the rotate scripts decline: it
// reads the session and its address field with one HMGET, decides with
// [record.rotate], and applies the outcome with casScript only if the
// session's rotation state is still the one it read; otherwise it reads
// again. So of concurrent rotations of one token exactly one swaps it,
// and the others see the swap.
func (s *Store) rotateSlow(ctx context.Context, username string, id store.Digest, r store.Rotation, grace int64) (store.Session, error) {
	const op = "rotate refresh"
	old, nextRef := refKeyOf(r.Old), refKeyOf(r.Next)
	for range maxAttempts {
		now := s.nowMillis()
		st, o, ok, err := s.read(ctx, username, id, true)
		if err != nil {
			return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if !ok {
			return store.Session{}, notFound(op)
		}
		outcome, next := st.rotate(old, nextRef, r.Seq, now, grace)
		var addr *string
		switch outcome {
		case rotateRotated:
			addr = &r.Client
		case rotateRetried:
		case rotateReused:
			done, err := s.cas(ctx, username, id, st, nil, nil, now, s.pub.args(username, idField(id)), true)
			s.cache.invalidate(username, idField(id))
			if err != nil {
				return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
			}
			if !done {
				continue
			}
			return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, store.ErrReused)
		default:
			return store.Session{}, notFound(op)
		}
		done, err := s.cas(ctx, username, id, st, &next, addr, now, noPublish, true)
		if err != nil {
			return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if done {
			out := next.session(username, id, o)
			if addr == nil {
				out.Retried, out.RotatedBy = true, st.rotBy
			}
			return out, nil
		}
	}
	return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, errContention)
}

// pairs reads a reply of field-value pairs in any of the shapes servers
// send for HRANDFIELD WITHVALUES: a flat array (RESP2), an array of
// pairs or a map (RESP3).
func pairs(reply any) map[string]string {
	m := map[string]string{}
	switch r := reply.(type) {
	case map[any]any:
		for k, v := range r {
			ks, _ := k.(string)
			vs, _ := v.(string)
			m[ks] = vs
		}
	case []any:
		for i := 0; i < len(r); i++ {
			if p, ok := r[i].([]any); ok && len(p) == 2 {
				k, _ := p[0].(string)
				v, _ := p[1].(string)
				m[k] = v
			} else if i+1 < len(r) {
				k, _ := r[i].(string)
				v, _ := r[i+1].(string)
				m[k] = v
				i++
			}
		}
	}
	return m
}
