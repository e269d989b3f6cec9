package redisstore

import "github.com/redis/go-redis/v9"

// The scripts below are the only code that changes more than one key.
// Each receives the keys it names in KEYS, all under one user's hash tag:
// that is what keeps them on one cluster slot and lets Redis Cluster route
// them.
//
// One exception: the scripts that walk a user's session index
// (createSessionScript, to cap the sessions, and sessionsScript) read the
// index members, which are session IDs, and build each session's key from
// ARGV prefix .. id, since they cannot know the members before they run.
// The prefix, P{u:<name>}:s:, carries the user's hash tag, so these keys
// are on the slot of the declared ones; Redis Cluster allows undeclared
// keys of the script's own slot.
//
// Times are integer milliseconds: ARGV now is the store's clock, so
// liveness never depends on the Redis server's clock; TTLs are only a
// backstop that lets Redis drop what is dead anyway.

// luaPrelude defines the liveness rule and the TTL rule once for every
// script that needs them. A session hash is read as HMGET SESSION, a user
// hash as HMGET USER.
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
local SESSION = {'ref', 'gen', 'created', 'seen', 'idle', 'exp', 'seq', 'prev', 'rot'}
local USER = {'gen', 'disabled', 'roles'}
`

// Replies of the scripts that report an outcome.
const (
	replyNotFound = 0
	replyOK       = 1
	replyExists   = 2
	replyReused   = 3
	replyStale    = 4
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
// also ends all its sessions and logins in flight by moving to the next
// generation in the same step. A plain HSET would create a partial user
// when the user is absent.
//
// KEYS: user. ARGV: field, value, bump ("1" or "0").
var updateUserScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'gen', 1) end
return 1
`)

// rehashScript replaces the password hash only while both the hash and
// the generation are the ones the caller verified against.
//
// KEYS: user. ARGV: gen, old hash, new hash.
// Reply: 0 no such user, 1 replaced, 4 hash or generation changed.
var rehashScript = redis.NewScript(`
local u = redis.call('HMGET', KEYS[1], 'gen', 'hash')
if not u[1] then return 0 end
if u[1] ~= ARGV[1] or u[2] ~= ARGV[2] then return 4 end
redis.call('HSET', KEYS[1], 'hash', ARGV[3])
return 1
`)

// createSessionScript stores a session in its user's current generation,
// provided that is still the generation the caller read, and indexes it.
// A dead session under the same ID is replaced; a live one is left alone.
//
// With a cap (max > 0) it then walks the index, oldest expiry first,
// deletes the sessions that are no longer live, and revokes the oldest
// live ones but the new one until the user has max.
//
// KEYS: user, session, index.
// ARGV: now, id, ref, idle, exp, gen, max, session key prefix.
// Reply: 0 no such user, 1 created, 2 ID in use, 4 stale generation.
var createSessionScript = redis.NewScript(luaPrelude + `
local now = tonumber(ARGV[1])
local u = redis.call('HMGET', KEYS[1], unpack(USER))
if not u[1] or u[2] == '1' then return 0 end
if u[1] ~= ARGV[6] then return 4 end
if live(redis.call('HMGET', KEYS[2], unpack(SESSION)), u, now) then return 2 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'ref', ARGV[3], 'gen', u[1], 'created', ARGV[1],
  'seen', ARGV[1], 'idle', ARGV[4], 'exp', ARGV[5], 'seq', 0)
redis.call('PEXPIRE', KEYS[2], ttl(now, tonumber(ARGV[4]), tonumber(ARGV[5])))
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
local max = tonumber(ARGV[7])
if max > 0 then
  local others = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if id ~= ARGV[2] then
      local k = ARGV[8] .. id
      if live(redis.call('HMGET', k, unpack(SESSION)), u, now) then
        others[#others + 1] = id
      else
        redis.call('DEL', k)
        redis.call('ZREM', KEYS[3], id)
      end
    end
  end
  for i = 1, #others - (max - 1) do
    redis.call('DEL', ARGV[8] .. others[i])
    redis.call('ZREM', KEYS[3], others[i])
  end
end
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[3], ms(tonumber(last[2]) - now))
return 1
`)

