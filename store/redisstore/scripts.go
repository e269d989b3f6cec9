package redisstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The scripts below are the only code that writes. Each receives the
// keys it names in KEYS, both under one user's hash tag: that keeps them
// on one cluster slot and lets Redis Cluster route them. No script builds
// a key name: a user's sessions are fields of one hash, so none has to be
// found through an index.
//
// With one exception, no script decides whether a session is live. Go
// reads the records, applies [record.live] and sends the scripts what to
// compare and what to write; a script applies the change only if what Go
// read is still there (compare-and-set), and otherwise tells Go to read
// again. The scripts check only what a record does not hold: whether the
// user exists, is enabled and is still in the generation the caller
// read.
//
// The exception is the rotate scripts (rotateScripts), the refresh
// path: after an outage every client refreshes at once, so a rotation
// decides and writes in one round trip. It reads the record (in the
// fixed layout, see [record] and luaRecord) and applies [record.rotate],
// liveness included, inside Redis. TestRotateScriptMatchesRule holds its
// decisions, the records it writes and the TTLs it sets to the Go rule
// on every case and on random records, and it declines (replying
// rotateFallback) a reuse and any record it does not read (the varint
// layout, or a server without Lua's struct library such as miniredis)
// or whose successor the fixed layout cannot hold, which Go then
// decides.
//
// Times and TTLs are integer milliseconds computed in Go from the
// store's clock; TTLs are only a backstop that lets Redis drop what is
// dead anyway.
//
// The scripts that end sessions or change roles publish an invalidation
// for [Options.LocalCache]: ARGV names the command (PUBLISH, or SPUBLISH
// on a cluster, to a channel in the user's slot), the channel and the
// message, or an empty command for none. redis.pcall keeps a server
// without the command (SPUBLISH before Redis 7) from failing the write;
// there no cache can subscribe either, so none is ever used.

// luaFields defines the names of the hashes' fields as Lua locals named
// and valued like the Go constants (userFieldHash, sessFieldRoles, …),
// so that the scripts and Go spell each name once, in keys.go. Every
// script that names a field starts with it.
var luaFields = luaLocals(
	"userFieldHash", userFieldHash,
	"userFieldRoles", userFieldRoles,
	"userFieldDisabled", userFieldDisabled,
	"userFieldCreated", userFieldCreated,
	"userFieldGen", userFieldGen,
	"sessFieldRoles", sessFieldRoles,
	"sessFieldVersion", sessFieldVersion,
	"sessFieldGen", sessFieldGen,
	"addrFieldPrefix", addrFieldPrefix,
	"maxMillis", strconv.FormatInt(maxMillis, 10),
)

// luaLocals returns Lua that defines a local string for each pair of
// name and value. The values are field names of plain ASCII letters,
// decimal numbers, or struct formats (letters, digits and '>'), which a
// Lua string in single quotes holds as they are (Lua compares a number
// with such a string only after tonumber).
func luaLocals(pairs ...string) string {
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		b.WriteString("local " + pairs[i] + " = '" + pairs[i+1] + "'\n")
	}
	return b.String()
}

// luaExtend defines extend, which makes the sessions hash KEYS[2] live
// at least ttl more milliseconds: it holds several sessions, so a use of
// one never shortens the others' TTL.
const luaExtend = `
local function extend(key, ttl)
  if redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, ttl)
  end
end
`

// luaPublish defines publish(i), which sends the invalidation described
// by ARGV[i], ARGV[i+1], ARGV[i+2]: command, channel, message.
const luaPublish = `
local function publish(i)
  if ARGV[i] ~= '' then redis.pcall(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
end
`

// luaMeta defines sessionsLeft, the number of sessions in the sessions
// hash KEYS[1]: its fields but o (roles), v (set version) and g
// (generation), as in isMeta. It counts address fields too, but only to tell whether
// any session is left: an address field lives only with its session
// (see luaAddr), so the count is 0 exactly when no session is.
const luaMeta = `
local function sessionsLeft(key)
  local n = redis.call('HLEN', key)
  for _, f in ipairs({sessFieldRoles, sessFieldVersion, sessFieldGen}) do n = n - redis.call('HEXISTS', key, f) end
  return n
end
`

