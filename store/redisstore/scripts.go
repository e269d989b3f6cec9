package redisstore

import "github.com/redis/go-redis/v9"

// The scripts below are the only code that changes more than one key.
// Each receives every key it touches in KEYS, all under one user's hash
// tag, and never builds a key itself: that is what keeps them on one
// cluster slot and lets Redis Cluster route them.
//
// Times are integer milliseconds: ARGV now is the store's clock, so
// liveness never depends on the Redis server's clock; TTLs are only a
// backstop that lets Redis drop what is dead anyway.

// luaPrelude defines the liveness rule and the TTL rule once for every
// script that needs them. A session hash is read as
// HMGET ref gen created seen idle exp, a user hash as HMGET gen disabled
// roles.
//
// TTLs are capped at MAXTTL ms (about 292 years, the longest
// time.Duration) so that no client or tool that reads them back as a
// duration overflows; liveness still follows the stored expiry. ms formats
// a TTL as an integer because Lua would print a large number with an
// exponent, which PEXPIRE rejects.
const luaPrelude = `
local function live(s, u, now)
  if not s[1] or not u[1] then return false end
  if u[2] == '1' or s[2] ~= u[1] then return false end
  return now < tonumber(s[6]) and now < tonumber(s[4]) + tonumber(s[5])
end
local MAXTTL = 9223372036854
local function ms(x)
  return string.format('%d', math.max(1, math.min(x, MAXTTL)))
end
local function ttl(now, idle, exp)
  return ms(math.min(now + idle, exp) - now)
end
local SESSION = {'ref', 'gen', 'created', 'seen', 'idle', 'exp'}
local USER = {'gen', 'disabled', 'roles'}
`

// Replies of the scripts that report an outcome.
const (
	replyNotFound = 0
	replyOK       = 1
	replyExists   = 2
	replyReused   = 3
)

// createUserScript creates a user unless the key exists, so two
// concurrent creates cannot both succeed or merge.
//
// KEYS: user. ARGV: hash, roles, disabled, created, gen.
var createUserScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'roles', ARGV[2],
  'disabled', ARGV[3], 'created', ARGV[4], 'gen', ARGV[5])
return 1
`)

// updateUserScript sets one field of an existing user, and with bump
// also ends all its sessions by moving to the next generation. A plain
// HSET would create a partial user when the user is absent.
//
// KEYS: user. ARGV: field, value, bump ("1" or "0").
var updateUserScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'gen', 1) end
return 1
`)

// createSessionScript stores a session in its user's current generation
// and indexes it. A dead session under the same ID is replaced, with its
// rotated digests; a live one is left alone.
//
// KEYS: user, session, old, index. ARGV: now, id, ref, idle, exp.
var createSessionScript = redis.NewScript(luaPrelude + `
local now = tonumber(ARGV[1])
local u = redis.call('HMGET', KEYS[1], unpack(USER))
if not u[1] or u[2] == '1' then return 0 end
if live(redis.call('HMGET', KEYS[2], unpack(SESSION)), u, now) then return 2 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], 'ref', ARGV[3], 'gen', u[1], 'created', ARGV[1],
  'seen', ARGV[1], 'idle', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl(now, tonumber(ARGV[4]), tonumber(ARGV[5])))
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[4], ms(tonumber(last[2]) - now))
return 1
`)

// luaSession opens the scripts that act on one existing session, with
// KEYS session, user, old, index and ARGV now, id: it reads the session
// and its owner into s and u, and defines
//
//   - forget, which deletes the session, its rotated digests and its index
//     entry;
//   - extend, which pushes both session keys' TTLs back after a use.
const luaSession = luaPrelude + `
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], unpack(SESSION))
local u = redis.call('HMGET', KEYS[2], unpack(USER))
local function forget()
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[2])
end
local function extend()
  local t = ttl(now, tonumber(s[5]), tonumber(s[6]))
  redis.call('PEXPIRE', KEYS[1], t)
  redis.call('PEXPIRE', KEYS[3], t)
end
`

// sessionScript reads a live session and marks it used, in one round
// trip. A stored session that is no longer live is deleted on the way.
//
// KEYS: session, user, old, index. ARGV: now, id.
// Reply: nil, or {created, seen, idle, exp, roles}.
var sessionScript = redis.NewScript(luaSession + `
if not live(s, u, now) then
  if s[1] then forget() end
  return false
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
extend()
return {s[3], ARGV[1], s[5], s[6], u[3]}
`)

// rotateScript swaps the current refresh digest for the next one. Being
// one script, the compare and the swap cannot interleave with another
// rotation, so a token wins at most once; a token found among the
// rotated ones is a replay and ends the session.
//
// KEYS: session, user, old, index. ARGV: now, id, old digest, next digest.
// Reply: {0} not found, {3} reused, or {1, created, seen, idle, exp, roles}.
var rotateScript = redis.NewScript(luaSession + `
if not live(s, u, now) then
  if s[1] then forget() end
  return {0}
end
if s[1] == ARGV[3] then
  redis.call('HSET', KEYS[1], 'ref', ARGV[4], 'seen', ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[3])
  extend()
  return {1, s[3], ARGV[1], s[5], s[6], u[3]}
end
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then
  forget()
  return {3}
end
return {0}
`)

// revokeSessionScript deletes a session, its rotated digests and its
// index entry together.
//
// KEYS: session, old, index. ARGV: id.
var revokeSessionScript = redis.NewScript(`
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`)

// revokeAllScript ends every session of a user. Moving the user to the
// next generation is what guarantees it, even for a session created after
// the caller listed the index; deleting the listed keys only frees memory
// early. The user key is checked first so that the HINCRBY never creates
// a partial user.
//
// KEYS: user, index, then any number of session and old keys.
var revokeAllScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'gen', 1)
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`)
