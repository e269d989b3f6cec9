package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// DefaultPrefix is the key prefix used when [Options.Prefix] is empty.
const DefaultPrefix = "authkit:"

// ErrNoContextTimeout is returned, wrapped, by [New] for a *redis.Client,
// *redis.ClusterClient or *redis.Ring whose options do not set
// ContextTimeoutEnabled. Without it go-redis ignores context deadlines on
// the socket, so a server that accepts connections but never replies
// stalls each call for the client's ReadTimeout (measured: 5.0 s against a
// 300 ms deadline) and authkit cannot answer 503 within the request's
// deadline.
var ErrNoContextTimeout = errors.New("redisstore: the redis client must set ContextTimeoutEnabled: true, or context deadlines are ignored")

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Prefix starts every key the store writes, so that authkit can share
	// a Redis with other applications. It must not contain '{' or '}',
	// which would break the per-user hash tag. Default: [DefaultPrefix].
	Prefix string
	// Now is the clock that decides expiry and stamps records. Default:
	// time.Now. Tests inject a fake clock instead of sleeping; in
	// production every replica should run an NTP-synchronised clock,
	// since their clocks together decide when sessions end.
	Now func() time.Time
	// Logger receives what [Store.CheckEviction] finds. Default:
	// slog.Default(), read at each use.
	Logger *slog.Logger
}

// Store is a [store.Store] in Redis. It is safe for concurrent use and
// holds no state besides its configuration; create it with [New].
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	logger *slog.Logger // nil: slog.Default()
}

var _ store.Store = (*Store)(nil)

// New returns a store that keeps its state through client. Every store
// created with the same client and prefix sees the same data. New does
// not contact Redis; use [Store.Ping] to check the connection.
//
// New fails with [ErrNoContextTimeout] when client is a go-redis client
// without ContextTimeoutEnabled. Other implementations of
// [redis.UniversalClient] cannot be inspected and are accepted as they are.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: new: nil client")
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redisstore: new: prefix %q contains '{' or '}'", prefix)
	}
	enabled, known := contextTimeoutEnabled(client)
	if known && !enabled {
		return nil, fmt.Errorf("redisstore: new: %T: %w", client, ErrNoContextTimeout)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{client: client, prefix: prefix, now: now, logger: opts.Logger}, nil
}

// contextTimeoutEnabled reports the ContextTimeoutEnabled option of the
// go-redis clients that expose their options; known is false for others.
func contextTimeoutEnabled(client redis.UniversalClient) (enabled, known bool) {
	switch c := client.(type) {
	case *redis.Client:
		return c != nil && c.Options().ContextTimeoutEnabled, true
	case *redis.ClusterClient:
		return c != nil && c.Options().ContextTimeoutEnabled, true
	case *redis.Ring:
		return c != nil && c.Options().ContextTimeoutEnabled, true
	}
	return false, false
}

// Key names. Everything of one user shares the hash tag {u:<username>}.
// Callers validate the username first, so it cannot contain braces.

func (s *Store) userKey(username string) string {
	return s.prefix + "{u:" + username + "}:user"
}

func (s *Store) indexKey(username string) string {
	return s.prefix + "{u:" + username + "}:sessions"
}

func (s *Store) sessionKey(username string, id store.Digest) string {
	return s.sessionPrefix(username) + id.String()
}

// sessionPrefix starts the key of every session of username; the scripts
// that walk the session index append the IDs they find to it.
func (s *Store) sessionPrefix(username string) string {
	return s.prefix + "{u:" + username + "}:s:"
}

// maxMillis is the longest time.Duration in whole milliseconds.
const maxMillis = int64(math.MaxInt64 / time.Millisecond)

// ceilMillis returns d in whole milliseconds, rounded up but never past
// maxMillis, so that the result is still a valid time.Duration when read
// back.
func ceilMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d%time.Millisecond > 0 && ms < maxMillis {
		ms++
	}
	return ms
}

// nowMillis reads the store's clock.
func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

func notFound(op string) error { return fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound) }

