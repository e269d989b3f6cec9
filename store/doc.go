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