// luaAddr defines addrOf(f), the name of the address field of the
// session whose field is f (see [addrField]). Every script that deletes
// a session deletes its address field with it, so an address field
// never outlives its session and sessionsLeft need not count them.
var luaAddr = `
local function addrOf(f) return ` + luaAddrOf("f") + ` end
`

// luaAddrOf is the Lua expression of addrOf(f), for rotateScripts, which
// writes it in place rather than make the function on every run.
func luaAddrOf(f string) string {
	return "addrFieldPrefix .. string.sub(" + f + ", 1, " + strconv.Itoa(addrIDChars) + ")"
}

// luaGenLess defines genLess(a, b), which compares two generations
// written in decimal: Lua numbers are doubles, exact only to 2^53.
const luaGenLess = `
local function genLess(a, b)
  return #a < #b or (#a == #b and a < b)
end
`

// luaDisabled defines disabled(v), true unless v, a user's disabled
// field as HMGET returns it (false when absent), is enabledValue: the
// rule of disabledValue, written once for the scripts.
const luaDisabled = `
local function disabled(v)
  return v ~= '` + enabledValue + `'
end
`

// Replies of the scripts that report an outcome.
const (
	replyNotFound = 0
	replyOK       = 1
	replyExists   = 2
	replyStale    = 4
	replyChanged  = 5
)

// createUserScript creates a user unless the key exists, so two
// concurrent creates cannot both succeed or merge. It deletes any
// sessions hash left under the name, such as by a user deleted by hand,
// so that a new account never inherits sessions.
//
// KEYS: user, sessions. ARGV: hash, roles, disabled, created, gen.
var createUserScript = redis.NewScript(luaFields + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], userFieldHash, ARGV[1], userFieldRoles, ARGV[2],
  userFieldDisabled, ARGV[3], userFieldCreated, ARGV[4], userFieldGen, ARGV[5])
redis.call('DEL', KEYS[2])
return 1
`)

// updateUserScript sets one field of an existing user (a plain HSET would
// create a partial user when the user is absent). With bump it also moves
// the user to the next generation and deletes every session, which ends
// the sessions and the logins in flight in the same step; a new roles
// value is copied to the sessions hash, where reads find it.
//
// KEYS: user, sessions. ARGV: field, value, bump ("1" or "0"), then the
// invalidation to publish.
var updateUserScript = redis.NewScript(luaFields + luaPublish + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[1], userFieldGen, 1)
  redis.call('DEL', KEYS[2])
elseif ARGV[1] == userFieldRoles and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], sessFieldRoles, ARGV[2])
end
publish(4)
return 1
`)

// rehashScript replaces the password hash only while both the hash and
// the generation are the ones the caller verified against.
//
// KEYS: user. ARGV: gen, old hash, new hash.
// Reply: 0 no such user, 1 replaced, 4 hash or generation changed.
var rehashScript = redis.NewScript(luaFields + `
local u = redis.call('HMGET', KEYS[1], userFieldGen, userFieldHash)
if not u[1] then return 0 end
if u[1] ~= ARGV[1] or u[2] ~= ARGV[2] then return 4 end
redis.call('HSET', KEYS[1], userFieldHash, ARGV[3])
return 1
`)

