package store

import (
	"context"
	"time"
)

// User is an account that can log in.
type User struct {
	// Username identifies the user; see [ValidateUsername] for its syntax.
	Username string
	// PasswordHash is the encoded password hash (bcrypt, or argon2id in
	// PHC string format).
	PasswordHash []byte
	// Roles are the user's role names, in no particular order.
	Roles []string
	// Disabled users cannot log in, and their sessions stop working at once.
	// A backend that stores the flag as text must fail closed: any stored
	// value but the one it writes for an enabled user reads as disabled
	// (see store/redisstore).
	Disabled bool
	// CreatedAt is set by the store when the user is created.
	CreatedAt time.Time
	// Generation is set by the store. It changes, in the same atomic step,
	// whenever the password hash changes, the user is disabled or all of
	// the user's sessions are revoked, and never otherwise. A caller that
	// verified a password passes it on in [SessionSpec.Generation], so that
	// a password change or disable ends every login already in flight.
	Generation uint64
}

// SessionSpec is what a caller supplies to create a session.
type SessionSpec struct {
	// ID is the digest of the session secret: the session's public handle.
	ID Digest
	// Username is the owner; the user must exist and be enabled.
	Username string
	// Refresh is the digest of the first refresh token of the session.
	Refresh Digest
	// IdleTimeout ends the session when it is not used for this long.
	// It must be positive.
	IdleTimeout time.Duration
	// ExpiresAt ends the session whatever its use (absolute lifetime).
	// It must be after the store's current time.
	ExpiresAt time.Time
	// Generation is the [User.Generation] the caller read when it verified
	// the user's password. CreateSession fails with [ErrStale] when the
	// user has moved to another generation since.
	Generation uint64
	// MaxSessions caps the user's sessions: when this one would make more
	// than MaxSessions, the oldest (earliest absolute expiry) are revoked
	// in the same atomic step, and CreateSession reports their IDs. Zero
	// means no cap.
	MaxSessions int
}

// Session is a live server-side session, as read back from a store.
type Session struct {
	// ID is the digest of the session secret.
	ID Digest
	// Username is the owner.
	Username string
	// Roles are the owner's roles at the time of the read, so role changes
	// take effect on the next request.
	Roles []string
	// CreatedAt is when the session was created.
	CreatedAt time.Time
	// LastSeen is the last recorded use of the session: its creation, a
	// refresh, or a read that [SessionStore.Session] recorded. It may lag
	// the latest read by up to the store's touch interval.
	LastSeen time.Time
	// IdleTimeout is the session's idle limit.
	IdleTimeout time.Duration
	// ExpiresAt is the session's absolute end.
	ExpiresAt time.Time
	// Generation is the [SessionSpec.Generation] the session was created
	// in. A caller whose users live in a separate [UserSource] compares
	// it with the user's current [User.Generation]: a session of an older
	// generation has ended (password change, disable, log out everywhere).
	// A store configured for external users must report it; one that
	// keeps its users ends such sessions itself and may report zero
	// (redisstore does, to keep its per-request read to one field).
	Generation uint64
	// Retried is set only by [RefreshStore.RotateRefresh]: this call was
	// a retry, within the grace period, of the token that the session's
	// last rotation replaced, so nothing rotated (see [Rotation.Grace]).
	Retried bool
	// RotatedBy is set with Retried: the [Rotation.Client] recorded by the
	// rotation being retried, so that a caller can compare it with the
	// retry's. Empty when that rotation gave none.
	RotatedBy string
}

// UserSource finds users: what a login, an HTTP Basic request and the
// per-request session check need from a user directory. It is the one
// required method of a user backend; an application whose users live in
// its own tables implements it in a few lines, or uses
// store/sqlstore.
//
// User reports a missing user, and a username that fails
// [ValidateUsername], with an error wrapping [ErrNotFound]; any other
// error is an infrastructure failure. The returned user's Generation
// must change whenever its password hash changes or it is disabled (see
// [User.Generation]), and never go back.
type UserSource interface {
	// User returns the user called username, which is in canonical form
	// (see [CanonicalUsername]).
	User(ctx context.Context, username string) (User, error)
}

// PasswordRehasher is an optional capability of a [UserSource]: a login
// that verified a password against a weaker hash stores a stronger one.
// A source without it keeps its hashes as they are.
type PasswordRehasher interface {
	// RehashPassword replaces the user's password hash with a stronger
	// encoding of the same password, only while the stored hash is still
	// old and the user's generation is still gen; it changes neither the
	// generation nor any session. It reports whether it replaced the hash.
	// A login uses it after verifying the password against old.
	RehashPassword(ctx context.Context, username string, gen uint64, old, hash []byte) (bool, error)
}

