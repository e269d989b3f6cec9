package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/observe"
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
	// Prefix starts every key and channel the store uses, so that authkit
	// can share a Redis with other applications. It must not contain '{'
	// or '}', which would break the per-user hash tag. Default:
	// [DefaultPrefix].
	Prefix string
	// Now is the clock that decides expiry and stamps records. Default:
	// time.Now. Tests inject a fake clock instead of sleeping; in
	// production every replica should run an NTP-synchronised clock,
	// since their clocks together decide when sessions end.
	Now func() time.Time
	// Logger receives what [Store.CheckEviction] finds and the state of
	// the local cache's subscription. Default: slog.Default(), read at
	// each use.
	Logger *slog.Logger
	// TouchInterval is how old a session's last use may be before
	// [Store.Session] records a new one. Reading a session whose last use
	// is more recent writes nothing, which keeps the request path to one
	// read command; the price is that the idle timeout runs from a last
	// use up to TouchInterval old, so a session may end up to that much
	// before IdleTimeout after its latest request, and
	// [store.Session].LastSeen lags by as much.
	//
	// Default (zero): one minute, or a hundredth of the session's idle
	// timeout if that is shorter. A positive value is used as it is, up
	// to half the session's idle timeout. A negative value records every
	// use, as a store without the option would.
	TouchInterval time.Duration
	// LocalCache, when set, keeps recently read sessions and API keys in
	// this process for a short time, so that most requests do not reach
	// Redis at all; see [LocalCacheOptions] for how revocations reach it.
	// Default: nil, no cache. A store with a cache must be closed with
	// [Store.Close].
	LocalCache *LocalCacheOptions
	// LegacyRecords writes session records in the varint layout that
	// releases before the fixed one (see docs/UPGRADING.md) read, and
	// rotates refresh tokens in Go (two round trips) rather than in one
	// script. Set it while instances of such a release share the Redis,
	// during a rolling upgrade: they cannot read a record in the fixed
	// layout, and answer 503 for its session or, sweeping at a login,
	// delete it. Unset it once every instance runs this release or later.
	// Records in either layout are read whatever the setting. Default
	// false: the fixed layout.
	LegacyRecords bool
	// ExternalUsers makes the store keep sessions of users held in
	// another store.UserSource, such as store/sqlstore (see
	// [store.SessionStore]): CreateSession needs no user in Redis, keeps
	// the highest generation it was given per user in the sessions hash,
	// and sessions carry no roles; the caller (ginauth) checks the owner
	// against its source. The user methods still work on Redis users but
	// no session consults them. Default false: sessions belong to the
	// users this store keeps.
	ExternalUsers bool
	// WaitReplicas, when positive, makes the writes that create a session
	// and rotate a refresh token (a retry within the grace period
	// included), and those that end sessions (RevokeSession, RevokeAll,
	// and a password change or disabling, which end every session of the
	// user) or API keys (RevokeAPIKey, ExpireAPIKey), wait until that many replicas have acknowledged them, with
	// WAIT on the connection that wrote. Should fewer acknowledge within
	// WaitTimeout, the call fails with [ErrNotReplicated], which ginauth
	// answers with 503: the write stays on the master, where a failover
	// may lose it. A client retries; a retried refresh within the grace
	// period converges on the same session, and its own WAIT covers the
	// first write too; revocations are idempotent, so a retried logout
	// completes. Without it (the default, zero) a session created or a
	// rotation acknowledged just before a failover may be lost with
	// Redis's asynchronous replication (the user must log in again), and
	// so may a logout or a disabling: the session it ended is alive again
	// on the promoted replica until it expires or is revoked anew. See
	// "Sentinel and failover" in the package documentation for what it
	// costs. It needs a *redis.Client (a single server, or Sentinel
	// through redis.NewFailoverClient): [New] refuses it with a Cluster
	// or Ring client, where WAIT would not reach the key's node.
	WaitReplicas int
	// WaitTimeout bounds the wait of WaitReplicas; keep it well within
	// the store deadline of a request (ginauth's StoreTimeout, 300 ms by
	// default). Default (zero): 100 ms. It is rounded up to whole
	// milliseconds.
	WaitTimeout time.Duration
}

// DefaultWaitTimeout is the wait of [Options.WaitReplicas] when
// [Options.WaitTimeout] is zero.
const DefaultWaitTimeout = 100 * time.Millisecond

