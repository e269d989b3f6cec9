// Package ginauth is authkit's Gin middleware: it authenticates requests
// (Bearer access tokens, HTTP Basic, a browser session cookie), enforces
// the rule each route is registered with, and serves login, refresh and
// logout.
//
// Checking and enforcing are separate: [Auth.Authenticate] checks a
// credential and records the [Principal] (read it with [PrincipalFrom]);
// [Auth.Required] and [Auth.RequireRoles] enforce. Routes are registered
// through [Auth.Router] with a [Rule] — [Open], [SignedIn], [AnyRole] or
// [AllRoles] — which the router enforces and records, so that
// [Router.Routes] lists what each route requires and [Router.Check]
// catches a route registered on gin directly.
//
// # The status contract
//
// Exactly one function maps failures to responses, from one table; each
// response can be adjusted through Config.ErrorHandler:
//
//   - 401 authentication_required: no credentials (or only an unknown
//     scheme); WWW-Authenticate lists every enabled scheme.
//   - 400 invalid_request: a credential that cannot be parsed.
//   - 401 invalid_token: bad signature, issuer, audience, garbage; or the
//     session is revoked, logged out, or its user disabled.
//   - 401 token_expired: the access token expired less than
//     Config.ExpiredTokenWindow ago and its session is alive (looked at
//     without touching it); the client should refresh.
//   - 401 invalid_credentials: wrong username or password, never saying
//     which.
//   - 401 invalid_grant: refresh token unknown, expired, forged or reused.
//   - 429 too_many_attempts, with Retry-After: too many failed password
//     checks for the account and address, the address or the account,
//     or too many checks of one address at once (see [Throttle]); the
//     same for existing and unknown accounts. A known client (one that
//     presents the device credential of an earlier login) is held only
//     to its device's own budget.
//   - 413 invalid_request: a login or refresh body over 8 KiB.
//   - 403 forbidden: authenticated but missing a role; the challenge says
//     insufficient_scope without naming roles.
//   - 403 csrf_failed: cookie-authenticated unsafe request without the CSRF
//     token.
//   - 503 unavailable, with Retry-After: the store did not answer within
//     Config.StoreTimeout, or every password-check slot stayed busy with
//     other clients for Config.Throttle.PasswordWait (the attempt is not counted).
//     Never 200, never 401.
//
// Bodies are always {"error": code, "message": friendly text}.
//
// # Passwords and accounts
//
// Users, passwords and their policy belong to package accounts, which
// needs no HTTP machinery: Config.Accounts is the accounts.Manager logins
// are checked with ([Auth.Accounts] returns it), by default one on the
// Store at bcrypt cost 12. Every decision is also an audit.Event
// (Config.Audit).
//
// # Sessions are authoritative
//
// By default every authenticated request checks its session in the store
// (one Redis round trip) and takes the roles from it, so logout, "log out
// everywhere", disabling a user and role changes take effect at once.
// Config.Stateless trades that for zero round trips.
package ginauth