// UserStore keeps user accounts: a [UserSource] that can also create and
// change them.
//
// Every method reports a missing user with an error wrapping [ErrNotFound]
// and an invalid argument with one wrapping [ErrInvalid]; any other error
// is an infrastructure failure.
//
// A username that fails [ValidateUsername] can never belong to a user.
// CreateUser rejects it with [ErrInvalid]; User, SetPasswordHash, SetRoles
// and SetDisabled report it as a missing user, [ErrNotFound], like any
// other unknown name.
type UserStore interface {
	UserSource
	PasswordRehasher
	// CreateUser adds u. It fails with [ErrExists] when the username is
	// taken. CreatedAt is set by the store.
	CreateUser(ctx context.Context, u User) error
	// SetPasswordHash replaces the user's password hash and, in the same
	// atomic step, moves the user to a new generation, which ends every
	// session of the user and every login in flight.
	SetPasswordHash(ctx context.Context, username string, hash []byte) error
	// SetRoles replaces the user's roles. Live sessions see the new roles
	// on their next read.
	SetRoles(ctx context.Context, username string, roles []string) error
	// SetDisabled disables or re-enables the user. Disabling moves the
	// user to a new generation: its sessions end and are not revived by
	// re-enabling.
	SetDisabled(ctx context.Context, username string, disabled bool) error
}

// SessionStore keeps server-side sessions.
//
// A session is live while its owner exists and is enabled, it has been
// used within its idle timeout, its absolute expiry has not passed, and it
// has not been revoked. A session that is not live reads as [ErrNotFound].
// Expired records must disappear on their own (TTL or sweeping), so the
// store never grows without bound.
//
// A store that also keeps the users (a [Store]) checks the owner itself
// and reads the owner's roles with the session. A store configured for
// external users (redisstore.Options.ExternalUsers,
// memstore.Options.ExternalUsers) keeps sessions of users held in another
// [UserSource]: it knows nothing of the owner, so its sessions carry no
// roles, and the caller checks the owner and its [Session.Generation]
// against that source (ginauth does, on every request). Such a store
// keeps, per user, the highest generation it was given: CreateSession
// with an older one fails with [ErrStale], and one with a newer one ends
// the user's sessions of older generations.
//
// A store may offer, as an option its user turns on, to answer reads from
// a cache local to the process; then a revocation or a role change made
// through another process takes effect there after a short delay that
// the store documents (see redisstore.LocalCacheOptions). Without such
// an option every change is seen by the next read.
//
// A username that fails [ValidateUsername] has no sessions: CreateSession
// rejects it with [ErrInvalid], but Session reports [ErrNotFound],
// and RevokeSession and RevokeAll return nil.
type SessionStore interface {
	// CreateSession stores a new session. It fails with [ErrNotFound] when
	// the user is absent or disabled, with [ErrStale] when the user's
	// generation is no longer s.Generation, with [ErrExists] when a live
	// session already has the ID, and with [ErrInvalid] for a bad argument
	// (malformed username, zero ID or refresh digest, non-positive idle
	// timeout, expiry not in the future, negative MaxSessions).
	//
	// evicted lists the IDs of the live sessions that s.MaxSessions ended
	// in the same atomic step, oldest first (the order in which the cap
	// chose them: earliest absolute expiry, ties by ID); it is nil when
	// the cap ended none, and always nil with an error. Sessions that were
	// already over and only swept away are not in it.
	CreateSession(ctx context.Context, s SessionSpec) (evicted []Digest, err error)
	// Session returns the live session id of username together with the
	// user's current roles, and records the use. A store may record a use
	// only when the last recorded one is older than its touch interval, a
	// bound of its own (at most a minute by default for redisstore,
	// zero for memstore): LastSeen then lags the read by less than that
	// interval, and the idle timeout runs from LastSeen, so a session may
	// end up to one touch interval before IdleTimeout after its latest
	// read. No touch interval exceeds half the session's idle timeout, so
	// a session in steady use never ends, and with its default options a
	// store records every read whose last recorded use is at least a
	// minute old. A backend on a network reads in one round trip and
	// writes only to record a use.
	Session(ctx context.Context, username string, id Digest) (Session, error)
	// PeekSession is Session without the use: it changes nothing, neither
	// the last use nor any expiry. It serves checks that must not keep a
	// session alive, such as looking at the session of an expired token.
	PeekSession(ctx context.Context, username string, id Digest) (Session, error)
	// RevokeSession ends one session. Revoking an absent session is not an
	// error.
	RevokeSession(ctx context.Context, username string, id Digest) error
	// RevokeAll ends every session of the user ("log out everywhere").
	// A user with no sessions is not an error.
	RevokeAll(ctx context.Context, username string) error
}

