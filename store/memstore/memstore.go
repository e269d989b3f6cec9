package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// sweepBatch is how many stored sessions each CreateSession examines for
// expiry. Any value above one removes dead sessions faster than new ones
// arrive; a small one keeps the cost of a create constant.
const sweepBatch = 16

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Now is the clock the store reads to decide expiry and to stamp
	// records. Default: time.Now. Tests inject a fake clock instead of
	// sleeping.
	Now func() time.Time
	// ExternalUsers makes the store keep sessions of users held in
	// another store.UserSource (see [store.SessionStore]): CreateSession
	// needs no user here, sessions carry no roles, and the caller checks
	// the owner. The store then remembers, per user who ever logged in,
	// the highest generation given (a few bytes each, never dropped).
	// Default false: sessions belong to this store's users.
	ExternalUsers bool
}

// Store is an in-memory [store.Store]. It is safe for concurrent use. Create
// it with [New]; the zero value is not usable.
type Store struct {
	now      func() time.Time
	external bool

	mu    sync.Mutex
	users map[string]*user
	// sessions indexes each user's sessions by ID.
	sessions map[string]map[store.Digest]*session
	// all holds every session once, for the sweep.
	all sweepList[*session]
	// floor holds, with ExternalUsers, the highest generation given for
	// each user; a session of a lower one is no longer live.
	floor map[string]uint64
	// keys holds API keys by owner, then ID.
	keys map[string]map[string]*store.APIKey
	// clients holds OAuth clients by ID.
	clients map[string]store.OAuthClient

	attempts attemptTable
	devices  deviceTable
	factors  factorTable
}

var _ store.Store = (*Store)(nil)

type user struct {
	hash     []byte
	roles    []string
	disabled bool
	created  time.Time
	gen      uint64
}

type session struct {
	id       store.Digest
	username string
	gen      uint64 // the owner's generation when the session was created
	// Rotation state, constant in size: the current refresh digest and
	// its sequence number, the digest current before it, the time of the
	// last rotation and the client address that rotation recorded.
	ref     store.Digest
	seq     uint64
	prev    store.Digest
	rot     time.Time
	rotBy   string
	created time.Time
	seen    time.Time
	idle    time.Duration
	exp     time.Time
	slot
}

// New returns an empty store.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:      now,
		external: opts.ExternalUsers,
		users:    make(map[string]*user),
		sessions: make(map[string]map[store.Digest]*session),
		floor:    make(map[string]uint64),
		keys:     make(map[string]map[string]*store.APIKey),
		clients:  make(map[string]store.OAuthClient),
	}
}

// ctxErr reports a context that is already over. Work under the mutex is
// short and never waits on I/O, so checking once on entry is enough to
// honour cancellation.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

func notFound(op string) error { return fmt.Errorf("memstore: %s: %w", op, store.ErrNotFound) }

// CreateUser implements [store.UserStore].
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := ctxErr(ctx, "create user"); err != nil {
		return err
	}
	if err := store.ValidateUsername(u.Username); err != nil {
		return fmt.Errorf("memstore: create user: %w", err)
	}
	if err := store.ValidateRoles(u.Roles); err != nil {
		return fmt.Errorf("memstore: create user: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.Username]; ok {
		return fmt.Errorf("memstore: create user %q: %w", u.Username, store.ErrExists)
	}
	s.users[u.Username] = &user{
		hash:     bytes.Clone(u.PasswordHash),
		roles:    cloneRoles(u.Roles),
		disabled: u.Disabled,
		created:  s.now(),
		// Random, like redisstore's, so that no caller can rely on where
		// generations start.
		gen: rand.Uint64(),
	}
	return nil
}

// User implements [store.UserStore].
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	if err := ctxErr(ctx, "user"); err != nil {
		return store.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return store.User{}, notFound("user")
	}
	return store.User{
		Username:     username,
		PasswordHash: bytes.Clone(u.hash),
		Roles:        cloneRoles(u.roles),
		Disabled:     u.disabled,
		CreatedAt:    u.created,
		Generation:   u.gen,
	}, nil
}

// SetPasswordHash implements [store.UserStore]. It also moves the user to
// a new generation, which revokes every session.
func (s *Store) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	return s.updateUser(ctx, "set password hash", username, func(u *user) {
		u.hash = bytes.Clone(hash)
		s.bump(username, u)
	})
}

// RehashPassword implements [store.UserStore].
func (s *Store) RehashPassword(ctx context.Context, username string, gen uint64, old, hash []byte) (bool, error) {
	replaced := false
	err := s.updateUser(ctx, "rehash password", username, func(u *user) {
		if u.gen == gen && bytes.Equal(u.hash, old) {
			u.hash = bytes.Clone(hash)
			replaced = true
		}
	})
	return replaced, err
}

// SetRoles implements [store.UserStore].
func (s *Store) SetRoles(ctx context.Context, username string, roles []string) error {
	if err := store.ValidateRoles(roles); err != nil {
		return fmt.Errorf("memstore: set roles: %w", err)
	}
	return s.updateUser(ctx, "set roles", username, func(u *user) { u.roles = cloneRoles(roles) })
}

