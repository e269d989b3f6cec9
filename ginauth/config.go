package ginauth

import (
	"log/slog"
	"net"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Config configures an [Auth]. Zero values mean the defaults stated per
// field; [New] rejects values that would weaken security.
type Config struct {
	// Store keeps sessions, refresh-token state, the throttle's counters
	// and, when it implements store.DeviceStore, device credentials.
	// Required. redisstore and memstore keep users too.
	Store store.SessionBackend
	// Accounts checks passwords and owns the users, the password policy
	// and the hasher (see package accounts). Default: an accounts.Manager
	// on Store, which must then keep users, with the default policy
	// (bcrypt cost 12), Audit and Logger.
	//
	// Users may live elsewhere, such as in the application's PostgreSQL
	// (store/sqlstore): build the Manager on them, with Store as its
	// Sessions; Store must then be configured for external users
	// (redisstore.Options.ExternalUsers), and every authenticated request
	// reads the user from the Manager's Users, concurrently with its
	// session, so that a role change, a disable or a password change made
	// there takes effect on the next request. That read is the price of
	// the split: one query per request, waited for beside the session's
	// Redis round trip rather than after it, or none with sqlstore.Cache,
	// which LISTEN/NOTIFY keeps current.
	Accounts *accounts.Manager
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

	// Sessions bounds sessions; see [SessionConfig].
	Sessions SessionConfig
	// Refresh configures refresh-token rotation; see [RefreshConfig].
	Refresh RefreshConfig
	// Throttle slows down password guessing with 429 answers, bounds the
	// password checks running at once and spares known clients; see
	// [Throttle] for its defaults, the device credentials and the
	// lock-out trade-off.
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

	// Clients are the OAuth 2.0 clients allowed at [Auth.TokenHandler] and
	// [Auth.RevokeHandler], beside those registered in the Store when it
	// is a store.ClientStore; they authenticate with HTTP Basic (RFC 6749
	// §2.3.1) or client_id and client_secret in the body. Default none:
	// client authentication is not required, but for client_credentials.
	Clients []Client

	// Audit receives every security event: logins, refreshes, reuse,
	// logouts, throttling, device credentials, and every 401, 403, 429
	// and 503 with its code. Default: audit.Log on Logger. Give a Manager
	// built for Accounts the same hook for account events.
	Audit audit.Hook
	// Observer is told of every authentication, login, refresh, logout,
	// store call and password check, with its outcome, for metrics and
	// traces (see package observe; telemetry/authprom and
	// telemetry/authotel implement it); when it also implements
	// observe.EventObserver it receives every audit event too. Default
	// nil: nothing is observed, at the cost of one nil check.
	Observer observe.Observer
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

// SessionConfig bounds sessions. Zero values mean the defaults stated per
// field.
type SessionConfig struct {
	// IdleTimeout ends a session not used for this long. Default 24h, or
	// Lifetime when that is shorter.
	IdleTimeout time.Duration
	// Lifetime ends a session (and its refresh tokens) this long after
	// login, whatever its use. Default 720h (30 days).
	Lifetime time.Duration
	// MaxPerUser caps each user's sessions; a login beyond it ends the
	// user's oldest session (audited as session_evicted). Default 100;
	// negative means no cap. It bounds what one password holder can make
	// the store keep.
	MaxPerUser int
}

// RefreshConfig configures refresh-token rotation. Zero values mean the
// defaults stated per field.
type RefreshConfig struct {
	// Grace is how long after a rotation the previous refresh token is
	// still answered, with the same successor, so that a retry after a
	// lost response or a 503, or two tabs refreshing at once, converge on
	// one token chain instead of looking like theft (audited as
	// refresh_retried). Any other reuse revokes the session. Default 10s;
	// negative disables it.
	Grace time.Duration
	// SameClient refuses a grace replay from a different client address:
	// 401 invalid_grant, and the audit event says so (refresh_retried,
	// reason grace_other_client). The session is not revoked. Default
	// false because mobile clients change networks.
	SameClient bool
	// Key (at least 32 bytes) signs the sequence number carried in
	// refresh tokens and derives each successor from the token it
	// replaces, and keys device credentials. Default: derived from the
	// Issuer's signing key, so outstanding refresh tokens and device
	// credentials stop working when that key changes; set it explicitly
	// to rotate signing keys without logging users out.
	Key []byte
	// ExpiredTokenWindow is how long after its expiry an access token
	// still answers token_expired, the answer that tells a client to
	// refresh (when its session is alive, checked without touching the
	// session); past it, invalid_token without a store lookup, so an old
	// token tells its holder nothing about the session. Logout and
	// revocation refuse such a token too. Default 1h; negative: an
	// expired token is always invalid_token.
	ExpiredTokenWindow time.Duration
}

// Defaults.
const (
	defaultRealm              = "authkit"
	defaultStoreTimeout       = 300 * time.Millisecond
	defaultRetryAfter         = 5 * time.Second
	defaultSessionIdleTimeout = 24 * time.Hour
	defaultSessionLifetime    = 720 * time.Hour
	defaultPasswordWait       = 2 * time.Second
	defaultMaxSessionsPerUser = 100
	defaultExpiredTokenWindow = time.Hour
	defaultRefreshGrace       = 10 * time.Second
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