// Rotation is one refresh-token rotation request.
type Rotation struct {
	// Old is the digest of the presented refresh token.
	Old Digest
	// Seq is the presented token's place in its session's chain: 0 for the
	// token issued at login, n+1 for the successor of token n. The caller
	// must have authenticated it (ginauth signs it into the token), since
	// a Seq below the session's current one is taken as proof of reuse.
	Seq uint64
	// Next is the digest of the successor token. It must not be zero nor
	// equal Old.
	Next Digest
	// Grace is how long after a rotation the previous token still
	// rotates, to the same successor only. Zero disables it.
	Grace time.Duration
	// Client is the address of the client presenting Old, at most
	// [MaxClientLen] bytes (longer fails with [ErrInvalid]; a caller with
	// a longer one shortens it). The rotation that makes Next current
	// records it with the session, replacing the previous rotation's, and
	// a retry within Grace reports it as [Session.RotatedBy]. Empty
	// records none. A retry does not record its own.
	Client string
}

// MaxClientLen is the longest [Rotation.Client] a [RefreshStore]
// accepts, in bytes: room for any IPv6 address with a zone.
const MaxClientLen = 64

// RefreshStore rotates refresh tokens.
//
// A session keeps a constant amount of rotation state whatever the number
// of rotations: its current digest and sequence number, the previous
// digest, the time of the last rotation and the client address it
// recorded.
//
// The refresh path decides how fast a service recovers from an outage,
// when every client refreshes at once: a backend on a network should
// rotate in one round trip and return the owner's roles with the session,
// as redisstore does, so that a caller whose users live in the same
// backend reads nothing else.
type RefreshStore interface {
	// RotateRefresh marks the session as used now and, in one atomic step:
	//
	//   - when r.Old is the current digest, makes r.Next current (its
	//     sequence number one more than before);
	//   - when r.Old is the digest current just before, r.Next is the
	//     digest current now and less than r.Grace has passed since that
	//     rotation, changes nothing else: a retry, or a concurrent refresh,
	//     that derived the same successor (RFC 9700 §4.14.2 allows the
	//     grace). The session returned then has Retried set and, in
	//     RotatedBy, the Client of the rotation retried;
	//   - otherwise, when r.Seq is below the current sequence number, the
	//     token is one this session already rotated away: it was replayed,
	//     which means it was stolen or copied, so the whole session is
	//     revoked and the error wraps [ErrReused];
	//   - otherwise r.Old was never issued for this session: the error
	//     wraps [ErrNotFound] and nothing changes.
	//
	// A session that is not live, or a malformed username, is
	// [ErrNotFound]. Of any number of concurrent calls with the same r.Old
	// and different r.Next, exactly one succeeds. A zero r.Next, one equal
	// to r.Old, a negative r.Grace, or an r.Client longer than
	// [MaxClientLen] fails with [ErrInvalid]. Retried and RotatedBy are
	// set only in the returned session; no other method reports them.
	RotateRefresh(ctx context.Context, username string, id Digest, r Rotation) (Session, error)
}

// Attempt is the state of one failure counter of an [AttemptStore].
type Attempt struct {
	// Failures is the number of failures counted since the counter was
	// created; 0 for an absent or expired counter.
	Failures int
	// Last is the time of the latest failure; zero when Failures is 0.
	Last time.Time
	// Pending is the number of attempts begun on the counter and not yet
	// ended (see [AttemptStore.BeginAttempt]), not counting the caller's
	// own.
	Pending int
}

// MaxAttemptKeyLen is the longest key an [AttemptStore] accepts, in bytes.
const MaxAttemptKeyLen = 512

// MaxAttemptIDLen is the longest attempt id an [AttemptStore] accepts.
const MaxAttemptIDLen = 64