// createSessionScript stores a session in its user's current generation,
// provided that is still the generation the caller read, and deletes the
// sessions Go chose: dead ones, and with a cap the oldest live ones.
//
// With external users (ARGV[12] "1") there is no user key to check: the
// hash's field g holds the highest generation given. An older one is
// stale; a newer one deletes every session of the older generations, and
// then what Go read is moot. Go always sends an invalidation then, which
// is published only when sessions were deleted.
//
// Go read the sessions hash first. With check set, the set version v
// (a random value that every addition or removal of a session replaces)
// must still be the one Go read: the hash holds the very sessions Go
// counted against the cap. Without it, only the new session's field
// (absent, or the dead record Go saw) and each dead record to delete are
// compared. Either way a mismatch replies 5 and Go reads again.
//
// The first k pairs to delete are the live sessions the cap evicts,
// oldest first (Go sends them only with check set); the reply names
// those the script deleted, so the caller learns them from the write
// itself. Sessions ended by a newer external generation are not
// evicted by the cap and are not named.
//
// The user's roles are copied into the hash's field o, where reads find
// them with the session in one command.
//
// KEYS: user, sessions.
// ARGV: gen, v read, new v, id, field read (empty when absent), record,
// ttl, check ("1" or "0"), the invalidation to publish (3 values),
// external ("1" or "0"), k, then pairs of id and record read to delete,
// the k evicted ones first.
// Reply: an array whose first element is 0 no such user or disabled,
// 1 created, 4 stale generation, or 5 changed since read; after a 1, the
// ids of the evicted sessions, oldest first.
var createSessionScript = redis.NewScript(luaFields + luaExtend + luaPublish + luaGenLess + luaDisabled + luaAddr + `
local s = KEYS[2]
local roles = nil
local fresh = false
local reply = {1}
if ARGV[12] == '1' then
  local g = redis.call('HGET', s, sessFieldGen)
  if g and genLess(ARGV[1], g) then return {4} end
  if g ~= ARGV[1] then
    redis.call('DEL', s)
    fresh = true
  end
else
  local u = redis.call('HMGET', KEYS[1], userFieldGen, userFieldDisabled, userFieldRoles)
  if not u[1] or disabled(u[2]) then return {0} end
  if u[1] ~= ARGV[1] then return {4} end
  roles = u[3] or ''
end
if not fresh then
  local check = ARGV[8] == '1'
  if check and (redis.call('HGET', s, sessFieldVersion) or '') ~= ARGV[2] then return {5} end
  if (redis.call('HGET', s, ARGV[4]) or '') ~= ARGV[5] then return {5} end
  if ARGV[5] ~= '' then redis.call('HDEL', s, addrOf(ARGV[4])) end
  local evictedEnd = 14 + 2 * tonumber(ARGV[13])
  for i = 14, #ARGV, 2 do
    if check or redis.call('HGET', s, ARGV[i]) == ARGV[i + 1] then
      redis.call('HDEL', s, ARGV[i], addrOf(ARGV[i]))
      if i < evictedEnd then reply[#reply + 1] = ARGV[i] end
    end
  end
end
redis.call('HSET', s, ARGV[4], ARGV[6], sessFieldVersion, ARGV[3], sessFieldGen, ARGV[1])
if roles then redis.call('HSET', s, sessFieldRoles, roles) end
extend(s, ARGV[7])
if ARGV[12] ~= '1' or fresh or #ARGV > 13 then publish(9) end
return reply
`)

// casScript replaces or deletes one session record, only if its state
// (the first n bytes: everything but the last use) is still the one Go
// read. Go decided with that record what to do, so the change applies to
// what Go saw or not at all; a record deleted in between is never
// written again. Touches, rotations, retries within the grace period and
// reuse all go through it.
//
// Deleting the last session deletes the hash (and with it the roles and
// generation it holds: the user's next session writes them again); any
// deletion replaces the set version v with ARGV new v, and deletes the
// session's address field too.
//
// A rotation also records the client address in the session's address
// field (an empty address deletes it), in the same step as the record
// that makes the new token current; other writes leave it alone.
//
// KEYS: sessions. ARGV: id, record read, n, new record (empty to delete),
// ttl, new v, the invalidation to publish (3 values), record address
// ("1" or "0"), address.
// Reply: 1 done, 5 changed since read.
var casScript = redis.NewScript(luaFields + luaExtend + luaPublish + luaMeta + luaAddr + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local n = tonumber(ARGV[3])
if not cur or string.sub(cur, 1, n) ~= string.sub(ARGV[2], 1, n) then return 5 end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
  if ARGV[10] == '1' then
    if ARGV[11] ~= '' then
      redis.call('HSET', KEYS[1], addrOf(ARGV[1]), ARGV[11])
    else
      redis.call('HDEL', KEYS[1], addrOf(ARGV[1]))
    end
  end
  extend(KEYS[1], ARGV[5])
  return 1
end
redis.call('HDEL', KEYS[1], ARGV[1], addrOf(ARGV[1]))
if sessionsLeft(KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], sessFieldVersion, ARGV[6])
end
publish(7)
return 1
`)

// revokeSessionScript deletes one session, whatever its state, with its
// address field.
//
// KEYS: sessions. ARGV: id, new v, then the invalidation to publish.
var revokeSessionScript = redis.NewScript(luaFields + luaPublish + luaMeta + luaAddr + `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 1 end
redis.call('HDEL', KEYS[1], addrOf(ARGV[1]))
if sessionsLeft(KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], sessFieldVersion, ARGV[2])
end
publish(3)
return 1
`)

// revokeAllScript ends every session of a user: it deletes the sessions
// hash and moves the user to the next generation, so that no login in
// flight can add one afterwards. The user key is checked first so that
// the HINCRBY never creates a partial user.
//
// KEYS: user, sessions. ARGV: the invalidation to publish.
var revokeAllScript = redis.NewScript(luaFields + luaPublish + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], userFieldGen, 1)
end
redis.call('DEL', KEYS[2])
publish(1)
return 1
`)

