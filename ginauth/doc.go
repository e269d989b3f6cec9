// Package ginauth is authkit's Gin middleware: it authenticates requests
// (Bearer access tokens, HTTP Basic, a browser session cookie), enforces
// the rule each route is registered with, and serves login, refresh and
// logout.
//
// Checking and enforcing are separate: [Auth.Authenticate] checks a
// credential and records the [Principal] (read it with [PrincipalFrom]);
// [Auth.Required] and [Auth.RequireRoles] enforce. Routes are registered
// through [Auth.Router] with a [Rule] — [Open], [SignedIn], [AnyRole] or
// [AllRoles], each of which [Rule.WithMFA] can make require a second
// factor — which the router enforces and records, so that
// [Router.Routes] lists what each route requires and [Router.Check]
// catches a route registered on gin directly. Below the HTTP layer the
// principal is [PrincipalFromContext]; there are no string keys and no
// MustGet. Treat the principal, its roles included, as read-only.
//
// # The status contract
//
// Exactly one function maps failures to responses, from one table in
// errors.go (with OAuth columns for [Auth.TokenHandler]). Every case below
// is tested over HTTP through a real Gin engine and the test Redis
// (contract_test.go, hardening_test.go, infra_test.go), and again end to
// end against the demo binary (demo/e2e_test.go). A challenge is a
// WWW-Authenticate header, one per enabled scheme, such as
// Bearer realm="..." and Basic realm="...", charset="UTF-8".
//
//   - 401 authentication_required, with the challenges: no credentials on
//     a protected route, or only an unknown scheme.
//   - 400 invalid_request, with Bearer realm="...", error="invalid_request":
//     an Authorization header that cannot be parsed (empty token, bad
//     base64, two tokens, two headers), or one over 8 KiB.
//   - 400 invalid_request, no challenge: a malformed login or refresh body
//     (not Content-Type: application/json, not one JSON object, a field
//     missing, a member sent twice or a case variant of a known one such
//     as "Username"), or an unsafe request a browser marks
//     Sec-Fetch-Site: cross-site.
//   - 413 invalid_request: a login or refresh body over 8 KiB, from
//     Content-Length before reading, or while reading.
//   - 401 invalid_token, with Bearer realm="...", error="invalid_token":
//     bad signature, wrong alg, iss, aud or kid, garbage; an access token
//     that expired longer than Config.Refresh.ExpiredTokenWindow ago (no store
//     lookup); a session revoked, logged out, idle or past its lifetime,
//     its user disabled or its password changed. The client logs in
//     again.
//   - 401 token_expired, with the same challenge: the access token
//     expired less than Config.Refresh.ExpiredTokenWindow (1 h) ago and its
//     session is alive (looked at without touching it); the client should
//     refresh.
//   - 401 invalid_credentials, with the challenges: wrong password or
//     unknown user at login or over HTTP Basic, identical for both.
//   - 401 invalid_grant, with Bearer realm="...", error="invalid_token"
//     and the other schemes' challenges: a refresh token unknown,
//     expired, forged or reused; an MFA ticket unknown, expired, used, or
//     whose user changed password or was disabled since (log in again).
//   - 401 mfa_required, with the challenges: the password was right, but
//     the user has a second factor. The body also carries "mfa_ticket",
//     "methods" (of "totp", "recovery_code", "passkey") and "expires_in"
//     (see Second factors below); over HTTP Basic, which cannot go on,
//     there is no ticket. The OAuth password grant answers 400
//     invalid_grant, as RFC 6749 §5.2 has it.
//   - 401 invalid_code, with the challenges: a wrong, replayed or used
//     TOTP or recovery code for a live ticket (or at enrolment or
//     disable); the ticket stays usable.
//   - 429 too_many_attempts, with Retry-After (the seconds until the lock
//     ends): too many failed password checks (login or Basic) for the
//     account and address, the address or the account, the same for
//     existing and unknown accounts; checked before any hashing or
//     waiting. A known client (one that presents the device credential of
//     an earlier login) is held only to its device's own budget; see
//     [Throttle].
//   - 429 too_many_attempts, with Retry-After: 1: more than
//     Throttle.AddressConcurrency password checks of one address waiting
//     or running at once (audit reason address_concurrency). A request
//     over any limit is refused before it waits, so a burst from one
//     address gets 401 up to its limits and 429 after, never 503.
//   - 429 too_many_attempts, with Retry-After: wrong second-factor codes
//     past 5 for one ticket or 20 for one account (then locked as
//     [Throttle]'s locks, doubling up to its Window), right code or not.
//   - 401 step_up_required, with the challenges, the Bearer one as RFC
//     9470 §3 gives it: Bearer realm="...",
//     error="insufficient_user_authentication", error_description="...",
//     acr_values="urn:authkit:acr:mfa" and, when the rule has a maximum
//     age, max_age=<seconds>: authenticated, but the route's rule
//     ([Rule.WithMFA], [Auth.RequireMFA]) wants a second factor ("mfa" in
//     the token's amr) that the caller did not use, or used longer ago
//     than the maximum age (the token's auth_time, or the cookie's). HTTP
//     Basic never meets it. The client signs in again with the second
//     factor. It comes before roles: a caller who lacks both gets
//     this 401, not 403.
//   - 403 forbidden, with Bearer realm="...", error="insufficient_scope"
//     (roles are not named): authenticated, any step-up requirement met,
//     but missing a role.
//   - 403 csrf_failed: an unsafe request authenticated by the cookie
//     without a valid CSRF token, or a cookie or Basic credential on an
//     unsafe request a browser marks cross-site.
//   - 503 unavailable, with Retry-After (Config.RetryAfter): the store or
//     the user source failed or did not answer within Config.StoreTimeout,
//     or every password-check slot stayed busy with other clients for
//     Config.Throttle.PasswordWait (audit reason password_slots_busy; the
//     attempt is not counted). Never 200, never 401.
//
// Every error body is exactly {"error": code, "message": friendly text}
// (mfa_required's adds its ticket),
// such as {"error":"forbidden","message":"Access denied – contact your
// administrator"}, with Cache-Control: no-store: no internal detail, no
// hint whether the username exists or which part of a credential failed.
// Unknown user, wrong password, disabled user and unacceptable passwords
// at login all run the same hashing work (against a stand-in hash when
// there is no usable one) and get the same response.
//
// Logout ([Auth.LogoutHandler]) answers 204 again for a session that is
// already gone, for an expired access token of it and for HTTP Basic
// (which has no session to end); it needs a credential of ours (401
// without one, or with a forged token).
//
// To change the responses, set Config.ErrorHandler: it receives the
// [*Error] (status, code, message, headers, and the cause for your logs)
// before it is written, and may edit it or write its own response.
// [Auth.Fail] answers an application's own checks the same way.
//
// # Passwords and accounts
//
// Users, passwords and their policy belong to package accounts, which
// needs no HTTP machinery: Config.Accounts is the accounts.Manager logins
// are checked with ([Auth.Accounts] returns it), by default one on the
// Store at bcrypt cost 12. Every decision is also an audit.Event
// (Config.Audit).
//
// # Metrics and traces
//
// Config.Observer (package observe) is told of every authentication,
// login, refresh, logout, store call and password check with its outcome,
// and of every audit event; telemetry/authprom turns them into Prometheus
// metrics and telemetry/authotel into OpenTelemetry spans, in packages of
// their own so that an application without them imports neither.
// [Auth.PasswordSlots] feeds the gauges of the hashing slots. Unset, the
// Observer costs one nil check per operation.
//
// # Sessions are authoritative
//
// By default every authenticated request checks its session in the store
// (one Redis round trip) and takes the roles from it, so logout, "log out
// everywhere", disabling a user and role changes take effect at once.
// Config.Stateless trades that for zero round trips. Anonymous and invalid
// requests send nothing to the store.
//
// # Route rules
//
// A group's rule adds up with its routes' rules: the group's check runs
// first, so role clauses of both must hold, a second factor is needed if
// either asks for one, within the shorter of their maximum ages, and an
// open route inside a group that requires sign-in is not open (it is
// logged as a warning when registered, and [Router.Check] reports it).
//
// # Second factors
//
// With accounts.Config.TOTP (package mfa) and accounts.Config.Passkeys
// (package passkey), a user who has confirmed a TOTP factor or
// registered a passkey no longer logs in with the password alone: the
// login answers 401 mfa_required with a single-use ticket (kept in the
// Store's store.ChallengeStore for 5 minutes), and the login completes
// at [Auth.MFAHandler] with a TOTP or recovery code, or with the ticket's
// user's passkey ([Auth.MountPasskeys]). A passkey also signs in alone.
// [Auth.MountTOTP] and [Auth.MountPasskeys] mount the routes that enrol,
// confirm, list and remove factors; removing one ends the user's other
// sessions. Once a user has a factor, adding or removing one needs a
// session that used one (step-up), and API keys and OAuth clients never
// manage factors (403). HTTP Basic and the OAuth password grant cannot carry a
// second factor and are refused for such users.
//
// # Step-up
//
// Access tokens say how and when their user authenticated: amr (RFC
// 8176) and auth_time, which [Principal] exposes as AMR and AuthTime. A
// password login writes ["pwd"]; one completed with a code ["pwd", "otp",
// "mfa"], with a passkey ["pwd", "hwk", "mfa"]; a passkey alone ["hwk"],
// and "mfa" too when the authenticator verified the user. auth_time is
// when the login completed. The refresh token and the session cookie
// carry the same under their tag, so refreshed tokens and cookie
// requests keep them. A rule with [Rule.WithMFA] answers 401
// step_up_required (above) to a caller whose amr lacks "mfa" or whose
// auth_time is older than its maximum age; the same holds in stateless
// mode, where it is all in the token. [Auth.Required],
// [Auth.RequireRoles] and [Auth.RequireAllRoles] still work as plain gin
// middleware; only the listing needs the router. Mount the kit's
// endpoints with [Open] (logout too: it authenticates by itself), and
// "log out everywhere" with [SignedIn]. After [Auth.Authenticate], the
// rules' checks only read its result: one store round trip in all,
// however many checks.
//
// # Application claims
//
// accounts.Config.Claims gives each user's access tokens claims of the
// application's own, such as a tenant id or an e-mail address, so that
// handlers need no lookup. It is called at every access-token issue for a
// user (login, a second factor's or a passkey's completion, refresh, the
// OAuth password and refresh_token grants) and read with [Claim]:
//
//	tenant, ok := ginauth.Claim[string](p, "tenant")
//
// They are in the token, so session and stateless mode carry them alike,
// and so does the verifier's cache; the session cookie, HTTP Basic and
// API keys have none. A name among tokens.ReservedClaims, a value that
// does not encode, or an error of the hook fails the issue: 503, logged,
// and no token. At refresh the hook is given the user's name and current
// roles, not the whole record (unless users live apart from sessions),
// and what it returns then replaces what the login's token said. Every
// claim makes every request longer; package tokens documents the sizes.
//
// # Sessions, refresh tokens and cookies
//
// Login creates a session with a fresh 256-bit secret from crypto/rand.
// The access token's sid is the SHA-256 of that secret: the session's
// public handle, useless without the signing key.
//
// The refresh token is opaque: "rt3." + base64url(username) + "." +
// base64url(session handle) + "." + sequence number + "." + 256-bit
// secret + "." + authentication context + "." + 128-bit tag. It names its
// user so the store can find the right cluster slot; only its digest is
// stored. The authentication context is the amr and auth_time that the
// session's access tokens carry (a password login's, or raised by a
// second factor), so a refresh keeps them without another store read.
// The tag, an HMAC under Config.RefreshKey, proves the server issued that
// sequence number and context, so a token with a lower number than the
// session's is proof of reuse, a client cannot raise its own amr, and a
// forged token never reaches the store. The login's token has a random
// secret; each successor's is an HMAC of the token it replaces (up to
// its secret), which is how a retry within Config.RefreshGrace gets the same successor and the
// chain never forks. Any other reuse revokes the session (RFC 9700
// §4.14.2). The trade-off: a thief who replays a stolen token within the
// grace period gets the same successor as the owner instead of both being
// cut off; after it, one of them presents a rotated token and the session
// ends.
//
// The browser session cookie ([CookieConfig]) holds the username and the
// session secret. It is HttpOnly, SameSite=Lax, and Secure unless the
// request came straight (no Forwarded or X-Forwarded-* headers) to a
// loopback host over plain HTTP (CookieConfig.AlwaysSecure removes that
// exception); a new one is issued at every login. Secure cookies are
// named with the __Host- prefix (__Host-authkit_session,
// __Host-authkit_csrf), which browsers accept only from a secure origin,
// for Path=/ and without Domain, so a sibling subdomain or a network
// attacker on plain HTTP cannot plant one (CookieConfig.NoHostPrefix
// turns it off). They are session cookies, gone when the browser closes;
// CookieConfig.Persist gives them the session's lifetime. Unsafe requests
// (not GET, HEAD, OPTIONS or TRACE) authenticated by the cookie must send
// X-CSRF-Token, equal to an HMAC of the session secret that the server
// recomputes (no storage; it works on every instance); the login response
// and the script-readable authkit_csrf cookie carry it. A client asks for
// the cookie with {"username", "password", "cookie": true} at login.
//
// Login and refresh accept only Content-Type: application/json: an HTML
// form on another site cannot send that without a CORS preflight, so it
// cannot log a visitor in to the attacker's account (login CSRF).
// Sec-Fetch-Site: cross-site on an unsafe request is refused for cookie
// and Basic credentials too, since browsers replay cached Basic
// credentials like cookies; the OAuth form endpoints refuse it as well.
// Login and refresh bodies take exact member names, each once, so
// encoding/json's case folding and last-one-wins never decide who logs
// in; unknown members (such as "grant_type") are ignored.
//
// A password change and disabling a user move the user to a new
// generation in the same atomic step as the change, which ends every
// session and every login in flight: a login verifies the password and
// creates its session against the same generation. Each user keeps at
// most Config.MaxSessionsPerUser sessions; a new login ends the oldest.
//
// # OAuth 2.0 endpoints
//
// [Auth.TokenHandler] (RFC 6749: password, refresh_token and
// client_credentials grants) and [Auth.RevokeHandler] (RFC 7009) serve
// standard OAuth 2.0 clients such as golang.org/x/oauth2. Their requests
// are form-encoded, at most 8 KiB, with no parameter twice; an empty
// parameter counts as absent. A client of Config.Clients, or one
// registered in the Store (store.ClientStore, whose secrets are kept as
// digests), authenticates with HTTP Basic (form-encoded id and secret,
// §2.3.1) or with client_id and client_secret in the body, not both; a
// client without a secret is public and names itself with client_id.
// Their throttling, rotation and audit are those of the JSON endpoints,
// and a refresh chain may move between the two.
//
// # Machines
//
// A service has two ways in. An API key (package apikey,
// accounts.Config.APIKeys) acts as its owner, a user or a service
// account, with the key's roles that the owner still has, in one store
// read per request; [Auth.MountAPIKeys] lets users manage their own. An
// OAuth client uses the client_credentials grant and acts as itself
// ([Principal.ClientID], no Username): in session mode each request
// checks that the client is still registered, so removing it ends its
// tokens at once. Neither meets a step-up rule.
package ginauth
