package store

import "errors"

// Sentinel errors. Backends wrap them with context; check them with
// [errors.Is]. Any error that wraps none of them is an infrastructure
// failure.
var (
	// ErrNotFound reports a record that is absent, expired or revoked.
	ErrNotFound = errors.New("store: not found")
	// ErrExists reports a user that already exists, or a live session
	// whose ID is already in use.
	ErrExists = errors.New("store: already exists")
	// ErrReused reports a refresh token presented after it was rotated;
	// the session has been revoked.
	ErrReused = errors.New("store: refresh token reused")
	// ErrStale reports a session created against a user generation that is
	// no longer current: the password changed, the user was disabled or
	// all sessions were revoked while the login was in flight.
	ErrStale = errors.New("store: user changed since it was read")
	// ErrInvalid reports an argument that can never be stored, such as a
	// malformed username given to CreateUser or CreateSession. Lookups and
	// updates read a malformed username as an unknown user instead: see
	// [UserStore] and [SessionStore].
	ErrInvalid = errors.New("store: invalid argument")
)
