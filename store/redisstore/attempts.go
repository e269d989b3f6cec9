package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// Failure counters. Each counter is a hash of its own,
//
//	<prefix>{a:<base64url of SHA-256 of the caller's key>}
//
// with fields n (failures), t (last failure) and x (expiry), both times in
// milliseconds of the store's clock, beside a sorted set of its pending
// attempts, the same name with ":p" appended, each attempt id scored by
// its deadline (and the tombstones of attempts ended before they began,
// scored minus their expiry). The counter's name is the hash tag of both keys, so the
// counters of one login (per user, per address, per pair) spread over a
// cluster's slots and no command ever needs two of them; the digest keeps
// the caller's bytes, which may hold '{', '}' or a user's address, out of
// key names.
//
// Every counter operation works on one counter, so a call sends one
// command per counter, all in one pipeline: one round trip, even on a
// cluster, where go-redis sends each node its share at once.

// attemptKeys returns the Redis keys of the counter named key: its hash
// and the sorted set of its pending attempts.
func (s *Store) attemptKeys(key string) []string {
	sum := sha256.Sum256([]byte(key))
	k := s.prefix + "{a:" + base64.RawURLEncoding.EncodeToString(sum[:]) + "}"
	return []string{k, k + ":p"}
}

// attemptPrelude holds the rule for a live counter, the only copy of it:
// every script below uses it, so reads and updates cannot disagree. A
// counter is read as HMGET n t x, and an attempt is pending while the
// store's clock is before its deadline. The rule follows the store's
// clock, ARGV[1]; the keys' TTLs, in Redis's time, only free the memory.
const attemptPrelude = `
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'n', 't', 'x')
local n, t = 0, 0
if c[1] and c[3] and now < tonumber(c[3]) then
  n, t = tonumber(c[1]), tonumber(c[2])
end
local function pending()
  return redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[1], '+inf')
end
`

// attemptsScript reads one counter: {failures, last ms, pending}.
//
// KEYS: counter, pending. ARGV: now.
var attemptsScript = redis.NewScript(attemptPrelude + `
return {n, t, pending()}
`)

// beginScript registers a pending attempt and returns the counter as it
// was before: {failures, last ms, pending}. The pending set lives as long
// as its latest deadline. An attempt already ended (a tombstone, see
// endScript) is not registered. Expired entries go first: pending
// attempts score their deadline, so those at or before now; tombstones
// score minus their expiry, so those at or after -now.
//
// KEYS: counter, pending. ARGV: now, id, deadline ms.
var beginScript = redis.NewScript(attemptPrelude + `
redis.call('ZREMRANGEBYSCORE', KEYS[2], -now, now)
local p = pending()
local life = tonumber(ARGV[3]) - now
if life > 0 and not redis.call('ZSCORE', KEYS[2], '~' .. ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  if redis.call('PTTL', KEYS[2]) < life then
    redis.call('PEXPIRE', KEYS[2], life)
  end
end
return {n, t, p}
`)

// endScript ends a pending attempt, counting it as a failure when asked
// (starting again from one when the counter has expired), and returns
// {failures, last ms, pending} as left. An attempt that is not pending
// may not have begun yet: a begin and the end that takes it back, sent
// on two connections to a server that was paused, can run in either
// order. It leaves a tombstone, "~" and the id, scored minus its expiry
// (now + ttl) so that no pending count sees it, which stops a late begin.
//
// KEYS: counter, pending. ARGV: now, id, failed (0 or 1), expiry (now +
// ttl), ttl, both in milliseconds.
var endScript = redis.NewScript(attemptPrelude + `
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then
  redis.call('ZADD', KEYS[2], -tonumber(ARGV[4]), '~' .. ARGV[2])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
end
if ARGV[3] == '1' then
  n, t = n + 1, now
  redis.call('HSET', KEYS[1], 'n', n, 't', ARGV[1], 'x', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return {n, t, pending()}
`)

// Attempts implements [store.AttemptStore].
func (s *Store) Attempts(ctx context.Context, keys ...string) ([]store.Attempt, error) {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("redisstore: attempts: %w", err)
	}
	out, err := s.evalEach(ctx, attemptsScript, keys, s.nowMillis())
	if err != nil {
		return nil, fmt.Errorf("redisstore: attempts: %w", err)
	}
	return out, nil
}

