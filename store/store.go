package store

import (
	"context"
	"time"
)

// User is an account that can log in.
type User struct {
	// Username identifies the user; see [ValidateUsername] for its syntax.
	Username string
	// PasswordHash is the bcrypt hash of the password.
	PasswordHash []byte
	// Roles are the user's role names, in no particular order.
	Roles []string
	// Disabled users cannot log in, and their sessions stop working at once.
	Disabled bool
	// CreatedAt is set by the store when the user is created.
	CreatedAt time.Time
}

// NewSession is what a caller supplies to create a session.
type NewSession struct {
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
	// LastSeen is the last time the session was read or refreshed.
	LastSeen time.Time
	// IdleTimeout is the session's idle limit.
	IdleTimeout time.Duration
	// ExpiresAt is the session's absolute end.
	ExpiresAt time.Time
}

// UserStore keeps user accounts.
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
	// CreateUser adds u. It fails with [ErrExists] when the username is
	// taken. CreatedAt is set by the store.
	CreateUser(ctx context.Context, u User) error
	// User returns the user called username.
	User(ctx context.Context, username string) (User, error)
	// SetPasswordHash replaces the user's bcrypt hash.
	SetPasswordHash(ctx context.Context, username string, hash []byte) error
	// SetRoles replaces the user's roles. Live sessions see the new roles
	// on their next read.
	SetRoles(ctx context.Context, username string, roles []string) error
	// SetDisabled disables or re-enables the user. While disabled, the
	// user's sessions read as not found and cannot be refreshed.
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
// A username that fails [ValidateUsername] has no sessions: CreateSession
// rejects it with [ErrInvalid], but Session reports [ErrNotFound],
// Sessions returns none, and RevokeSession and RevokeAll return nil.
type SessionStore interface {
	// CreateSession stores a new session. It fails with [ErrNotFound] when
	// the user is absent or disabled, with [ErrExists] when a live session
	// already has the ID, and with [ErrInvalid] for a bad argument
	// (malformed username, zero ID or refresh digest, non-positive idle
	// timeout, expiry not in the future).
	CreateSession(ctx context.Context, s NewSession) error
	// Session returns the live session id of username together with the
	// user's current roles, and marks it as used now. A backend on a
	// network does this in one round trip.
	Session(ctx context.Context, username string, id Digest) (Session, error)
	// Sessions lists the user's live sessions, oldest first, ties by ID
	// (see [SortSessions]). An unknown user has none.
	Sessions(ctx context.Context, username string) ([]Session, error)
	// RevokeSession ends one session. Revoking an absent session is not an
	// error.
	RevokeSession(ctx context.Context, username string, id Digest) error
	// RevokeAll ends every session of the user ("log out everywhere").
	// A user with no sessions is not an error.
	RevokeAll(ctx context.Context, username string) error
}

// RefreshStore rotates refresh tokens.
type RefreshStore interface {
	// RotateRefresh atomically replaces the session's current refresh
	// digest old with next and marks the session as used now.
	//
	// When old is a digest that this session already rotated away, the
	// token has been replayed, which means it was stolen or copied: the
	// whole session is revoked and the error wraps [ErrReused]
	// (RFC 9700 §4.14.2). When the session is not live, or old was never
	// issued for it, the error wraps [ErrNotFound], as it does for a
	// malformed username. Of any number of concurrent calls with the same
	// old digest, exactly one succeeds. A next digest that is zero or
	// equals old fails with [ErrInvalid].
	RotateRefresh(ctx context.Context, username string, id Digest, old, next Digest) (Session, error)
}

// Pinger is implemented by stores that can report whether their backend
// answers; health checks use it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Store is everything authkit needs from a backend.
type Store interface {
	UserStore
	SessionStore
	RefreshStore
	Pinger
}