// ErrNotReplicated is returned, wrapped, by the writes of
// [Options.WaitReplicas] when fewer replicas than asked for acknowledged
// the write in time. The write happened on the master but may be lost in
// a failover; the caller should answer 503 and the client retry.
var ErrNotReplicated = errors.New("redisstore: the write was not acknowledged by enough replicas")

// Store is a [store.Store] in Redis. It is safe for concurrent use;
// create it with [New]. Without a local cache it holds no state besides
// its configuration and what it found of the server on its first
// refresh (see [Store.RotateRefresh]); with one, [Store.Close] releases
// it.
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	logger *slog.Logger // nil: slog.Default()
	touch  time.Duration
	// external is Options.ExternalUsers.
	external bool
	legacy   bool // Options.LegacyRecords
	// rotate is the rotate script of the owner field (see rotateScripts),
	// and fixed what readsFixed found of the server (fixedUnknown, …),
	// probe held while it asks.
	rotate *redis.Script
	fixed  atomic.Int32
	probe  sync.Mutex
	pub    publisher
	cache  *localCache // nil: no local cache
	// replicas and replicaWait are Options.WaitReplicas and its timeout
	// in milliseconds.
	replicas, replicaWait int64
}

var _ store.Store = (*Store)(nil)

// New returns a store that keeps its state through client. Every store
// created with the same client and prefix sees the same data. Without a
// local cache New does not contact Redis; use [Store.Ping] to check the
// connection. With one, it starts subscribing in the background.
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
	if _, single := client.(*redis.Client); opts.WaitReplicas > 0 && !single {
		return nil, fmt.Errorf("redisstore: new: WaitReplicas needs a *redis.Client (single server or Sentinel), not %T", client)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{
		client: client, prefix: prefix, now: now, logger: opts.Logger,
		touch: opts.TouchInterval, external: opts.ExternalUsers, legacy: opts.LegacyRecords, pub: newPublisher(client, prefix),
		replicas: int64(max(0, opts.WaitReplicas)), replicaWait: ceilMillis(cmp.Or(opts.WaitTimeout, DefaultWaitTimeout)),
		rotate: rotateScripts[0],
	}
	if s.external {
		s.rotate = rotateScripts[1]
	}
	if opts.LocalCache != nil {
		c, err := newLocalCache(s, *opts.LocalCache)
		if err != nil {
			return nil, fmt.Errorf("redisstore: new: %w", err)
		}
		s.cache = c
	}
	return s, nil
}

// Close stops the local cache's subscription, if the store has one, and
// waits for it to end. It does not close the client. The store keeps
// working after Close, reading every session from Redis.
func (s *Store) Close() error {
	if s.cache != nil {
		s.cache.close()
	}
	return nil
}

// CacheStats reports the local cache now: its entries (sessions and API
// keys), the reads of sessions and uses of keys answered from memory and
// from Redis since it was made, and
// whether every subscription is confirmed (it holds nothing while not).
// Without a local cache it reports zeros. It is meant for a gauge read at
// scrape time (telemetry/authprom).
func (s *Store) CacheStats() observe.CacheStats { return s.cache.stats() }

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
	// The first generation is random, so that no caller can rely on where
	// generations start.
	gen := rand.Int64N(1 << 62)
	keys := []string{s.userKey(u.Username), s.sessionsKey(u.Username)}
	n, err := createUserScript.Run(ctx, s.client, keys,
		u.PasswordHash, encodeRoles(u.Roles), boolFlag(u.Disabled), s.nowMillis(), gen).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create user: %w", err)
	}
	if n != replyOK {
		return fmt.Errorf("redisstore: create user %q: %w", u.Username, store.ErrExists)
	}
	return nil
}

// userFields are the fields of a user hash, in the order parseUser reads
// them.
var userFields = []string{userFieldHash, userFieldRoles, userFieldDisabled, userFieldCreated, userFieldGen}

// User implements [store.UserStore].
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	if store.ValidateUsername(username) != nil {
		return store.User{}, notFound("user")
	}
	vals, err := s.client.HMGet(ctx, s.userKey(username), userFields...).Result()
	if err != nil {
		return store.User{}, fmt.Errorf("redisstore: user: %w", err)
	}
	if vals[4] == nil {
		return store.User{}, notFound("user")
	}
	u, err := parseUser(vals)
	if err != nil {
		return store.User{}, fmt.Errorf("redisstore: user %q: %w", username, err)
	}
	u.Username = username
	return u, nil
}

