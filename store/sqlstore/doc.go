// Package sqlstore keeps authkit's users in PostgreSQL, through
// database/sql and the pgx driver, for applications whose users live in
// their own database while sessions live in Redis.
//
// It is a store.UserStore: pass it as accounts.Config.Users, with the
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
// cache listens again on a new connection.
//
// The column disabled is boolean NOT NULL (default false), so every row
// reads as exactly enabled or disabled: unlike a flag kept as text (see
// store/redisstore), no hand-written value can be mistaken for one.
package sqlstore
