package ginauth

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Config configures an [Auth]. Zero values mean the defaults stated per
// field; [New] rejects values that would weaken security.
type Config struct {
	// Store keeps sessions, refresh-token state and the throttle's
	// counters. Required. redisstore and memstore keep users too, and
	// then serve as Users as well.
	Store store.SessionBackend
	// Users finds the users that log in: their password hash, roles,
	// disabled flag and generation. Default: Store, when it keeps users.
	//
	// Set it when users live elsewhere, such as in the application's
	// PostgreSQL (store/sqlstore); Store must then be configured for
	// external users (redisstore.Options.ExternalUsers), and every
	// authenticated request reads the user from Users, concurrently with
	// its session, so that a role change, a disable or a password change
	// made there takes effect on the next request. That read is the
	// price of the split: one query per request, waited for beside the
	// session's Redis round trip rather than after it, or none with
	// sqlstore.Cache, which LISTEN/NOTIFY keeps current. A Users that
	// implements store.PasswordRehasher gets stronger hashes stored at
	// login; store.UserStore lets [Accounts] create and change users.
	Users store.UserSource
	// Issuer signs access tokens. Required.
	Issuer *tokens.Issuer
	// Verifier checks access tokens. Required.
	Verifier *tokens.Verifier

	// Realm is named in WWW-Authenticate challenges. Default "authkit".
	Realm string
	// Extractors find credentials in the Authorization header, tried in
	// order: [Bearer] and [Basic]. Default: Bearer only. At least one must
	// have a challenge scheme, so every 401 carries a challenge.
	Extractors []Extractor
	// Cookie turns on the browser session cookie, with CSRF protection on
	// unsafe requests; it is tried after Extractors, and the login handler
	// sets it when asked to. Default nil: no cookie.
	Cookie *CookieConfig

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

	// Hasher writes new password hashes. Default [Bcrypt] at BcryptCost.
	// Hashes in another encoding or cost are re-hashed at the next
	// successful login; see [AccountsConfig].
	Hasher Hasher
	// BcryptCost is the cost of new password hashes when Hasher is unset.
	// Default 12; at least [MinBcryptCost] (10) unless AllowTestCosts.
	BcryptCost int
	// AllowTestCosts allows bcrypt costs below 10. For tests only.
	AllowTestCosts bool
	// Throttle slows down password guessing with 429 answers and spares
	// known clients; see [Throttle] for its defaults, the device
	// credentials and the lock-out trade-off.
	Throttle Throttle
	// ClientAddress returns the client's address, which the throttle
	// counts and audit events record. Default: the peer's address
	// (Request.RemoteAddr), which a client cannot choose. Behind a
	// reverse proxy every client then shares the proxy's address: tell
	// the gin engine which proxies to trust (engine.SetTrustedProxies)
	// and set ClientAddress to [GinClientIP]. Never trust forwarding
	// headers from every peer: each request could then name its own
	// address and escape the per-address limits.
	ClientAddress func(*gin.Context) string
	// MaxSessionsPerUser caps each user's sessions; a login beyond it
	// ends the user's oldest session. Default 100; negative means no cap.
	// It bounds what one password holder can make the store keep.
	MaxSessionsPerUser int

	// ExpiredTokenWindow is how long after its expiry an access token
	// still answers token_expired (when its session is alive, checked
	// without touching the session); past it, invalid_token without a
	// store lookup, so an old token tells its holder nothing about the
	// session. Logout refuses such a token too. Default 1h; negative: an
	// expired token is always invalid_token.
	ExpiredTokenWindow time.Duration
	// RefreshGrace is how long after a rotation the previous refresh token
	// is still answered, with the same successor, so that a retry after a
	// lost response or a 503, or two tabs refreshing at once, converge on
	// one token chain instead of looking like theft. Any other reuse
	// revokes the session. Default 10s; negative disables it.
	RefreshGrace time.Duration
	// RefreshGraceSameClient refuses a grace replay from a different
	// client address: 401 invalid_grant, and the audit event says so
	// (refresh_retried, reason grace_other_client). The session is not
	// revoked. Default false because mobile clients change networks.
	RefreshGraceSameClient bool
	// RefreshKey (at least 32 bytes) signs the sequence number carried in
	// refresh tokens and derives each successor from the token it
	// replaces. Default: derived from the Issuer's signing key, so
	// outstanding refresh tokens stop working when that key changes; set
	// it explicitly to rotate signing keys without logging users out.
	RefreshKey []byte
	// PasswordConcurrency caps the bcrypt comparisons running at once
	// (login and HTTP Basic). Each takes about 250 ms of CPU at cost 12, so
	// without a cap a flood of made-up logins starves every other request.
	// When it is two or more, one slot is kept for known clients (see
	// [Throttle]). Default GOMAXPROCS.
	PasswordConcurrency int
	// PasswordWait is how long a login or Basic request waits for a free
	// comparison slot before it gets 503 with Retry-After. Default 2s.
	PasswordWait time.Duration
	// MinPasswordLength applies when a password is set (not at login).
	// Default 8.
	MinPasswordLength int

	// Clients are the OAuth 2.0 clients allowed at [Auth.TokenHandler] and
	// [Auth.RevokeHandler]; they authenticate with HTTP Basic (RFC 6749
	// §2.3.1) or client_id and client_secret in the body. Default none:
	// client authentication is not required.
	Clients []Client

	// Audit receives every security event: logins, refreshes, reuse,
	// logouts, throttling, and every 401, 403, 429 and 503 with its code.
	// Default: [LogAudit] on Logger.
	Audit func(context.Context, Event)

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
	DefaultMaxSessionsPerUser = 100
	DefaultExpiredTokenWindow = time.Hour
	DefaultRefreshGrace       = 10 * time.Second
)

// GinClientIP is a Config.ClientAddress for applications behind proxies:
// gin's c.ClientIP(), which reads forwarding headers from the peers the
// engine trusts (engine.SetTrustedProxies). gin trusts every peer until
// told otherwise; set trusted proxies before using it.
func GinClientIP(c *gin.Context) string { return c.ClientIP() }

// peerAddress is the default Config.ClientAddress: the address of the
// connection's other end.
func peerAddress(c *gin.Context) string {
	host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
	if err != nil {
		return c.Request.RemoteAddr
	}
	return host
}
