package memstore

import (
	"bytes"
	"context"
	"fmt"
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
}

// Store is an in-memory [store.Store]. It is safe for concurrent use. Create
// it with [New]; the zero value is not usable.
type Store struct {
	now func() time.Time

	mu    sync.Mutex
	users map[string]*user
	// sessions indexes each user's sessions by ID.
	sessions map[string]map[store.Digest]*session
	// all holds every session once, in no order, so the sweep can walk it
	// with a cursor; each session remembers its position for O(1) removal.
	all    []*session
	cursor int
}

var _ store.Store = (*Store)(nil)

type user struct {
	hash     []byte
	roles    []string
	disabled bool
	created  time.Time
}

type session struct {
	id       store.Digest
	username string
	ref      store.Digest
	// old holds the refresh digests this session rotated away, to tell a
	// replayed token (reuse) from one that was never issued.
	old     map[store.Digest]struct{}
	created time.Time
	seen    time.Time
	idle    time.Duration
	exp     time.Time
	pos     int // index in Store.all
}

// New returns an empty store.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:      now,
		users:    make(map[string]*user),
		sessions: make(map[string]map[store.Digest]*session),
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
	}, nil
}

// SetPasswordHash implements [store.UserStore].
func (s *Store) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	return s.updateUser(ctx, "set password hash", username, func(u *user) { u.hash = bytes.Clone(hash) })
}

// SetRoles implements [store.UserStore].
func (s *Store) SetRoles(ctx context.Context, username string, roles []string) error {
	if err := store.ValidateRoles(roles); err != nil {
		return fmt.Errorf("memstore: set roles: %w", err)
	}
	return s.updateUser(ctx, "set roles", username, func(u *user) { u.roles = cloneRoles(roles) })
}

// SetDisabled implements [store.UserStore]. Disabling also revokes the
// user's sessions, so re-enabling the account does not bring them back.
func (s *Store) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return s.updateUser(ctx, "set disabled", username, func(u *user) {
		u.disabled = disabled
		if disabled {
			s.removeAll(username)
		}
	})
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
func (s *Store) CreateSession(ctx context.Context, ns store.NewSession) error {
	if err := ctxErr(ctx, "create session"); err != nil {
		return err
	}
	if err := store.ValidateUsername(ns.Username); err != nil {
		return fmt.Errorf("memstore: create session: %w", err)
	}
	if ns.ID.IsZero() || ns.Refresh.IsZero() {
		return fmt.Errorf("memstore: create session: %w: zero ID or refresh digest", store.ErrInvalid)
	}
	if ns.IdleTimeout <= 0 {
		return fmt.Errorf("memstore: create session: %w: idle timeout %v is not positive", store.ErrInvalid, ns.IdleTimeout)
	}
	now := s.now()
	if !ns.ExpiresAt.After(now) {
		return fmt.Errorf("memstore: create session: %w: expiry %v is not in the future", store.ErrInvalid, ns.ExpiresAt)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	u, ok := s.users[ns.Username]
	if !ok || u.disabled {
		return notFound("create session")
	}
	if old, ok := s.sessions[ns.Username][ns.ID]; ok {
		if s.live(old, now) {
			return fmt.Errorf("memstore: create session: %w: session ID in use", store.ErrExists)
		}
		s.remove(old)
	}
	sess := &session{
		id:       ns.ID,
		username: ns.Username,
		ref:      ns.Refresh,
		old:      make(map[store.Digest]struct{}),
		created:  now,
		seen:     now,
		idle:     ns.IdleTimeout,
		exp:      ns.ExpiresAt,
		pos:      len(s.all),
	}
	byID := s.sessions[ns.Username]
	if byID == nil {
		byID = make(map[store.Digest]*session)
		s.sessions[ns.Username] = byID
	}
	byID[ns.ID] = sess
	s.all = append(s.all, sess)
	return nil
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
	s.removeAll(username)
	return nil
}

// RotateRefresh implements [store.RefreshStore]. The mutex makes the
// check and the swap one step, so of concurrent calls with the same old
// digest exactly one sees it as current.
func (s *Store) RotateRefresh(ctx context.Context, username string, id, old, next store.Digest) (store.Session, error) {
	if err := ctxErr(ctx, "rotate refresh"); err != nil {
		return store.Session{}, err
	}
	if next.IsZero() || next == old {
		return store.Session{}, fmt.Errorf("memstore: rotate refresh: %w: next digest is zero or equals old", store.ErrInvalid)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.lookup(username, id, now)
	if !ok {
		return store.Session{}, notFound("rotate refresh")
	}
	if sess.ref != old {
		if _, replayed := sess.old[old]; replayed {
			s.remove(sess)
			return store.Session{}, fmt.Errorf("memstore: rotate refresh: %w", store.ErrReused)
		}
		return store.Session{}, notFound("rotate refresh")
	}
	sess.old[old] = struct{}{}
	sess.ref = next
	sess.seen = now
	return s.record(sess), nil
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

// live reports whether sess is live at now. Revocation, including by
// disabling the user, removes sessions outright, so only the owner's
// existence, its enabled flag and time are left to check. The caller
// holds s.mu.
func (s *Store) live(sess *session, now time.Time) bool {
	u, ok := s.users[sess.username]
	return ok && !u.disabled && now.Before(sess.exp) && now.Before(sess.seen.Add(sess.idle))
}

// record copies sess out with its owner's current roles. The caller holds
// s.mu.
func (s *Store) record(sess *session) store.Session {
	var roles []string
	if u, ok := s.users[sess.username]; ok {
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
	}
}

// remove deletes sess from both indexes. The caller holds s.mu.
func (s *Store) remove(sess *session) {
	byID := s.sessions[sess.username]
	delete(byID, sess.id)
	if len(byID) == 0 {
		delete(s.sessions, sess.username)
	}
	last := len(s.all) - 1
	moved := s.all[last]
	s.all[sess.pos] = moved
	moved.pos = sess.pos
	s.all[last] = nil
	s.all = s.all[:last]
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
	for range sweepBatch {
		if len(s.all) == 0 {
			return
		}
		if s.cursor >= len(s.all) {
			s.cursor = 0
		}
		sess := s.all[s.cursor]
		if s.live(sess, now) {
			s.cursor++
			continue
		}
		// remove moves the last session into this slot; look at it next.
		s.remove(sess)
	}
}

// cloneRoles copies roles so that neither the caller nor the store can
// change the other's slice. It never returns nil, so "no roles" reads the
// same from every backend.
func cloneRoles(roles []string) []string {
	return append(make([]string, 0, len(roles)), roles...)
}
