// Package sqlstore keeps authkit's users in PostgreSQL, through
// database/sql and the pgx driver, for applications whose users live in
// their own database while sessions live in Redis.
//
// It is a store.UserStore, a store.FactorBackend (second factors and
// recovery codes, passing storetest.RunFactors) and a store.APIKeyStore
// (passing storetest.RunAPIKeys); it keeps no sessions
// and no challenges (store.ChallengeStore), which stay with the session
// store. Pass it as accounts.Config.Users, with the
// session store (configured for external users,
// redisstore.Options.ExternalUsers) as accounts.Config.Sessions and as
// ginauth.Config.Store, and the Manager as ginauth.Config.Accounts.
//
// The table, authkit_users, is created by [Migrate] (or by the
// migration file [Schema] run with the application's own tool). A
// trigger moves a user's generation whenever its password hash changes
// or it is disabled, also by an UPDATE made by hand, so that every
// session of the user ends on its next request: ginauth reads the user
// on each request of a session (one primary-key SELECT) and compares its
// generation with the session's.
//
// # The schema
//
// [Schema] is migrations/001_users.sql followed by
// migrations/002_factors.sql and migrations/003_apikeys.sql, for an
// application's own migration tool (copy the files); [Migrate] runs it in one transaction under an
// advisory lock, so replicas starting together are safe, and every
// statement is safe to run again, so a database created by an earlier
// version gains the new tables. The table authkit_users:
//
//   - username text, primary key: the canonical form
//     (store.CanonicalUsername: NFKC, lower case); a row with another
//     form never logs in.
//   - password_hash bytea: bcrypt, or argon2id in PHC form.
//   - roles text[]: role names (store.ValidateRoles: no commas, spaces or
//     duplicates); a row that breaks this reads as an error (503), never
//     as part of its roles.
//   - disabled boolean.
//   - created_at timestamptz.
//   - generation bigint: moves on when the password hash changes or the
//     user is disabled.
//
// A BEFORE UPDATE trigger moves generation for changes made by hand too
// (UPDATE authkit_users SET disabled = true, a new password_hash), never
// lets it go back, and leaves it alone for roles, re-enabling and the
// re-hash a login does (which says so with the transaction-local setting
// authkit.rehash). To use a users table of your own instead, implement
// store.UserSource (one SELECT) with a generation column bumped the same
// way.
//
// The table authkit_factors holds second factors, one row per
// (username, kind, id): name, data (opaque: the sealed TOTP secret or the
// encoded passkey), confirmed, counter numeric(20) (a uint64), created_at
// and last_used (NULL before the first use). A partial unique index on
// (kind, id) for every kind but totp makes a passkey's credential ID
// belong to one user (FactorOwner). UseFactor is one UPDATE whose WHERE
// clause is the counter rule (store.Accepts), RETURNING the factor, so
// of concurrent uses with one counter exactly one is accepted; AddFactor
// and SetRecoveryCodes run in a transaction holding an advisory lock of
// the user, so concurrent adds never pass store.MaxFactors. The table
// authkit_recovery_codes holds one row per (username, digest);
// UseRecoveryCode is one DELETE … RETURNING. Neither table references
// authkit_users, since factors may belong to users kept elsewhere:
// delete a user's rows there too when deleting the user by hand.
//
// The table authkit_api_keys holds API keys, one row per (username, id):
// name, secret (the 32-byte digest of the key's secret, never the
// secret), roles text[], created_at, expires_at and last_used (NULL for
// none), and generation (the owner's when the key was added). It
// references authkit_users (ON DELETE CASCADE): keys belong to this
// store's users. UseAPIKey, the request path, is one statement: it
// reads the key joined with its owner's row (roles, disabled,
// generation) and, in a data-modifying WITH of the same statement,
// records the use when the last one is a minute old or more
// (store.APIKeyTouchInterval), returning the key as it was. A
// disabling, a password change or an UPDATE by hand that moves the
// owner's generation ends their keys (store.APIKey.Live); "log out
// everywhere" in a session store for external users does not move it
// (see the limits of the split below), so it leaves keys working.
// AddAPIKey runs under the owner's advisory lock, deletes the owner's
// expired keys and then checks store.MaxAPIKeys.
//
// # How changes reach sessions
//
// With ExternalUsers, redisstore keeps in each user's sessions hash only
// the generation the sessions were created in (a login with an older
// generation is refused as stale, one with a newer generation ends the
// older sessions) and no roles. So on every request of a session, ginauth
// reads the owner from Config.Users concurrently with the session's one
// Redis round trip, answers 401 invalid_token when the owner is gone,
// disabled or in another generation, and takes the roles from it: a role
// change, disable or password change made in SQL takes effect on the
// next request, refresh included. A user source that fails or times out
// (Config.StoreTimeout) is a 503 with Retry-After, never a 401; so is a
// login whose session store was not configured for external users (it
// logs what to fix). Stateless mode reads neither.
//
// Limits of the split, by design: "log out everywhere" deletes the
// sessions but cannot move the generation of a user it does not hold, so
// a login whose password check was already running when it happened
// still gets its session; and changes made in SQL leave the ended
// sessions in Redis until a login in a newer generation or their expiry
// removes them (they no longer authenticate). SetPassword and SetDisabled
// through Accounts delete them at once.
//
// # The cache
//
// [Cache] takes that query off the request path: it answers users read
// recently from memory, and LISTENs on one pooled connection for the
// notifications the schema's trigger sends for every committed change.
// It answers from memory only while it listens. A listening connection
// that fails empties the cache, and so does one that dies silently (a
// frozen network path, a half-open TCP connection with no reset), found
// by a ping every [CacheOptions].PingInterval (1 s by default) that must
// answer within as long: within about two intervals the cache stops
// answering from memory. Every read then goes to the database, which on
// such a link fails or times out (a 503, never a stale user), until the
// cache listens again on a new connection. A change takes effect once
// its notification arrives (a fraction of a millisecond after the commit
// on a local network) rather than strictly on the next request; changes
// made through the same process's Accounts take effect at once. Unknown
// users are never cached. bench/README.md has the cost of each choice.
//
// The column disabled is boolean NOT NULL (default false), so every row
// reads as exactly enabled or disabled: unlike a flag kept as text (see
// store/redisstore), no hand-written value can be mistaken for one.
package sqlstore
