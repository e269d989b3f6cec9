// Package redisstore is the production [store.Store]: users, sessions and
// refresh tokens in Redis, through a go-redis [redis.UniversalClient], so
// the same code runs on a single server, Sentinel or Cluster.
//
// # Atomicity and Cluster
//
// Every key of one user carries the hash tag {u:<username>}, so all of a
// user's keys live in one cluster slot. Every write runs as a single Lua
// script that receives its keys in KEYS, which makes it atomic on one
// server and legal on Cluster. Apart from the refresh path, no script
// decides whether a session is live: Go reads the session, applies the
// rule (one method of the record type) and sends a script what to
// compare and what to write; the script applies the change only if what
// Go read is still there, and otherwise Go reads again.
//
// [Store.RotateRefresh] is the exception, because after an outage every
// client refreshes at once and the refresh path decides how fast the
// service recovers: it is one round trip (one EVALSHA, with WAIT in the
// same pipeline under [Options.WaitReplicas]), but for a store's first
// refresh, which probes the server once, and for a reuse. The script
// reads the session record, applies the rotation rule, liveness
// included, writes the outcome and replies with the record written and
// the user's roles (field o of the same hash), so neither a read before
// nor a read after is needed. The rule is stated in Go once, as
// record.rotate; TestRotateScriptMatchesRule runs every boundary of
// every condition and of the TTL's slack periods (about 32,000
// combinations) and 500 random records through both and
// requires the same outcome, the same bytes stored and the TTL that
// record.ttl gives. Records are kept in a fixed-width layout that the
// script reads with one struct.unpack and writes with one struct.pack, C
// functions of Redis's Lua. A record that layout cannot hold (a lifetime
// or idle timeout over 17 years, 2^32 rotations) is kept in a varint
// layout, as every record was before; the script declines those, and a
// reuse (a replay, which ends the session: rare, and so left out of the
// script), and Go then rotates them the old way, reading first and
// applying record.rotate with a compare-and-set (three round trips with
// the declined script; a varint record that fits is rewritten in the
// fixed layout by that write). So does every rotation when the server's
// struct library is missing or cannot read the layout's widths
// (miniredis; a Redis with a 32-bit C long): a store asks the server
// once, with a probe script on its first refresh, and keeps the answer.
// [Options.LegacyRecords] keeps writing the varint layout, for a rolling
// upgrade from a release that reads only that one (see
// docs/UPGRADING.md). Either way the rotation is atomic: of concurrent
// rotations of one token to different successors exactly one wins, and
// a replay is always seen.
//
// The sessions hash's TTL follows its records: every write of a record
// makes the hash live until the record's deadline as if its last use had
// come at the end of the slack period it falls in, a sixteenth of the
// idle timeout (90 minutes of the default 24 hours). A rotation whose
// record was last used in the current period needs no look at the TTL,
// and the one that asks extends it for the whole period; the hash
// outlives its last session by at most one period. Inside Redis the
// script costs about 6.3 µs a rotation (INFO commandstats on a private
// redis-server, in one period), 7.2 µs before this was made lighter and
// 13 µs before the fixed layout; a hand-written script that swaps one
// digest in a hash (bench/peer_limit.go) costs about 4.4 µs there. The
// paired refresh figure against it, and how it was measured, are in
// bench/README.md ("Refresh after an outage").
//
// # The request path
//
// [Store.Session], behind every authenticated request, is one HMGET of
// the user's sessions hash: the session's record and the user's roles.
// Liveness is decided in Go, and nothing is written unless the session's
// last recorded use is older than [Options.TouchInterval] (by default a
// minute, or a hundredth of the idle timeout if shorter); then a second
// round trip records it, with a script that cannot bring back a session
// deleted in between. Measured on a private redis-server, the HMGET costs
// the server about as much as a plain HGETALL of the same hash (about
// 1 µs, INFO commandstats), where the earlier Lua read cost 12 to 17 µs.
//
// What a read needs from the user is kept with the sessions: the roles,
// in the hash's field o, are rewritten by SetRoles in the same script;
// SetPasswordHash, SetDisabled(true) and RevokeAll delete the whole hash
// while they move the user to a new generation. A session record never
// has to be compared with the user's.
//
// # Second factors, recovery codes and challenges
//
// Beyond [store.Store], a Store is a [store.FactorBackend] and a
// [store.ChallengeStore], and passes their suites (storetest.RunFactors
// and storetest.RunChallenges, on a single server and on Cluster).
//
// A user's factors and recovery codes live in the user's slot, and
// each change is one script or command on one key: [Store.UseFactor]
// applies the counter rule ([store.Accepts]) inside Redis, stated once in
// Lua (luaAccepts, which compares the counters as decimal strings since
// a Lua double cannot hold every uint64), and TestUseFactorScriptMatchesRule
// holds it to the Go rule on every pair of boundary counters and on
// random ones. [Store.UseRecoveryCode] removes the code and counts what
// is left in one script, so of two concurrent uses one wins. A factor
// record edited into a form the store cannot read fails [Store.Factors]
// (a 503) rather than being left out, which could let a login skip it;
// such a factor is never used, and AddFactor does not replace it.
//
// A passkey's credential ID is unique across users, through an owner
// entry P{f:<digest>} that on Cluster lives in another slot than the
// user's factors, so no script can write both. [Store.AddFactor] claims
// the entry first (SET NX), then writes the factor, and releases the
// claim when that fails; [Store.RemoveFactor] deletes the factor, then
// releases the entry (only while it names that user).
// [Store.FactorOwner] confirms that the user the entry names still holds
// the factor, so an entry left behind by a crash between the two steps
// names nobody; until that user removes the factor (or the entry is
// deleted by hand) no other user can add the credential.
//
// A challenge is one key, written by a script that refuses to replace a
// live one, with a TTL of the time left on the store's clock (PX).
// Whether it is live is decided in Go from the expiry stored in it, as
// for sessions, and [Store.TakeChallenge] is one GETDEL, so of two
// concurrent takes one wins.
//
// # API keys
//
// A Store is a [store.APIKeyStore] and passes storetest.RunAPIKeys (with
// [Options.ExternalUsers], storetest.RunExternalAPIKeys), on a single
// server and on Cluster, and with [Options.LocalCache] on a single
// server. An owner's keys are one hash in the owner's slot, beside the
// user hash, so [Store.UseAPIKey], the request path, is one script and
// one round trip (TestUseAPIKeyOneRoundTrip), and none with the local
// cache (see below): it reads the key and the owner's roles, disabled
// flag, creation and generation, and records the use when the last
// recorded one is [store.APIKeyTouchInterval] old or more. The touch
// rule is the only one the script applies, on the record's first number
// (TestUseAPIKeyScriptMatchesTouchRule holds it to the Go statement of
// the rule); whether the key works is the caller's [store.APIKey.Live].
// With ExternalUsers the script reads no user hash and the caller reads
// the owner from its own source.
//
// The hash holds no TTL, since a key may never expire: [Store.AddAPIKey]
// drops the owner's keys that have expired (decided in Go, deleted by
// the add's script only if unchanged since read) before it checks the
// cap, and a revoked key is deleted at once, so the hash holds at most
// [store.MaxAPIKeys] live keys and the expired ones since the owner's
// last add. Disabling the owner, changing their password or
// [Store.RevokeAll] moves the user's generation and so ends their keys
// without touching them. [Store.RevokeAPIKey] is one script too, since it
// publishes the invalidation of the local cache with the delete.
//
// # OAuth clients
//
// A Store is a [store.ClientStore] and passes storetest.RunClients, on
// a single server and on Cluster. All clients are fields of one hash
// (P clients below), which on Cluster lives in one slot like any
// single key, so every call is one command on it: [Store.AddClient] is
// one HSETNX (of concurrent adds of one ID exactly one wins),
// [Store.Client] one HGET, [Store.Clients] one HGETALL and
// [Store.RemoveClient] one HDEL. The hash holds no TTL. A record edited
// into a form the store cannot read makes that client unknown to
// [Store.Client] and fails [Store.Clients] (TestClientUnreadableRecord).
//
// # Local cache
//
// [Options.LocalCache] keeps sessions and API keys read recently in the
// process and answers most requests without Redis. The scripts that end
// sessions, change a user, or revoke, expire or drop a key publish an
// invalidation (PUBLISH on a single server, sharded SPUBLISH to the
// channel of the user's slot on Cluster), which every cached store
// receives; the window in which another process still accepts a revoked
// session or key is the delivery of that message (p99 2 to 5 ms on
// loopback), bounded by the cache's TTL (default 1 s) should a message
// be lost. A store whose subscription breaks stops using its cache until
// it has subscribed again.
//
// A cached key is answered without Redis only while its last recorded
// use is younger than [store.APIKeyTouchInterval]: the use that must be
// recorded runs the script, so a key in steady use costs one round trip
// a minute per process (TestLocalCacheAPIKeyRoundTrips). A message names
// the user and, to drop less, the sessions (by their 43-character field)
// or keys ("k:" and the ID) concerned. See [LocalCacheOptions].
//
// # Replicas
//
// Reads may go to replicas where the client allows it (ReadOnly or
// RouteByLatency in go-redis's cluster options, or a Sentinel client
// routed to replicas); the store does nothing special. The trade-off is
// consistency: a revocation, a password change or a role change is seen
// on a replica only once replication has carried it there, so for that
// lag (usually milliseconds, unbounded under a partition) a revoked
// session may still authenticate requests served by the replica. Route
// reads to masters where that matters.
//
// # Sentinel and failover
//
// With Sentinel, give New a go-redis failover client
// (redis.NewFailoverClient, or NewUniversalClient with MasterName) with
// ContextTimeoutEnabled. Redis replicates asynchronously: a master
// acknowledges a write before any replica has it, so a failover loses
// the writes its replicas had not received. For authkit that means a
// session created or a refresh token rotated just before the failover:
// the user, told the login or refresh succeeded, is logged out (the new
// refresh token is unknown to the new master, a 401, never a 200 for
// something revoked). Revocations, logouts and password changes can be
// lost the same way; a lost revocation brings a session back.
//
// [Options.WaitReplicas] closes the gap for logins, refreshes and
// revocations: after the script that creates a session, rotates a
// refresh token or ends sessions (a logout, log out everywhere, a
// password change or disabling the user) or API keys (RevokeAPIKey,
// ExpireAPIKey), the store
// sends WAIT n timeout in the same pipeline (so on the connection that
// wrote, which is what WAIT counts) and fails with [ErrNotReplicated],
// a 503, when fewer than n replicas acknowledged within
// [Options.WaitTimeout]. The write then stays on the master and may or
// may not survive; the client retries: a retried login creates another
// session (the first one expires unused), a retried refresh within the
// grace period converges on the same session, and its WAIT covers the
// first write as well; a retried revocation finds the session gone or
// ends it again. It works with a *redis.Client (single server or
// Sentinel) only: on Cluster a pipeline's keyless WAIT would not go to
// the key's node, so New refuses it there.
//
// What it costs, measured with BenchmarkWaitReplicas (paired runs on
// loopback, one healthy replica, a busy 2-core machine): the median
// pair took 91 to 137 µs longer per login (CreateSession) and 82 to
// 145 µs longer per refresh (RotateRefresh), against 150 to 420 µs and
// 106 to 210 µs without it. There is no extra round trip; the time is
// the replica's acknowledgement. The price in availability is larger:
// while fewer than n replicas are connected and in sync, every login and
// refresh fails with 503 (reads are not affected), so run at least n+1
// replicas: with one replica and WaitReplicas 1, a failover leaves the
// new master without a replica until the old one rejoins.
//
// Measured by TestSentinelFailover in ginauth (a master, one replica,
// three Sentinels with down-after-milliseconds 1000, four clients under
// load, Redis 7.0 on loopback), with no wrong answer in any run:
//   - SENTINEL FAILOVER: the Sentinels name the new master 1.1 to 1.4 s
//     after the command; no request got 503, but in each run the four
//     rotations in flight (one per client, of 2,000 to 5,000) went to the
//     old master between the replica's promotion and its own demotion
//     and were lost, so those clients had to log in again.
//   - Master killed (SIGKILL): the new master is named 2.2 to 2.4 s
//     after the kill; requests got 503 from the kill until 1.4 to 3.2 s
//     after it, then all succeeded. No rotation was lost in these runs,
//     as the replica was in sync when the master died; that is luck, not
//     a guarantee.
//   - SENTINEL FAILOVER with WaitReplicas 1: no acknowledged rotation
//     lost; refreshes got 503 for 10 to 11 s, until the old master had
//     rejoined as a replica of the new one (reads were not affected).
//
// On Cluster, give New a cluster client with a short
// ClusterStateReloadInterval (1 s, say): go-redis reloads its slot map
// on MOVED, which follows a CLUSTER FAILOVER, but not when a master stops
// answering, so with the default (60 s in go-redis v9.23) the users of a
// killed master's slots get 503 for up to a minute after the cluster
// promoted its replica. TestClusterFailover in ginauth measures both
// (three masters with a replica each, node timeout 2 s): CLUSTER
// FAILOVER switched in 46 to 102 ms with no 503 and nothing lost; a
// killed master was replaced after 3.5 to 4.1 s, and its users got 503
// until 3.9 to 5.0 s after the kill. docs/OPERATIONS.md in the
// repository collects these figures and those of bench's load tool.
//
// # Recommended Redis settings
//
// Sessions, refresh chains and the state that detects reuse live only in
// Redis, so run it with
//
//	appendonly yes
//	appendfsync everysec
//	maxmemory-policy noeviction
//	maxmemory <sized below>
//
// as the repository's docker-compose.yml does, with the data directory
// on a volume.
//
// Persistence. Without it a restart logs every user out (each token then
// answers 401), and RDB snapshots alone lose the minutes since the last
// one. With the append-only file every acknowledged write survives a
// restart, a graceful one (SIGTERM: Redis fsyncs the file and exits) or a
// crash of the process (SIGKILL, the OOM killer): Redis hands a write to
// the kernel before it replies (unless a disk so slow that the last fsync
// is still running makes it postpone writes, for at most two seconds).
// While Redis is down or loading the file,
// authkit answers 503; afterwards sessions authenticate and refresh
// chains rotate on without a new login (TestRestartWithPersistence in
// ginauth checks both kinds of stop under load). With everysec the file
// is fsynced once a second, so a crash of the host or a power cut loses
// the writes of about the last second (up to two when the disk is slow).
// What a client then sees follows from the rotation rule below:
//   - a login of that second is gone: its tokens answer 401 and the user
//     logs in again;
//   - a rotation of that second is gone: the session holds the token the
//     client spent, and the client's new token, with a higher sequence
//     number and a digest the session never held, is neither current,
//     previous nor older, so it answers 401 invalid_grant and the session
//     is not revoked. This is not reuse detection: the access tokens of
//     the session still work until they expire, and the next refresh
//     ends in a new login. (The spent token would still rotate, to the
//     same successor, since successors derive from the token they
//     replace; clients do not keep it.)
//   - a revocation of that second is undone: a logout, a logout of all
//     devices, a password change, a disable or a revocation for reuse
//     lets the session authenticate again until it ends otherwise. A lost
//     increment of a failed-password counter allows a few more guesses.
//
// Where a revocation must survive a host crash, use appendfsync always,
// at the cost of an fsync per write.
//
// Eviction. Redis must not evict authkit's keys: an evicted sessions hash
// logs its user out everywhere at once, taking with it the rotation state
// that detects reuse, and an evicted user hash locks the user out while
// its sessions live on until they expire. Any policy but noeviction,
// volatile-* included (every sessions hash has a TTL), can drop them
// silently; with noeviction a full Redis refuses writes, which authkit
// answers with 503: logins, refreshes, and requests whose session is due
// a record of its last use (once a minute). [Store.CheckEviction] warns
// when the policy is another; call it at startup.
//
// Memory. Size maxmemory from the sessions you expect: at most about
// 320 B of used_memory a session (measured, see "Key layout"), plus the
// users' hashes and a margin for fragmentation; 256mb holds about
// 800,000 sessions. Without maxmemory Redis grows until the host runs out
// of memory. Leave the host as much memory again as maxmemory: a rewrite of the
// append-only file forks, and pages written meanwhile are copied.
//
// # Time
//
// Whether a session is live is decided in Go from stored millisecond
// timestamps and [Options.Now]; tests therefore move a fake clock
// instead of sleeping. Independently, every sessions hash carries a TTL
// covering its longest-lived session (plus, after a refresh extended it,
// at most a sixteenth of the idle timeout), so Redis drops dead sessions
// by itself and memory never grows without bound; a dead session in a
// hash that is still alive waits for the next login of its user, which
// sweeps (all sessions with a cap, else a random sample of 16), or for
// the hash's TTL. Times are stored with millisecond precision.
//
// # Timeouts
//
// authkit promises to answer 503 within the request's deadline when the
// store does not respond. go-redis honours context deadlines on the socket
// only when the client's ContextTimeoutEnabled option is set; without it, a
// server that accepts connections but never replies holds each call for the
// full ReadTimeout (5 s by default) whatever the context says (measured:
// 5.0 s instead of 301 ms). [New] therefore refuses such clients with
// [ErrNoContextTimeout]. Past the deadline, or on any store error but
// "not found", ginauth answers 503 with Retry-After, and requests succeed
// again as soon as Redis answers, without a restart. The tests check the
// 503 against a listener that accepts and never answers (within the
// deadline plus 100 ms) and against a private redis-server that is killed
// and restarted.
//
// # Key layout
//
// With P the configured prefix (default "authkit:"):
//
//	P{u:<name>}:user   hash: hash, roles, disabled, created, gen
//	P{u:<name>}:s      hash: one field per session, named by the session
//	                   ID in base64url (43 characters), whose value is the
//	                   session's binary record; o, the user's roles; v, a
//	                   random version replaced whenever a session is
//	                   added or removed; g, the generation its sessions
//	                   were created in (with [Options.ExternalUsers], the
//	                   highest one given; there is then no user hash and
//	                   no field o); and for each session whose last
//	                   rotation named its client ([store.Rotation].Client),
//	                   a field "a" + the first 16 characters of the
//	                   session's field, holding that address: an IP
//	                   address in canonical form as byte 1 and its 4
//	                   bytes (IPv4) or byte 2 and its 16 (IPv6), any other
//	                   text as it is (after a 0 byte if it starts with a
//	                   byte below 3)
//	P{u:<name>}:d      hash: the user's device credentials, one field per
//	                   credential digest (see store.DeviceStore)
//	P{u:<name>}:f      hash: the user's second factors, one field per
//	                   factor named "<kind>:<id>" ("totp:totp",
//	                   "passkey:<credential ID>"), whose value is the
//	                   record "<counter> <confirmed 0|1> <last used ms, 0
//	                   before> <created ms> <name length> <name><data>"
//	                   (see store.FactorStore)
//	P{u:<name>}:r      set: the user's recovery codes, as 32-byte digests
//	P{u:<name>}:k      hash: the user's API keys, one field per key ID,
//	                   whose value is the record "<last used ms, 0
//	                   before> <created ms> <expires ms, empty for
//	                   none> <generation> <roles, comma-separated>
//	                   <name length> <name><32-byte secret digest>"
//	                   (about 100 bytes; see store.APIKeyStore)
//	P clients          hash: the registered OAuth clients, one field per
//	                   client ID, whose value is the record "<created
//	                   ms> <roles, comma-separated> <32-byte secret
//	                   digest>" (about 60 bytes; see store.ClientStore)
//	P{f:<digest>}      string: the username holding a passkey, named by
//	                   the base64url SHA-256 of "<kind>:<credential ID>"
//	                   (in a slot of its own: see "Second factors" below)
//	P{c:<id>}          string: one challenge (store.ChallengeStore), named
//	                   by its ID in base64url, holding "<expiry ms>:<value>";
//	                   its TTL is the time left on the store's clock
//	P{a:<digest>}      hash: one failed-password counter, named by the
//	                   base64url SHA-256 of the counter's name, which is
//	                   also its hash tag (the counters of one login spread
//	                   over a cluster); it expires by itself
//	P{a:<digest>}:p    sorted set: that counter's pending attempts (and tombstones of attempts ended before they began)
//	P inv              channel (PUBLISH) of invalidations, single server
//	P{<slot tag>}:inv  channel (SPUBLISH) of the invalidations of one
//	                   slot, on Cluster
//
// The field names are Go constants in keys.go (userFieldHash …
// userFieldGen for the user hash; sessFieldRoles, sessFieldVersion,
// sessFieldGen and addrFieldPrefix for the sessions hash), and the Lua
// scripts receive them from there as locals of the same names, so the
// names above are spelled once in the code; they are the stored format
// and must not change.
//
// The field disabled of a user hash holds "0" for an enabled user and
// "1" for a disabled one; every version of the store has written one of
// them when creating the user. Only "0" reads as enabled. Any other
// value, such as "true", "yes", "2" or "" set by hand, and a user hash
// without the field read as disabled, both in [Store.User] (so the login
// fails as for a wrong password) and in CreateSession: a mistake locks
// the account rather than leaving it open. An edit of the user hash by
// hand does not reach the user's existing sessions, whatever the value
// ("1" included), since the request path reads only the sessions hash.
// To disable a user by hand, set the field, then delete the sessions
// hash P{u:<name>}:s; [Store.SetDisabled] does both in one script and
// also moves the generation.
//
// Roles are stored joined by commas ([store.ValidateRoles] forbids commas
// in a role); user hashes written by earlier versions, with roles as a
// JSON array, are still read. A session record holds its current
// refresh digest with its sequence number, the previous digest and the
// time of the last rotation (constant in size whatever the number of
// rotations), the creation time, the last recorded use, the idle timeout
// and the absolute expiry: 42 bytes, 63 once rotated, small enough that
// a user's hash keeps Redis's compact listpack encoding. Refresh digests are kept
// to their first 128 bits; session IDs appear whole.
//
// The client address of a session's last rotation, which a retry within
// the grace period reports ([store.Session].RotatedBy), is not in the
// record, which it would push past the 64 bytes of a listpack value:
// it has the session's address field, written by the rotation's script
// (deleted by one with no address) and deleted by every script that
// deletes the session, so it never outlives it and the hash's TTL covers
// it. Its name keeps 96 bits of the session ID (two sessions of a user
// share them with a probability of about n²/2⁹⁷). A rotated session then
// has two fields: a user with more than 62 rotated sessions exceeds the
// 128 fields of a listpack hash (hash-max-listpack-entries) and its hash
// becomes a hash table; raise that setting where users keep that many.
//
// Memory per session, measured on Redis 7.0 with MEMORY USAGE of the
// sessions hashes (their roles and version included) divided by the
// number of sessions: about 232 B for users with one session, fresh or
// rotated, 131 to 152 B for users with three; the same at 1,000 and
// 10,000 sessions. The address field of a rotation that names its
// client adds 64 B a session for users with one (296 B), 43 B (IPv6)
// for users with three (195 B); the growth of INFO used_memory, which
// also counts the keyspace's tables, is up to 338 B a session (see
// TestMemoryPerSession). The fixed layout's 7 or 8 more bytes a record
// cost nothing with three sessions a user and 32 B with one (200 B
// before for a fresh session, 264 B with the address), where the hash
// crosses one of the allocator's size classes.
//
// A session belongs to one generation of its user. Changing the password,
// disabling the user or revoking all sessions increments the generation
// and deletes the sessions hash in the same script. A login passes the
// generation it read with the password hash to CreateSession, which
// refuses it with [store.ErrStale] once the generation has moved, so a
// login in flight cannot outlive a password change either. CreateSession
// can also cap the user's sessions ([store.SessionSpec].MaxSessions),
// revoking the oldest in the same script, whose reply names them. To delete a user by hand,
// delete both of its keys: a sessions hash left alone keeps its sessions
// until they expire (CreateUser deletes any it finds).
//
// This layout replaced one key per session (P{u:<name>}:s:<hex id>) and
// a sorted-set index (P{u:<name>}:sessions): an upgrade logs every
// session out once, and the old keys expire by themselves.
//
// A token whose sequence number is below the session's, other than a
// retry of the last rotation within its grace period, is a replay and
// revokes the session.
package redisstore