// CreateUser implements [store.UserStore].
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := store.ValidateUsername(u.Username); err != nil {
		return fmt.Errorf("redisstore: create user: %w", err)
	}
	if err := store.ValidateRoles(u.Roles); err != nil {
		return fmt.Errorf("redisstore: create user: %w", err)
	}
	roles, err := encodeRoles(u.Roles)
	if err != nil {
		return fmt.Errorf("redisstore: create user: %w", err)
	}
	// The first generation is random so that a user deleted by hand and
	// created again cannot inherit sessions left from before.
	gen := rand.Int64N(1 << 62)
	n, err := createUserScript.Run(ctx, s.client, []string{s.userKey(u.Username)},
		u.PasswordHash, roles, boolFlag(u.Disabled), s.nowMillis(), gen).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create user: %w", err)
	}
	if n != replyOK {
		return fmt.Errorf("redisstore: create user %q: %w", u.Username, store.ErrExists)
	}
	return nil
}

// User implements [store.UserStore].
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	if store.ValidateUsername(username) != nil {
		return store.User{}, notFound("user")
	}
	m, err := s.client.HGetAll(ctx, s.userKey(username)).Result()
	if err != nil {
		return store.User{}, fmt.Errorf("redisstore: user: %w", err)
	}
	if len(m) == 0 {
		return store.User{}, notFound("user")
	}
	u, err := parseUser(m)
	if err != nil {
		return store.User{}, fmt.Errorf("redisstore: user %q: %w", username, err)
	}
	u.Username = username
	return u, nil
}

// SetPasswordHash implements [store.UserStore]. The same script that
// writes the hash moves the user to a new generation.
func (s *Store) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	return s.updateUser(ctx, "set password hash", username, "hash", hash, true)
}

// RehashPassword implements [store.UserStore] as one script that
// compares the hash and the generation and writes the new hash.
func (s *Store) RehashPassword(ctx context.Context, username string, gen uint64, old, hash []byte) (bool, error) {
	const op = "rehash password"
	if store.ValidateUsername(username) != nil {
		return false, notFound(op)
	}
	n, err := rehashScript.Run(ctx, s.client, []string{s.userKey(username)},
		strconv.FormatUint(gen, 10), old, hash).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	switch n {
	case replyOK:
		return true, nil
	case replyStale:
		return false, nil
	default:
		return false, notFound(op)
	}
}

// SetRoles implements [store.UserStore].
func (s *Store) SetRoles(ctx context.Context, username string, roles []string) error {
	if err := store.ValidateRoles(roles); err != nil {
		return fmt.Errorf("redisstore: set roles: %w", err)
	}
	enc, err := encodeRoles(roles)
	if err != nil {
		return fmt.Errorf("redisstore: set roles: %w", err)
	}
	return s.updateUser(ctx, "set roles", username, "roles", enc, false)
}

// SetDisabled implements [store.UserStore]. Disabling also moves the user
// to a new generation, which revokes every session: re-enabling the
// account does not bring them back.
func (s *Store) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return s.updateUser(ctx, "set disabled", username, "disabled", boolFlag(disabled), disabled)
}

func (s *Store) updateUser(ctx context.Context, op, username, field string, value any, bump bool) error {
	if store.ValidateUsername(username) != nil {
		return notFound(op)
	}
	n, err := updateUserScript.Run(ctx, s.client, []string{s.userKey(username)},
		field, value, boolFlag(bump)).Int()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if n != replyOK {
		return notFound(op)
	}
	return nil
}

// CreateSession implements [store.SessionStore]. Times are kept in whole
// milliseconds; an idle timeout is rounded up to the next one.
func (s *Store) CreateSession(ctx context.Context, ns store.SessionSpec) error {
	const op = "create session"
	if err := store.ValidateUsername(ns.Username); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if ns.ID.IsZero() || ns.Refresh.IsZero() {
		return fmt.Errorf("redisstore: %s: %w: zero ID or refresh digest", op, store.ErrInvalid)
	}
	if ns.IdleTimeout <= 0 {
		return fmt.Errorf("redisstore: %s: %w: idle timeout %v is not positive", op, store.ErrInvalid, ns.IdleTimeout)
	}
	if ns.MaxSessions < 0 {
		return fmt.Errorf("redisstore: %s: %w: MaxSessions %d is negative", op, store.ErrInvalid, ns.MaxSessions)
	}
	idle := ceilMillis(ns.IdleTimeout)
	now, exp := s.nowMillis(), ns.ExpiresAt.UnixMilli()
	if ns.ExpiresAt.IsZero() || exp <= now {
		return fmt.Errorf("redisstore: %s: %w: expiry %v is not in the future", op, store.ErrInvalid, ns.ExpiresAt)
	}
	keys := []string{s.userKey(ns.Username), s.sessionKey(ns.Username, ns.ID), s.indexKey(ns.Username)}
	n, err := createSessionScript.Run(ctx, s.client, keys,
		now, ns.ID.String(), ns.Refresh.String(), idle, exp,
		strconv.FormatUint(ns.Generation, 10), ns.MaxSessions, s.sessionPrefix(ns.Username)).Int()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	switch n {
	case replyOK:
		return nil
	case replyExists:
		return fmt.Errorf("redisstore: %s: %w: session ID in use", op, store.ErrExists)
	case replyStale:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrStale)
	default:
		return notFound(op)
	}
}