// SetPasswordHash implements [store.UserStore]. The same script that
// writes the hash moves the user to a new generation and deletes its
// sessions.
func (s *Store) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	return s.updateUser(ctx, "set password hash", username, userFieldHash, hash, true)
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

// SetRoles implements [store.UserStore]. The script that writes the
// roles copies them to the user's sessions hash, so the next read of any
// session sees them.
func (s *Store) SetRoles(ctx context.Context, username string, roles []string) error {
	if err := store.ValidateRoles(roles); err != nil {
		return fmt.Errorf("redisstore: set roles: %w", err)
	}
	return s.updateUser(ctx, "set roles", username, userFieldRoles, encodeRoles(roles), false)
}

// SetDisabled implements [store.UserStore]. Disabling also moves the user
// to a new generation and deletes every session: re-enabling the account
// does not bring them back.
func (s *Store) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return s.updateUser(ctx, "set disabled", username, userFieldDisabled, boolFlag(disabled), disabled)
}

// updateUser sets field of an existing user to value; bump also moves it
// to the next generation and ends its sessions. Every change invalidates
// the user's cached sessions and API keys everywhere: a cached key holds
// its owner as read, so even enabling a user again must reach the caches.
func (s *Store) updateUser(ctx context.Context, op, username, field string, value any, bump bool) error {
	if store.ValidateUsername(username) != nil {
		return notFound(op)
	}
	keys := []string{s.userKey(username), s.sessionsKey(username)}
	args := append([]any{field, value, boolFlag(bump)}, s.pub.args(username)...)
	// A change that ends sessions is a revocation: with WaitReplicas it
	// must not be undone by a failover either.
	n, err := s.run(ctx, bump, updateUserScript, keys, args...).Int()
	s.cache.invalidate(username) // even on error: the write may have landed
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if n != replyOK {
		return notFound(op)
	}
	return nil
}

// Ping implements [store.Pinger].
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// parseUser decodes an HMGET of userFields.
func parseUser(vals []any) (store.User, error) {
	str := func(i int) string { v, _ := vals[i].(string); return v }
	created, err := strconv.ParseInt(str(3), 10, 64)
	if err != nil {
		return store.User{}, fmt.Errorf("field %s: %v", userFieldCreated, err)
	}
	gen, err := strconv.ParseUint(str(4), 10, 64)
	if err != nil {
		return store.User{}, fmt.Errorf("field %s: %v", userFieldGen, err)
	}
	roles, err := decodeRoles(str(1))
	if err != nil {
		return store.User{}, err
	}
	return store.User{
		PasswordHash: []byte(str(0)),
		Roles:        roles,
		Disabled:     disabledValue(str(2)),
		CreatedAt:    time.UnixMilli(created),
		Generation:   gen,
	}, nil
}

// encodeRoles joins roles with commas, which [store.ValidateRoles]
// forbids inside a role.
func encodeRoles(roles []string) string { return strings.Join(roles, ",") }

// decodeRoles splits what encodeRoles joined. It also reads the JSON
// array that earlier versions stored in user hashes (a role cannot
// start with '['). It never returns nil, so "no roles" reads the same
// from every backend.
func decodeRoles(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		roles := []string{}
		if err := json.Unmarshal([]byte(s), &roles); err != nil {
			return nil, fmt.Errorf("field roles: %v", err)
		}
		if roles == nil {
			roles = []string{}
		}
		return roles, nil
	}
	if s == "" {
		return []string{}, nil
	}
	return strings.Split(s, ","), nil
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// enabledValue is the one value of a user's disabled field that leaves
// the user enabled: boolFlag(false), what [Store.CreateUser] and
// [Store.SetDisabled] have written since the first version (which also
// always wrote the field). Any other value, as an operator might set by
// hand ("true", "yes", "2", "", " 0"), or no field at all, disables the
// user: a mistake locks the account rather than leaving it open.
const enabledValue = "0"

// disabledValue applies that rule to a field read in Go; luaDisabled is
// the same rule for the scripts. The field is absent when v is "".
func disabledValue(v string) bool { return v != enabledValue }
