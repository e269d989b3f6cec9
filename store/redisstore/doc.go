// Package redisstore is the production [store.Store]: users, sessions and
// refresh tokens in Redis, through a go-redis [redis.UniversalClient], so
// the same code runs on a single server, Sentinel or Cluster.
//
// # Atomicity and Cluster
//
// Every key of one user carries the hash tag {u:<username>}, so all of a
// user's keys live in one cluster slot. Each change that touches more than
// one key runs as a single Lua script that receives its keys in KEYS (or,
// for the session keys found in the user's index, builds them from a
// prefix that carries the same tag), which makes it atomic on one server
// and legal on Cluster. Refresh-token rotation is one such script, so of
// concurrent rotations of one token to different successors exactly one
// wins and a replay is always seen.
//
// # Eviction
//
// Redis must not evict authkit's keys: an evicted session ends early, an
// evicted index hides sessions from "log out everywhere" until they
// expire, and evicted rotation state hides reuse. Run the server with
// maxmemory-policy noeviction; [Store.CheckEviction] checks it.
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
//	P{u:<name>}:user        hash: hash, roles (JSON), disabled, created, gen
//	P{u:<name>}:s:<id>      hash: ref, seq, prev, rot, gen, created, seen, idle, exp
//	P{u:<name>}:sessions    sorted set: session id -> expiry
//
// Session IDs and refresh tokens appear only as hex SHA-256 digests.
//
// A session belongs to one generation of its user. Changing the password,
// disabling the user or revoking all sessions increments the generation in
// the same script, which ends every session of the old one at once. A
// login passes the generation it read with the password hash to
// CreateSession, which refuses it with [store.ErrStale] once the
// generation has moved, so a login in flight cannot outlive a password
// change either. CreateSession can also cap the user's sessions
// ([store.SessionSpec].MaxSessions), revoking the oldest in the same
// script.
//
// Rotation state is constant in size: the current refresh digest ref, its
// sequence number seq, the previous digest prev and the time rot of the
// last rotation, in the session hash. A token whose sequence number is
// below seq, other than a retry of the last rotation within its grace
// period, is a replay and revokes the session.
package redisstore
