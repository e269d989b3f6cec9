// Package accounts creates users, sets and checks their passwords, and
// owns the password policy, with no HTTP machinery: a command-line tool
// that manages users, a background job and ginauth's login handlers use
// the same [Manager].
//
// A Manager keeps its users in any store.UserSource (memstore,
// redisstore, store/sqlstore or the application's own); creating and
// changing users needs a store.UserStore. Passwords are hashed by a
// [Hasher] the Manager is given, not one it owns: [Bcrypt] by default,
// [Argon2id] as an option, each with a cost ceiling, so one planted hash
// cannot hold the server's CPU. A hash in another encoding or cost is
// re-hashed at the user's next good login, so costs converge.
//
// Verification answers [ErrBadCredentials] for an unknown user, a
// disabled one, a wrong or unacceptable password alike, after the same
// hashing work, so neither the answer nor its timing tells which. A
// password change or a disable moves the user to a new generation, which
// ends every session and every login in flight, and ends the user's
// device credentials (known clients) when a store that keeps them is at
// hand. Events go to an audit.Hook.
//
// Passwords are NFC-normalised, at most 72 bytes (bcrypt's limit: longer
// ones are refused, never truncated) and at least MinPasswordLength
// characters when set.
package accounts