// Session implements [store.SessionStore] in one round trip.
func (s *Store) Session(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound("session")
	}
	keys := []string{s.sessionKey(username, id), s.userKey(username), s.indexKey(username)}
	return s.readSession(ctx, "session", sessionScript, keys, username, id)
}

// PeekSession implements [store.SessionStore] in one round trip, with a
// script that applies the same liveness rule as the others and writes
// nothing.
func (s *Store) PeekSession(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound("peek session")
	}
	keys := []string{s.sessionKey(username, id), s.userKey(username)}
	return s.readSession(ctx, "peek session", peekScript, keys, username, id)
}

// readSession runs script, which replies nil or {created, seen, idle,
// exp, roles}, with ARGV now, id.
func (s *Store) readSession(ctx context.Context, op string, script *redis.Script, keys []string, username string, id store.Digest) (store.Session, error) {
	vals, err := script.Run(ctx, s.client, keys, s.nowMillis(), id.String()).Slice()
	if errors.Is(err, redis.Nil) {
		return store.Session{}, notFound(op)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	sess, err := parseReply(username, id, vals)
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return sess, nil
}

// Sessions implements [store.SessionStore] in one round trip: a script
// that writes nothing walks the index and keeps the live sessions by the
// rule every other script applies.
func (s *Store) Sessions(ctx context.Context, username string) ([]store.Session, error) {
	if store.ValidateUsername(username) != nil {
		return nil, nil
	}
	keys := []string{s.userKey(username), s.indexKey(username)}
	vals, err := sessionsScript.Run(ctx, s.client, keys, s.nowMillis(), s.sessionPrefix(username)).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions: %w", err)
	}
	if len(vals) == 0 {
		return nil, nil
	}
	if (len(vals)-1)%5 != 0 {
		return nil, fmt.Errorf("redisstore: sessions: reply has %d fields", len(vals))
	}
	var list []store.Session
	for rest := vals[1:]; len(rest) > 0; rest = rest[5:] {
		member, _ := rest[0].(string)
		id, err := store.ParseDigest(member)
		if err != nil {
			return nil, fmt.Errorf("redisstore: sessions: index member %q: %v", member, err)
		}
		sess, err := parseReply(username, id, append(slices.Clone(rest[1:5]), vals[0]))
		if err != nil {
			return nil, fmt.Errorf("redisstore: sessions: session %v: %w", id, err)
		}
		list = append(list, sess)
	}
	store.SortSessions(list)
	return list, nil
}

// RevokeSession implements [store.SessionStore].
func (s *Store) RevokeSession(ctx context.Context, username string, id store.Digest) error {
	if store.ValidateUsername(username) != nil {
		return nil // no such user, so no such session
	}
	keys := []string{s.sessionKey(username, id), s.indexKey(username)}
	if err := revokeSessionScript.Run(ctx, s.client, keys, id.String()).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke session: %w", err)
	}
	return nil
}

// RevokeAll implements [store.SessionStore].
func (s *Store) RevokeAll(ctx context.Context, username string) error {
	if store.ValidateUsername(username) != nil {
		return nil // no such user, so no sessions
	}
	members, err := s.client.ZRange(ctx, s.indexKey(username), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("redisstore: revoke all: %w", err)
	}
	keys := make([]string, 0, 2+len(members))
	keys = append(keys, s.userKey(username), s.indexKey(username))
	for _, m := range members {
		id, err := store.ParseDigest(m)
		if err != nil {
			continue // not ours to name a key after; the generation bump still revokes it
		}
		keys = append(keys, s.sessionKey(username, id))
	}
	if err := revokeAllScript.Run(ctx, s.client, keys).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke all: %w", err)
	}
	return nil
}

