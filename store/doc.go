// Package store defines the state behind authkit — users, sessions and
// refresh tokens — as small interfaces, one per concern, with the record
// types and sentinel errors every backend shares.
//
// Backends live in subpackages: [github.com/gin-authkit/authkit/store/redisstore]
// for production (single Redis, Cluster or Sentinel through go-redis's
// UniversalClient) and [github.com/gin-authkit/authkit/store/memstore] for
// tests and single-process demos. Both pass the same contract suite,
// [github.com/gin-authkit/authkit/store/storetest].
//
// # Interfaces and optional capabilities
//
// One small interface per concern; a backend implements what it can, and
// authkit finds the optional parts by type assertion (as scs does with
// IterableStore):
//
//   - [UserSource] (User): where users are found; accounts.Config.Users
//     (logins, Basic, the per-request owner check).
//   - [PasswordRehasher] (RehashPassword), optional: weaker hashes are
//     replaced at login only if the user source has it.
//   - [UserStore] (UserSource, PasswordRehasher, CreateUser,
//     SetPasswordHash, SetRoles, SetDisabled), optional: creating and
//     changing users (accounts.Manager) needs it (else an error wrapping
//     [errors.ErrUnsupported]).
//   - [SessionStore], [RefreshStore] and [AttemptStore], together
//     [SessionBackend]: sessions, refresh rotation and throttle counters;
//     ginauth.Config.Store.
//   - [SessionLister] (Sessions), optional: listing a user's sessions (the
//     demo's CLI).
//   - [Pinger] (Ping), optional: ginauth's HealthHandler pings Store and
//     Users when they have it.
//   - [DeviceStore], optional: the device credentials of known clients.
//   - [FactorStore] and [RecoveryCodeStore], together [FactorBackend],
//     optional: second factors (TOTP generators and passkeys, with the
//     counter rule [Accepts]) and single-use recovery codes; memstore,
//     redisstore and sqlstore have them.
//   - [APIKeyStore], optional: API keys for machines, stored as digests
//     with their own roles, read with their owner in one step on the
//     request path ([APIKeyStore.UseAPIKey]); the rules that decide
//     whether a key works are [APIKey.Live] and [APIKey.EffectiveRoles];
//     memstore, redisstore and sqlstore have it.
//   - [ClientStore], optional: registered OAuth clients for the
//     client_credentials grant, with their secrets as digests and their
//     own roles; memstore and redisstore have it. sqlstore does not, and
//     need not: it is a capability of the session backend, which every
//     deployment has beside its user store.
//   - [ChallengeStore], optional: short-lived single-use values between
//     the two requests of a ceremony (MFA tickets, WebAuthn challenges);
//     memstore and redisstore have it.
//   - [Store]: the users, sessions, session listing, devices and ping
//     above together, what redisstore and memstore are; the other
//     optional capabilities are found on it by type assertion.
//
// The contract suites of storetest: Run (a whole Store), RunUsers (a
// UserStore that keeps no sessions, such as store/sqlstore) and
// RunExternalUsers (a session backend configured for external users:
// redisstore and memstore with ExternalUsers), and for the optional
// capabilities RunFactors (a FactorBackend), RunChallenges (a
// ChallengeStore), RunAPIKeys and RunExternalAPIKeys (an APIKeyStore
// that keeps its users, or one for external users) and RunClients (a
// ClientStore).
//
// # The lookup rule
//
// A record that is absent, expired or revoked is reported as an error that
// wraps [ErrNotFound]. Every other error means the infrastructure failed;
// callers must treat it as "cannot answer now" (authkit answers 503), never
// as "credential invalid", so clients do not throw valid tokens away.
//
// # Credentials are stored as digests
//
// Stores never see a raw session secret or refresh token: callers pass the
// SHA-256 [Digest] of each, so a dump of the store yields nothing usable.
// Passwords arrive as bcrypt hashes.
package store
