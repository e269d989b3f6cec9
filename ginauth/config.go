package ginauth

import (
	"log/slog"
	"time"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Config configures an [Auth]. Zero values mean the defaults stated per
// field; [New] rejects values that would weaken security.
type Config struct {
	// Store holds users, sessions and refresh tokens. Required.
	Store store.Store
	// Issuer signs access tokens. Required.
	Issuer *tokens.Issuer
	// Verifier checks access tokens. Required.
	Verifier *tokens.Verifier

	// Realm is named in WWW-Authenticate challenges. Default "authkit".
	Realm string
	// Extractors find credentials in requests, tried in order. Default:
	// [Bearer] only. At least one must have a challenge scheme, so every
	// 401 carries a challenge.
	Extractors []Extractor

	// Stateless skips the per-request session check: access tokens are
	// trusted until they expire, with zero store round trips. Logout,
	// disabling a user and role changes then take effect only when the
	// access token expires. Default false: every request checks, in one
	// round trip, that its session is alive and reads the roles from it.
	Stateless bool

	// StoreTimeout bounds every store call made for a request; past it the
	// request gets 503. Default 300ms. With Redis, the client needs
	// ContextTimeoutEnabled (see redisstore.New).
	StoreTimeout time.Duration
	// RetryAfter is sent with 503 responses. Default 5s; rounded up to
	// whole seconds.
	RetryAfter time.Duration

	// SessionIdleTimeout ends a session not used for this long. Default 24h,
	// or SessionLifetime when that is shorter.
	SessionIdleTimeout time.Duration
	// SessionLifetime ends a session (and its refresh tokens) this long
	// after login, whatever its use. Default 720h (30 days).
	SessionLifetime time.Duration

	// BcryptCost is the cost of new password hashes. Default 12; at least
	// bcrypt.MinCost (4), which only tests should use.
	BcryptCost int
	// PasswordConcurrency caps the bcrypt comparisons running at once
	// (login and HTTP Basic). Each takes about 250 ms of CPU at cost 12, so
	// without a cap a flood of made-up logins starves every other request.
	// Default GOMAXPROCS.
	PasswordConcurrency int
	// PasswordWait is how long a login or Basic request waits for a free
	// comparison slot before it gets 503 with Retry-After. Default 2s.
	PasswordWait time.Duration
	// MinPasswordLength applies when a password is set (not at login).
	// Default 8.
	MinPasswordLength int

	// ErrorHandler customises error responses; see [ErrorHandler].
	// Default: the JSON body {"error","message"} with the headers of the
	// status contract.
	ErrorHandler ErrorHandler
	// Logger receives one line per store failure. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for session expiry. Default time.Now. Token expiry
	// uses the clock of Issuer and Verifier.
	Now func() time.Time
}

// Defaults.
const (
	DefaultRealm              = "authkit"
	DefaultStoreTimeout       = 300 * time.Millisecond
	DefaultRetryAfter         = 5 * time.Second
	DefaultSessionIdleTimeout = 24 * time.Hour
	DefaultSessionLifetime    = 720 * time.Hour
	DefaultBcryptCost         = 12
	DefaultMinPasswordLength  = 8
	DefaultPasswordWait       = 2 * time.Second
)