// AttemptStore counts failed password checks, for throttling. Keys are
// opaque strings chosen by the caller (such as "pair:alice|192.0.2.1"), 1
// to [MaxAttemptKeyLen] bytes of any content; a backend hashes or escapes
// them as it needs. Each counter lives in its own key and expires by
// itself, so a network backend can spread counters over a cluster.
//
// An attempt is counted before its work, in two steps: BeginAttempt
// registers it as pending, which other callers see at once, so that of
// many attempts made at the same time no more start than a limit allows;
// EndAttempt then counts it as a failure or lets it leave no trace at
// all. A pending attempt never changes Failures, Last or the counter's
// expiry, so an attempt that succeeds (or is refused, or times out)
// cannot extend a lock or a counter's life.
type AttemptStore interface {
	// Attempts reads the counters of keys, in order, without changing
	// them. Absent or expired counters read as the zero Attempt.
	Attempts(ctx context.Context, keys ...string) ([]Attempt, error)
	// BeginAttempt registers the attempt id (1 to [MaxAttemptIDLen]
	// bytes, unique per attempt) as pending on each counter of keys until
	// EndAttempt or deadline, whichever comes first: an attempt whose
	// process died stops counting at its deadline. It returns each
	// counter as it was just before, so Pending excludes this attempt.
	// Each counter changes atomically; a backend on a network makes one
	// round trip.
	BeginAttempt(ctx context.Context, id string, deadline time.Time, keys ...string) ([]Attempt, error)
	// EndAttempt ends the attempt id on each counter of keys. With failed,
	// it adds one failure, stamped with the store's time, and makes the
	// counter expire ttl after it (also when the attempt was no longer
	// pending: a failure found late still counts); without, the counter
	// is left exactly as it would be had the attempt never begun. One
	// round trip, like BeginAttempt. An id that is not pending is
	// remembered for ttl (at least a millisecond): a BeginAttempt of it
	// that arrives later, as when the two cross on a network after a
	// timeout, registers nothing.
	EndAttempt(ctx context.Context, id string, failed bool, ttl time.Duration, keys ...string) ([]Attempt, error)
	// ResetAttempts deletes the counters of keys, pending attempts
	// included. Absent counters are not an error.
	ResetAttempts(ctx context.Context, keys ...string) error
}

// Device is a known client of a user: the digest of a device credential
// that a successful login handed out (see [DeviceStore]).
type Device struct {
	// ID is the digest of the device credential's secret.
	ID Digest
	// CreatedAt is when the login that issued it succeeded.
	CreatedAt time.Time
	// ExpiresAt ends the device whatever its use.
	ExpiresAt time.Time
}

// DeviceStore keeps the known clients of users (OWASP's device cookies):
// a client that once logged in with the right password presents its
// device credential on later logins, which are then spared the lock-outs
// that strangers' failures cause. It is an optional capability of a
// [SessionBackend]; redisstore and memstore have it.
//
// Absent and expired devices read as [ErrNotFound]; any other error is an
// infrastructure failure. A username that fails [ValidateUsername] has no
// devices.
type DeviceStore interface {
	// AddDevice records d for username, keeping at most max devices per
	// user: the oldest (earliest CreatedAt) beyond that are removed in the
	// same atomic step. ExpiresAt must be after CreatedAt and max at least
	// one, or the error wraps [ErrInvalid]. The user need not exist in
	// the store.
	AddDevice(ctx context.Context, username string, d Device, max int) error
	// Device returns the live device id of username.
	Device(ctx context.Context, username string, id Digest) (Device, error)
	// RevokeDevice removes one device; an absent one is not an error.
	RevokeDevice(ctx context.Context, username string, id Digest) error
	// RevokeDevices removes every device of the user.
	RevokeDevices(ctx context.Context, username string) error
}

// SessionLister is an optional capability of a [SessionStore]: listing a
// user's sessions, for an account page or an administrator.
type SessionLister interface {
	// Sessions lists the user's live sessions, oldest first, ties by ID
	// (see [SortSessions]). An unknown user has none. A username that
	// fails [ValidateUsername] has none either.
	Sessions(ctx context.Context, username string) ([]Session, error)
}

// Pinger is implemented by stores that can report whether their backend
// answers; health checks use it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// SessionBackend is what ginauth needs from the backend that keeps
// sessions: sessions, refresh-token rotation and attempt counters. Users
// may live elsewhere, in any [UserSource].
type SessionBackend interface {
	SessionStore
	RefreshStore
	AttemptStore
}

// Store is a backend that keeps everything, users included, with every
// optional capability: redisstore and memstore are Stores.
type Store interface {
	UserStore
	SessionBackend
	SessionLister
	DeviceStore
	Pinger
}
