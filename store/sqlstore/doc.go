// Package sqlstore keeps authkit's users in PostgreSQL, through
// database/sql and the pgx driver, for applications whose users live in
// their own database while sessions live in Redis.
//
// It is a store.UserStore: pass it as ginauth.Config.Users, with a
// session store configured for external users
// (redisstore.Options.ExternalUsers), and to ginauth.AccountsConfig.Users
// to create users and set passwords.
//
// The table, authkit_users, is created by [Migrate] (or by the
// migration file [Schema] run with the application's own tool). A
// trigger moves a user's generation whenever its password hash changes
// or it is disabled, also by an UPDATE made by hand, so that every
// session of the user ends on its next request: ginauth reads the user
// on each request of a session (one primary-key SELECT) and compares its
// generation with the session's.
//
// The column disabled is boolean NOT NULL (default false), so every row
// reads as exactly enabled or disabled: unlike a flag kept as text (see
// store/redisstore), no hand-written value can be mistaken for one.
package sqlstore