// luaRead opens the scripts that act on one existing session, with KEYS
// session, user and ARGV now: it reads the session and its owner into s
// and u.
const luaRead = luaPrelude + `
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], unpack(SESSION))
local u = redis.call('HMGET', KEYS[2], unpack(USER))
`

// luaSession is luaRead for the scripts that change the session, with
// KEYS session, user, index and ARGV now, id. It defines
//
//   - forget, which deletes the session and its index entry;
//   - extend, which pushes the session key's TTL back after a use.
const luaSession = luaRead + `
local function forget()
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[2])
end
local function extend()
  redis.call('PEXPIRE', KEYS[1], ttl(now, tonumber(s[5]), tonumber(s[6])))
end
`

// sessionScript reads a live session and marks it used, in one round
// trip. A stored session that is no longer live is deleted on the way.
//
// KEYS: session, user, index. ARGV: now, id.
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

// peekScript reads a live session without writing anything.
//
// KEYS: session, user. ARGV: now.
// Reply: nil, or {created, seen, idle, exp, roles}.
var peekScript = redis.NewScript(luaRead + `
if not live(s, u, now) then return false end
return {s[3], s[4], s[5], s[6], u[3]}
`)

// sessionsScript lists a user's live sessions without writing anything.
//
// KEYS: user, index. ARGV: now, session key prefix.
// Reply: {} for a user that is absent or disabled, else {roles, then
// id, created, seen, idle, exp for each live session}.
var sessionsScript = redis.NewScript(luaPrelude + `
local now = tonumber(ARGV[1])
local u = redis.call('HMGET', KEYS[1], unpack(USER))
if not u[1] or u[2] == '1' then return {} end
local out = {u[3]}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local s = redis.call('HMGET', ARGV[2] .. id, unpack(SESSION))
  if live(s, u, now) then
    for _, v in ipairs({id, s[3], s[4], s[5], s[6]}) do out[#out + 1] = v end
  end
end
return out
`)

// rotateScript rotates a session's refresh token. Being one script, the
// compare and the swap cannot interleave with another rotation, so a
// token wins at most once. The session keeps only the current digest ref
// with its sequence number seq, the previous digest prev and the time rot
// of the last rotation:
//
//   - old = ref rotates: prev = ref, ref = next, seq + 1, rot = now;
//   - old = prev, next = ref and now < rot + grace is a retry of that
//     rotation: only the use is recorded;
//   - otherwise a seq below the session's is a replay, which revokes the
//     session, and anything else was never issued.
//
// A session stored without seq (by an older version) counts as seq 0.
//
// KEYS: session, user, index. ARGV: now, id, old, seq, next, grace.
// Reply: {0} not found, {3} reused, or {1, created, seen, idle, exp, roles}.
var rotateScript = redis.NewScript(luaSession + `
if not live(s, u, now) then
  if s[1] then forget() end
  return {0}
end
local retry = s[8] == ARGV[3] and s[1] == ARGV[5] and now < tonumber(s[9]) + tonumber(ARGV[6])
if s[1] == ARGV[3] then
  redis.call('HSET', KEYS[1], 'ref', ARGV[5], 'prev', s[1], 'rot', ARGV[1], 'seen', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'seq', 1)
elseif retry then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
elseif tonumber(ARGV[4]) < (tonumber(s[7]) or 0) then
  forget()
  return {3}
else
  return {0}
end
extend()
return {1, s[3], ARGV[1], s[5], s[6], u[3]}
`)

// revokeSessionScript deletes a session and its index entry together.
//
// KEYS: session, index. ARGV: id.
var revokeSessionScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// revokeAllScript ends every session of a user. Moving the user to the
// next generation is what guarantees it, even for a session created after
// the caller listed the index; deleting the listed keys only frees memory
// early. The user key is checked first so that the HINCRBY never creates
// a partial user.
//
// KEYS: user, index, then any number of session keys.
var revokeAllScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'gen', 1)
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`)