// BeginAttempt implements [store.AttemptStore].
func (s *Store) BeginAttempt(ctx context.Context, id string, deadline time.Time, keys ...string) ([]store.Attempt, error) {
	if err := store.ValidateAttemptID(id); err != nil {
		return nil, fmt.Errorf("redisstore: begin attempt: %w", err)
	}
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("redisstore: begin attempt: %w", err)
	}
	out, err := s.evalEach(ctx, beginScript, keys, s.nowMillis(), id, deadline.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("redisstore: begin attempt: %w", err)
	}
	return out, nil
}

// EndAttempt implements [store.AttemptStore].
func (s *Store) EndAttempt(ctx context.Context, id string, failed bool, ttl time.Duration, keys ...string) ([]store.Attempt, error) {
	if failed && ttl <= 0 {
		return nil, fmt.Errorf("redisstore: end attempt: %w: ttl %v is not positive", store.ErrInvalid, ttl)
	}
	if err := store.ValidateAttemptID(id); err != nil {
		return nil, fmt.Errorf("redisstore: end attempt: %w", err)
	}
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("redisstore: end attempt: %w", err)
	}
	// Redis counts in whole milliseconds; a ttl under one becomes one, so
	// that a positive ttl never means "already expired". A time.Duration
	// is at most maxMillis ms, which PEXPIRE and Lua numbers hold exactly.
	ms := max(ttl.Milliseconds(), 1)
	now := s.nowMillis()
	flag := 0
	if failed {
		flag = 1
	}
	out, err := s.evalEach(ctx, endScript, keys, now, id, flag, now+ms, ms)
	if err != nil {
		return nil, fmt.Errorf("redisstore: end attempt: %w", err)
	}
	return out, nil
}

// ResetAttempts implements [store.AttemptStore]. It deletes with one DEL
// per counter rather than one DEL of all keys: the counters lie in
// different slots, which a cluster rejects in one command (CROSSSLOT).
func (s *Store) ResetAttempts(ctx context.Context, keys ...string) error {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return fmt.Errorf("redisstore: reset attempts: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, s.attemptKeys(k)...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisstore: reset attempts: %w", err)
	}
	return nil
}

// evalEach runs script once for each counter of keys, with the same args,
// in one pipeline, and returns the {failures, last ms, pending} replies in
// order.
//
// The pipeline sends EVALSHA, which carries only the script's digest. A
// node that does not know the script (a fresh server, a restart, SCRIPT
// FLUSH, a failover) answers NOSCRIPT without running it; only those
// commands are sent again, as EVAL, which runs the script and caches it
// on that node. Resending only them matters: on a cluster some nodes may
// know the script and others not, and a command that ran must not run
// twice. This is what [redis.Script.Run] does for a single command.
func (s *Store) evalEach(ctx context.Context, script *redis.Script, keys []string, args ...any) ([]store.Attempt, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	names := make([][]string, len(keys))
	cmds := make([]*redis.Cmd, len(keys))
	pipe := s.client.Pipeline()
	for i, k := range keys {
		names[i] = s.attemptKeys(k)
		cmds[i] = script.EvalSha(ctx, pipe, names[i], args...)
	}
	if err := execReplies(ctx, pipe); err != nil {
		return nil, err
	}

	var retry []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		pipe = s.client.Pipeline()
		for _, i := range retry {
			cmds[i] = script.Eval(ctx, pipe, names[i], args...)
		}
		if err := execReplies(ctx, pipe); err != nil {
			return nil, err
		}
	}

	out := make([]store.Attempt, len(keys))
	for i, cmd := range cmds {
		a, err := parseAttempt(cmd)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// execReplies sends pipe and returns the error that failed the whole
// round trip (connection, context). An error reply of one command, such
// as NOSCRIPT, is left in its command for the caller to inspect.
func execReplies(ctx context.Context, pipe redis.Pipeliner) error {
	_, err := pipe.Exec(ctx)
	var reply redis.Error
	if err != nil && !errors.As(err, &reply) {
		return err
	}
	return nil
}

// parseAttempt reads a {failures, last ms, pending} script reply.
func parseAttempt(cmd *redis.Cmd) (store.Attempt, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return store.Attempt{}, err
	}
	if len(v) != 3 {
		return store.Attempt{}, fmt.Errorf("counter reply has %d values, want 3", len(v))
	}
	a := store.Attempt{Pending: int(v[2])}
	if v[0] != 0 {
		a.Failures, a.Last = int(v[0]), time.UnixMilli(v[1])
	}
	return a, nil
}
