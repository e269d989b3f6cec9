// Package redisstore is the production [store.Store]: users, sessions and
// refresh tokens in Redis, through a go-redis [redis.UniversalClient], so
// the same code runs on a single server, Sentinel or Cluster.
//
// # Atomicity and Cluster
//
// Every key of one user carries the hash tag {u:<username>}, so all of a
// user's keys live in one cluster slot. Each change that touches more than
// one key runs as a single Lua script that receives all its keys in KEYS,
// which makes it atomic on one server and legal on Cluster. Refresh-token
// rotation is one such script, so of concurrent rotations of one token
// exactly one wins and a replay is always seen.
//
// # Time
//
// Whether a session is live is decided inside the scripts from stored
// millisecond timestamps and the time passed in by the store, read from
// [Options.Now]; tests therefore move a fake clock instead of sleeping.
// Independently, every session key carries a TTL, so Redis drops dead
// sessions by itself and memory never grows without bound. Times are
// stored with millisecond precision.
//
// # Timeouts
//
// authkit promises to answer 503 within the request's deadline when the
// store does not respond. go-redis honours context deadlines on the socket
// only when the client's ContextTimeoutEnabled option is set; without it, a
// server that accepts connections but never replies holds each call for the
// full ReadTimeout (5 s by default) whatever the context says. [New]
// therefore refuses such clients with [ErrNoContextTimeout].
//
// # Key layout
//
// With P the configured prefix (default "authkit:"):
//
//	P{u:<name>}:user            hash: hash, roles (JSON), disabled, created, gen
//	P{u:<name>}:s:<id>          hash: ref, gen, created, seen, idle, exp
//	P{u:<name>}:s:<id>:old      set of refresh digests rotated away
//	P{u:<name>}:sessions        sorted set: session id -> expiry
//
// Session IDs and refresh tokens appear only as hex SHA-256 digests. A
// session belongs to one generation of its user; revoking all sessions or
// disabling the user increments the generation, which ends every session
// of the old one at once, including one created concurrently.
package redisstore