// luaRecord defines, for rotateScripts, the fixed layout of a record
// (see [record]) as struct formats: freshFormat and rotatedFormat read a
// record of seq 0 and of a rotated session in one struct.unpack each,
// and rotatedFormat writes a rotated one in one struct.pack. Lua numbers
// are doubles, exact to 2^53, which every number of this layout is.
var luaRecord = luaLocals(
	"freshFormat", fmt.Sprintf(">Bc%dI%di%dI%di%di%d", len(refKey{}), fixedSeqLen, fixedCreatedLen, fixedRelLen, fixedRelLen, fixedRelLen),
	"rotatedFormat", fmt.Sprintf(">Bc%dI%di%dI%di%di%dc%di%d", len(refKey{}), fixedSeqLen, fixedCreatedLen, fixedRelLen, fixedRelLen, fixedRelLen, len(refKey{}), fixedRelLen),
	"seenFormat", fmt.Sprintf(">i%d", fixedRelLen),
) + luaNumbers(
	"recordFixed", int64(recordFixed),
	"freshLen", int64(fixedFreshLen),
	"rotatedLen", int64(fixedRotatedLen),
	"relLen", int64(fixedRelLen),
	"maxSeq", int64(fixedMaxSeq),
	"relMax", int64(fixedRelMax),
	"ttlSlackDivisor", int64(ttlSlackDivisor),
	"maxTTL", maxTTL,
)

// luaNumbers is luaLocals for integers, written as Lua numbers so that
// the scripts need no tonumber, a function call, on every run. Each
// must be below 2^53, which a Lua number holds exactly.
func luaNumbers(pairs ...any) string {
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		fmt.Fprintf(&b, "local %s = %d\n", pairs[i], pairs[i+1])
	}
	return b.String()
}

// rotateScripts are RotateRefresh in one round trip, for the two kinds
// of owner field (see [Store.read]): roles (o, index 0) and, with
// external users, the generation (g, index 1); naming it in the script
// saves an argument on every refresh. Each reads the session record,
// decides with the rule of [record.rotate] (liveness first) and applies
// the outcome:
//
//   - rotated: the record with next current, its sequence number one
//     more, old as previous and now as the rotation and the last use;
//     the address field set to the client (deleted when empty; left
//     alone when it holds the client already);
//   - retried: the record with only the last use changed;
//   - not found: nothing.
//
// A reuse, a replay that ends the session, it declines as it declines
// the records it does not read: Go decides and applies it (see
// rotateSlow). Reuse is rare (a stolen token, or a client that lost an
// answer beyond the grace period), and so the script needs neither the
// invalidation to publish nor the code that ends a session.
//
// A rotation or retry makes the hash live until the record's cover
// ([record.cover], the same TTL as [record.ttl]): it asks for the TTL
// only when the record's previous use lies in an earlier slack period,
// and extends it only when shorter, so that most refreshes write nothing
// but the record (a PEXPIRE is a write, replicated and appended to the
// AOF) and make two calls into Redis, not three. The replies carry what
// Go needs to build the session without reading again: the record
// written, the owner field, and after a retry the address of the
// rotation retried.
//
// The scripts read records with Lua's struct library, which Go checks
// once per store (see [Store.readsFixed]) rather than on every refresh;
// a server without it at all (miniredis) has the script decline.
//
// KEYS: sessions. ARGV: id, old ref (16 bytes), next ref (16 bytes),
// presented seq (decimal, at most 2^52), now, grace (ms), address (as
// encodeAddr; empty for none).
// It reads the record, the owner field and the address field with one
// HMGET and writes the record (and the address) with one HSET.
//
// Reply: {outcome, record, owner, address} (see rotation), the address
// only after a retry; after not found or fallback only the outcome.
var rotateScripts = [2]*redis.Script{
	redis.NewScript(rotateSource("sessFieldRoles")),
	redis.NewScript(rotateSource("sessFieldGen")),
}

