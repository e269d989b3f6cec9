package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

// Store is a [store.Store] in Redis. It is safe for concurrent use and
// holds no state besides its configuration; create it with [New].
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
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
	return &Store{client: client, prefix: prefix, now: now}, nil
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
	return s.prefix + "{u:" + username + "}:s:" + id.String()
}

func oldKey(sessionKey string) string { return sessionKey + ":old" }

// maxMillis is the longest time.Duration in whole milliseconds.
const maxMillis = int64(math.MaxInt64 / time.Millisecond)

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

// SetPasswordHash implements [store.UserStore].
func (s *Store) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	return s.updateUser(ctx, "set password hash", username, "hash", hash, false)
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
func (s *Store) CreateSession(ctx context.Context, ns store.NewSession) error {
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
	idle := ns.IdleTimeout.Milliseconds()
	if ns.IdleTimeout%time.Millisecond != 0 && idle < maxMillis {
		idle++ // round up, but stay a valid time.Duration when read back
	}
	now, exp := s.nowMillis(), ns.ExpiresAt.UnixMilli()
	if ns.ExpiresAt.IsZero() || exp <= now {
		return fmt.Errorf("redisstore: %s: %w: expiry %v is not in the future", op, store.ErrInvalid, ns.ExpiresAt)
	}
	sk := s.sessionKey(ns.Username, ns.ID)
	keys := []string{s.userKey(ns.Username), sk, oldKey(sk), s.indexKey(ns.Username)}
	n, err := createSessionScript.Run(ctx, s.client, keys,
		now, ns.ID.String(), ns.Refresh.String(), idle, exp).Int()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	switch n {
	case replyOK:
		return nil
	case replyExists:
		return fmt.Errorf("redisstore: %s: %w: session ID in use", op, store.ErrExists)
	default:
		return notFound(op)
	}
}

// Session implements [store.SessionStore] in one round trip.
func (s *Store) Session(ctx context.Context, username string, id store.Digest) (store.Session, error) {
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound("session")
	}
	sk := s.sessionKey(username, id)
	keys := []string{sk, s.userKey(username), oldKey(sk), s.indexKey(username)}
	vals, err := sessionScript.Run(ctx, s.client, keys, s.nowMillis(), id.String()).Slice()
	if errors.Is(err, redis.Nil) {
		return store.Session{}, notFound("session")
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: session: %w", err)
	}
	sess, err := parseReply(username, id, vals)
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: session: %w", err)
	}
	return sess, nil
}

// Sessions implements [store.SessionStore]: it lists the index, then
// reads the sessions and their owner in one pipeline and keeps the live
// ones by the same rule the scripts apply.
func (s *Store) Sessions(ctx context.Context, username string) ([]store.Session, error) {
	if store.ValidateUsername(username) != nil {
		return nil, nil
	}
	members, err := s.client.ZRange(ctx, s.indexKey(username), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions: %w", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	ids := make([]store.Digest, len(members))
	for i, m := range members {
		if ids[i], err = store.ParseDigest(m); err != nil {
			return nil, fmt.Errorf("redisstore: sessions: index member %q: %v", m, err)
		}
	}
	var userCmd *redis.MapStringStringCmd
	sessCmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		userCmd = p.HGetAll(ctx, s.userKey(username))
		for i, id := range ids {
			sessCmds[i] = p.HGetAll(ctx, s.sessionKey(username, id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions: %w", err)
	}
	um := userCmd.Val()
	if len(um) == 0 || um["disabled"] == "1" {
		return nil, nil
	}
	roles, err := decodeRoles(um["roles"])
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions: user %q: %w", username, err)
	}
	now := s.nowMillis()
	var list []store.Session
	for i, cmd := range sessCmds {
		f, ok, err := parseSessionHash(cmd.Val())
		if err != nil {
			return nil, fmt.Errorf("redisstore: sessions: session %v: %w", ids[i], err)
		}
		if !ok || f.gen != um["gen"] || now >= f.exp || now >= f.seen+f.idle {
			continue
		}
		list = append(list, store.Session{
			ID:          ids[i],
			Username:    username,
			Roles:       slices.Clone(roles),
			CreatedAt:   time.UnixMilli(f.created),
			LastSeen:    time.UnixMilli(f.seen),
			IdleTimeout: time.Duration(f.idle) * time.Millisecond,
			ExpiresAt:   time.UnixMilli(f.exp),
		})
	}
	store.SortSessions(list)
	return list, nil
}

// RevokeSession implements [store.SessionStore].
func (s *Store) RevokeSession(ctx context.Context, username string, id store.Digest) error {
	if store.ValidateUsername(username) != nil {
		return nil // no such user, so no such session
	}
	sk := s.sessionKey(username, id)
	keys := []string{sk, oldKey(sk), s.indexKey(username)}
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
	keys := make([]string, 0, 2+2*len(members))
	keys = append(keys, s.userKey(username), s.indexKey(username))
	for _, m := range members {
		id, err := store.ParseDigest(m)
		if err != nil {
			continue // not ours to name a key after; the generation bump still revokes it
		}
		sk := s.sessionKey(username, id)
		keys = append(keys, sk, oldKey(sk))
	}
	if err := revokeAllScript.Run(ctx, s.client, keys).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke all: %w", err)
	}
	return nil
}

// RotateRefresh implements [store.RefreshStore] as one script, so the
// check of old and the swap to next are a single atomic step.
func (s *Store) RotateRefresh(ctx context.Context, username string, id, old, next store.Digest) (store.Session, error) {
	const op = "rotate refresh"
	if next.IsZero() || next == old {
		return store.Session{}, fmt.Errorf("redisstore: %s: %w: next digest is zero or equals old", op, store.ErrInvalid)
	}
	if store.ValidateUsername(username) != nil {
		return store.Session{}, notFound(op)
	}
	sk := s.sessionKey(username, id)
	keys := []string{sk, s.userKey(username), oldKey(sk), s.indexKey(username)}
	vals, err := rotateScript.Run(ctx, s.client, keys,
		s.nowMillis(), id.String(), old.String(), next.String()).Slice()
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
// session and rotate scripts.
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

// sessionFields are the parts of a session hash that decide liveness.
type sessionFields struct {
	gen                      string
	created, seen, idle, exp int64
}

// parseSessionHash decodes an HGETALL of a session key; ok is false when
// the key did not exist.
func parseSessionHash(m map[string]string) (f sessionFields, ok bool, err error) {
	if len(m) == 0 {
		return f, false, nil
	}
	f.gen = m["gen"]
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"created", &f.created}, {"seen", &f.seen}, {"idle", &f.idle}, {"exp", &f.exp}} {
		if *p.dst, err = strconv.ParseInt(m[p.name], 10, 64); err != nil {
			return f, false, fmt.Errorf("field %s: %v", p.name, err)
		}
	}
	return f, true, nil
}

// parseUser decodes an HGETALL of a user key.
func parseUser(m map[string]string) (store.User, error) {
	created, err := strconv.ParseInt(m["created"], 10, 64)
	if err != nil {
		return store.User{}, fmt.Errorf("field created: %v", err)
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