// SetDisabled implements [store.UserStore]. Disabling also moves the user
// to a new generation, which revokes its sessions, so re-enabling the
// account does not bring them back.
func (s *Store) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return s.updateUser(ctx, "set disabled", username, func(u *user) {
		u.disabled = disabled
		if disabled {
			s.bump(username, u)
		}
	})
}

// bump moves u, called username, to its next generation, which ends its
// sessions and the logins in flight; the sessions are removed at once to
// free their memory. The caller holds s.mu.
func (s *Store) bump(username string, u *user) {
	u.gen++
	s.removeAll(username)
}

// updateUser applies change to an existing user under the lock.
func (s *Store) updateUser(ctx context.Context, op, username string, change func(*user)) error {
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return notFound(op)
	}
	change(u)
	return nil
}

// CreateSession implements [store.SessionStore].
func (s *Store) CreateSession(ctx context.Context, ns store.SessionSpec) ([]store.Digest, error) {
	if err := ctxErr(ctx, "create session"); err != nil {
		return nil, err
	}
	now := s.now()
	if err := ns.Validate(now); err != nil {
		return nil, fmt.Errorf("memstore: create session: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if err := s.admit(ns); err != nil {
		return nil, fmt.Errorf("memstore: create session: %w", err)
	}
	if old, ok := s.sessions[ns.Username][ns.ID]; ok {
		if s.live(old, now) {
			return nil, fmt.Errorf("memstore: create session: %w: session ID in use", store.ErrExists)
		}
		s.remove(old)
	}
	sess := &session{
		id:       ns.ID,
		username: ns.Username,
		gen:      ns.Generation,
		ref:      ns.Refresh,
		created:  now,
		seen:     now,
		idle:     ns.IdleTimeout,
		exp:      ns.ExpiresAt,
	}
	byID := s.sessions[ns.Username]
	if byID == nil {
		byID = make(map[store.Digest]*session)
		s.sessions[ns.Username] = byID
	}
	byID[ns.ID] = sess
	s.all.add(sess)
	if ns.MaxSessions == 0 {
		return nil, nil
	}
	return s.evict(sess, ns.MaxSessions, now), nil
}

// admit checks that a session of ns.Username may be created in
// generation ns.Generation. With external users it raises the user's
// floor, ending the sessions below it. The caller holds s.mu.
func (s *Store) admit(ns store.SessionSpec) error {
	if s.external {
		floor, seen := s.floor[ns.Username]
		switch {
		case seen && ns.Generation < floor:
			return store.ErrStale
		case !seen || ns.Generation > floor:
			s.floor[ns.Username] = ns.Generation
			s.removeAll(ns.Username)
		}
		return nil
	}
	u, ok := s.users[ns.Username]
	if !ok || u.disabled {
		return store.ErrNotFound
	}
	if u.gen != ns.Generation {
		return store.ErrStale
	}
	return nil
}

// evict removes the sessions of keep's owner that are no longer live and
// then, while the owner has more than limit sessions, the one with the
// earliest absolute expiry (ties by ID), never keep itself. It returns
// the IDs of the live sessions it removed, oldest first, or nil. The
// caller holds s.mu.
func (s *Store) evict(keep *session, limit int, now time.Time) []store.Digest {
	var others []*session
	for _, sess := range s.sessions[keep.username] {
		switch {
		case sess == keep:
		case !s.live(sess, now):
			s.remove(sess)
		default:
			others = append(others, sess)
		}
	}
	slices.SortFunc(others, func(a, b *session) int {
		return cmp.Or(a.exp.Compare(b.exp), cmp.Compare(a.id.String(), b.id.String()))
	})
	var evicted []store.Digest
	for _, sess := range others[:max(0, len(others)-(limit-1))] {
		s.remove(sess)
		evicted = append(evicted, sess.id)
	}
	return evicted
}

// Session implements [store.SessionStore].
func (s *Store) Session(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	if err := ctxErr(ctx, "session"); err != nil {
		return store.Session{}, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.lookup(username, id, now)
	if !ok {
		return store.Session{}, notFound("session")
	}
	sess.seen = now
	return s.record(sess), nil
}

// PeekSession implements [store.SessionStore].
func (s *Store) PeekSession(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	if err := ctxErr(ctx, "peek session"); err != nil {
		return store.Session{}, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[username][id]
	if !ok || !s.live(sess, now) {
		return store.Session{}, notFound("peek session")
	}
	return s.record(sess), nil
}

// Sessions implements [store.SessionStore].
func (s *Store) Sessions(ctx context.Context, username string) ([]store.Session, error) {
	if err := ctxErr(ctx, "sessions"); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []store.Session
	for _, sess := range s.sessions[username] {
		if !s.live(sess, now) {
			s.remove(sess)
			continue
		}
		list = append(list, s.record(sess))
	}
	store.SortSessions(list)
	return list, nil
}

// RevokeSession implements [store.SessionStore].
func (s *Store) RevokeSession(ctx context.Context, username string, id store.Digest) error {
	if err := ctxErr(ctx, "revoke session"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[username][id]; ok {
		s.remove(sess)
	}
	return nil
}

// RevokeAll implements [store.SessionStore].
func (s *Store) RevokeAll(ctx context.Context, username string) error {
	if err := ctxErr(ctx, "revoke all"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[username]; ok && !s.external {
		s.bump(username, u)
		return nil
	}
	s.removeAll(username)
	return nil
}

// RotateRefresh implements [store.RefreshStore]. The mutex makes the
// check and the swap one step, so of concurrent calls with the same old
// digest and different next digests exactly one sees old as current.
func (s *Store) RotateRefresh(ctx context.Context, username string, id store.Digest, r store.Rotation) (store.Session, error) {
	if err := ctxErr(ctx, "rotate refresh"); err != nil {
		return store.Session{}, err
	}
	if r.Next.IsZero() || r.Next == r.Old {
		return store.Session{}, fmt.Errorf("memstore: rotate refresh: %w: next digest is zero or equals old", store.ErrInvalid)
	}
	if r.Grace < 0 {
		return store.Session{}, fmt.Errorf("memstore: rotate refresh: %w: grace %v is negative", store.ErrInvalid, r.Grace)
	}
	if len(r.Client) > store.MaxClientLen {
		return store.Session{}, fmt.Errorf("memstore: rotate refresh: %w: client address of %d bytes, limit %d", store.ErrInvalid, len(r.Client), store.MaxClientLen)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.lookup(username, id, now)
	if !ok {
		return store.Session{}, notFound("rotate refresh")
	}
	retried := false
	switch {
	case r.Old == sess.ref:
		sess.prev, sess.ref = sess.ref, r.Next
		sess.seq++
		sess.rot, sess.rotBy = now, r.Client
	case !sess.prev.IsZero() && r.Old == sess.prev && r.Next == sess.ref && now.Before(sess.rot.Add(r.Grace)):
		// A retry within the grace period: only the use is recorded.
		retried = true
	case r.Seq < sess.seq:
		s.remove(sess)
		return store.Session{}, fmt.Errorf("memstore: rotate refresh: %w", store.ErrReused)
	default:
		return store.Session{}, notFound("rotate refresh")
	}
	sess.seen = now
	out := s.record(sess)
	if retried {
		out.Retried, out.RotatedBy = true, sess.rotBy
	}
	return out, nil
}

// Ping implements [store.Pinger]. Memory always answers, unless the
// caller has already given up.
func (s *Store) Ping(ctx context.Context) error {
	return ctxErr(ctx, "ping")
}

// lookup returns the live session id of username, removing it if it is
// stored but no longer live. The caller holds s.mu.
func (s *Store) lookup(username string, id store.Digest, now time.Time) (*session, bool) {
	sess, ok := s.sessions[username][id]
	if !ok {
		return nil, false
	}
	if !s.live(sess, now) {
		s.remove(sess)
		return nil, false
	}
	return sess, true
}

// live reports whether sess is live at now: neither the absolute expiry
// nor the idle timeout has passed, and its owner exists, is enabled and
// is still in the session's generation (with external users: the
// session's generation is the highest given for its owner). The caller
// holds s.mu.
func (s *Store) live(sess *session, now time.Time) bool {
	if !now.Before(sess.exp) || !now.Before(sess.seen.Add(sess.idle)) {
		return false
	}
	if s.external {
		return sess.gen == s.floor[sess.username]
	}
	u, ok := s.users[sess.username]
	return ok && !u.disabled && u.gen == sess.gen
}

// record copies sess out with its owner's current roles. The caller holds
// s.mu.
func (s *Store) record(sess *session) store.Session {
	var roles []string
	if u, ok := s.users[sess.username]; ok && !s.external {
		roles = u.roles
	}
	return store.Session{
		ID:          sess.id,
		Username:    sess.username,
		Roles:       cloneRoles(roles),
		CreatedAt:   sess.created,
		LastSeen:    sess.seen,
		IdleTimeout: sess.idle,
		ExpiresAt:   sess.exp,
		Generation:  sess.gen,
	}
}

// remove deletes sess from both indexes. The caller holds s.mu.
func (s *Store) remove(sess *session) {
	byID := s.sessions[sess.username]
	delete(byID, sess.id)
	if len(byID) == 0 {
		delete(s.sessions, sess.username)
	}
	s.all.remove(sess)
}

// removeAll deletes every session of username. The caller holds s.mu.
func (s *Store) removeAll(username string) {
	for _, sess := range s.sessions[username] {
		s.remove(sess)
	}
}

// sweep examines up to sweepBatch sessions, continuing where the last
// sweep stopped, and removes those that are no longer live. The caller
// holds s.mu.
func (s *Store) sweep(now time.Time) {
	s.all.sweep(sweepBatch, func(sess *session) bool { return s.live(sess, now) }, s.remove)
}

// cloneRoles copies roles so that neither the caller nor the store can
// change the other's slice. It never returns nil, so "no roles" reads the
// same from every backend.
func cloneRoles(roles []string) []string {
	return append(make([]string, 0, len(roles)), roles...)
}