// rotateSource is the source of a rotate script whose owner field is
// the Lua local ownerField (see luaFields).
func rotateSource(ownerField string) string {
	return luaFields + luaRecord + `
local addrField = ` + luaAddrOf("ARGV[1]") + `
local got = redis.call('HMGET', KEYS[1], ARGV[1], ` + ownerField + `, addrField)
local cur = got[1]
if not cur then return {0} end
local struct = rawget(_G, 'struct')
if not struct then return {6} end
local n = #cur
local ver, ref, seq, created, idle, rexp, rot, prev, seen
if n == rotatedLen then
  ver, ref, seq, created, idle, rexp, rot, prev, seen = struct.unpack(rotatedFormat, cur)
  if seq == 0 then return {6} end
  rot = created + rot
elseif n == freshLen then
  ver, ref, seq, created, idle, rexp, seen = struct.unpack(freshFormat, cur)
  if seq ~= 0 then return {6} end
else
  return {6}
end
if ver ~= recordFixed then return {6} end
local exp = created + rexp
seen = created + seen
local now = tonumber(ARGV[5])
if not (now < exp and now - seen < idle) then return {0} end
local at = now - created
local fits = at >= -relMax - 1 and at <= relMax
local value, outcome
if ref == ARGV[2] then
  if not fits or seq >= maxSeq then return {6} end
  outcome = 1
  value = struct.pack(rotatedFormat, ver, ARGV[3], seq + 1, created, idle, rexp, at, ref, at)
  if ARGV[7] == (got[3] or '') then
    redis.call('HSET', KEYS[1], ARGV[1], value)
  elseif ARGV[7] ~= '' then
    redis.call('HSET', KEYS[1], ARGV[1], value, addrField, ARGV[7])
  else
    redis.call('HSET', KEYS[1], ARGV[1], value)
    redis.call('HDEL', KEYS[1], addrField)
  end
elseif seq > 0 and prev == ARGV[2] and ref == ARGV[3] and now - rot < tonumber(ARGV[6]) then
  if not fits then return {6} end
  outcome, value = 2, string.sub(cur, 1, n - relLen) .. struct.pack(seenFormat, at)
  redis.call('HSET', KEYS[1], ARGV[1], value)
elseif tonumber(ARGV[4]) < seq then
  return {6} -- a reuse: Go ends the session
else
  return {0}
end
-- The hash must live until the new record's cover (see record.cover),
-- which the write of the previous use, seen, made sure of if seen is in
-- this period or a later one.
local period = (idle - idle % ttlSlackDivisor) / ttlSlackDivisor
if period < 1 then period = 1 end
local start = now - now % period
if seen < start then
  local cover = start + period + idle
  if exp < cover then cover = exp end
  local ttl = cover - now
  if ttl < 1 then ttl = 1 elseif ttl > maxTTL then ttl = maxTTL end
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
if outcome == 2 then return {2, value, got[2], got[3]} end
return {1, value, got[2]}
`
}

// probeScript tells whether the server's Lua has a struct library that
// reads the fixed layout's widths: a 6-byte 2^32 and a 5-byte -2. One
// built with a C long of 32 bits (a 32-bit Redis) would misread them,
// and records with them. Reply: 1 if it reads them, else 0.
var probeScript = redis.NewScript(`
local struct = rawget(_G, 'struct')
if not struct then return 0 end
local ok, wide, negative = pcall(struct.unpack, '>i6i5', '\0\1\0\0\0\0\255\255\255\255\254')
if ok and wide == 4294967296 and negative == -2 then return 1 end
return 0
`)