// RotateRefresh implements [store.RefreshStore] as one script, so the
// check of r.Old and the swap to r.Next are a single atomic step. The
// grace period is kept in whole milliseconds, rounded up.
func (s *Store) RotateRefresh(ctx context.Context, username string, id store.Digest, r store.Rotation) (store.Session, error) {
	const op = "rotate refresh"
	if r.Next.IsZero() || r.Next == r.Old {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w: next digest is zero or equals old", op, store.ErrInvalid)
	}
	if r.Grace < 0 {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w: grace %v is negative", op, store.ErrInvalid, r.Grace)
	}
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound(op)
	}
	keys := []string{s.sessionKey(username, id), s.userKey(username), s.indexKey(username)}
	// Lua numbers are doubles: a sequence number beyond 2^53 is passed as
	// 2^53, which compares the same with any count of rotations.
	seq := min(r.Seq, 1<<53)
	vals, err := rotateScript.Run(ctx, s.client, keys, s.nowMillis(), id.String(),
		r.Old.String(), seq, r.Next.String(), ceilMillis(r.Grace)).Slice()
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(vals) == 0 {
		return store.Session{}, fmt.Errorf("redisstore: %s: empty reply", op)
	}
	switch code, _ := vals[0].(int64); code {
	case replyOK:
		sess, err := parseReply(username, id, vals[1:])
		if err != nil {
			return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, err)
		}
		return sess, nil
	case replyReused:
		return store.Session{}, fmt.Errorf("redisstore: %s: %w", op, store.ErrReused)
	case replyNotFound:
		return store.Session{}, notFound(op)
	default:
		return store.Session{}, fmt.Errorf("redisstore: %s: unexpected reply %v", op, vals[0])
	}
}

// Ping implements [store.Pinger].
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// parseReply decodes {created, seen, idle, exp, roles} as returned by the
// session, peek and rotate scripts.
func parseReply(username string, id store.Digest, vals []any) (store.Session, error) {
	if len(vals) != 5 {
		return store.Session{}, fmt.Errorf("reply has %d fields, want 5", len(vals))
	}
	var ms [4]int64
	for i := range ms {
		str, ok := vals[i].(string)
		if !ok {
			return store.Session{}, fmt.Errorf("reply field %d is %T, want string", i, vals[i])
		}
		n, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return store.Session{}, fmt.Errorf("reply field %d: %v", i, err)
		}
		ms[i] = n
	}
	rolesJSON, _ := vals[4].(string)
	roles, err := decodeRoles(rolesJSON)
	if err != nil {
		return store.Session{}, err
	}
	return store.Session{
		ID:          id,
		Username:    username,
		Roles:       roles,
		CreatedAt:   time.UnixMilli(ms[0]),
		LastSeen:    time.UnixMilli(ms[1]),
		IdleTimeout: time.Duration(ms[2]) * time.Millisecond,
		ExpiresAt:   time.UnixMilli(ms[3]),
	}, nil
}

// parseUser decodes an HGETALL of a user key.
func parseUser(m map[string]string) (store.User, error) {
	created, err := strconv.ParseInt(m["created"], 10, 64)
	if err != nil {
		return store.User{}, fmt.Errorf("field created: %v", err)
	}
	gen, err := strconv.ParseUint(m["gen"], 10, 64)
	if err != nil {
		return store.User{}, fmt.Errorf("field gen: %v", err)
	}
	roles, err := decodeRoles(m["roles"])
	if err != nil {
		return store.User{}, err
	}
	return store.User{
		PasswordHash: []byte(m["hash"]),
		Roles:        roles,
		Disabled:     m["disabled"] == "1",
		CreatedAt:    time.UnixMilli(created),
		Generation:   gen,
	}, nil
}

// encodeRoles stores roles as a JSON array; nil becomes [] so that every
// reader gets a list.
func encodeRoles(roles []string) (string, error) {
	if roles == nil {
		roles = []string{}
	}
	b, err := json.Marshal(roles)
	return string(b), err
}

func decodeRoles(s string) ([]string, error) {
	roles := []string{}
	if err := json.Unmarshal([]byte(s), &roles); err != nil {
		return nil, fmt.Errorf("field roles: %v", err)
	}
	if roles == nil {
		roles = []string{}
	}
	return roles, nil
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
