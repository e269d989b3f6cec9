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
// milliseconds of the store's clock. The key is its own hash tag, so the
// counters of one login (per user, per address, per pair) spread over a
// cluster's slots and no command ever needs two of them; the digest keeps
// the caller's bytes, which may hold '{', '}' or a user's address, out of
// key names.
//
// Every counter operation works on one key, so a call sends one command
// per key, all in one pipeline: one round trip, even on a cluster, where
// go-redis sends each node its share at once.

// attemptKey returns the Redis key of the counter named key.
func (s *Store) attemptKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "{a:" + base64.RawURLEncoding.EncodeToString(sum[:]) + "}"
}

// attemptPrelude holds the rule for a live counter, the only copy of it:
// both scripts below use it, so reads and updates cannot disagree. A
// counter is read as HMGET n t x. The rule follows the store's clock,
// ARGV[1]; the key's TTL, in Redis's time, only frees the memory.
const attemptPrelude = `
local now = tonumber(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'n', 't', 'x')
local live = c[1] and c[3] and now < tonumber(c[3])
`

// attemptsScript reads one counter: {failures, last ms}, or {0, 0} when it
// is absent or expired.
//
// KEYS: counter. ARGV: now.
var attemptsScript = redis.NewScript(attemptPrelude + `
if not live then return {0, 0} end
return {tonumber(c[1]), tonumber(c[2])}
`)

// addFailureScript adds one failure to a counter, starting again from
// one when it has expired, and returns {failures, last ms}.
//
// KEYS: counter. ARGV: now, expiry (now + ttl), ttl, all in milliseconds.
var addFailureScript = redis.NewScript(attemptPrelude + `
local n = 1
if live then
  n = redis.call('HINCRBY', KEYS[1], 'n', 1)
else
  redis.call('HSET', KEYS[1], 'n', 1)
end
redis.call('HSET', KEYS[1], 't', ARGV[1], 'x', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {n, now}
`)

// forgiveScript takes one failure back from a live counter, deleting it
// at zero, and returns {failures, last ms} as left.
//
// KEYS: counter. ARGV: now.
var forgiveScript = redis.NewScript(attemptPrelude + `
if not live then return {0, 0} end
local n = redis.call('HINCRBY', KEYS[1], 'n', -1)
if n <= 0 then
  redis.call('DEL', KEYS[1])
  return {0, 0}
end
return {n, tonumber(c[2])}
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

// AddFailure implements [store.AttemptStore].
func (s *Store) AddFailure(ctx context.Context, ttl time.Duration, keys ...string) ([]store.Attempt, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("redisstore: add failure: %w: ttl %v is not positive", store.ErrInvalid, ttl)
	}
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("redisstore: add failure: %w", err)
	}
	// Redis counts in whole milliseconds; a ttl under one becomes one, so
	// that a positive ttl never means "already expired". A time.Duration
	// is at most maxMillis ms, which PEXPIRE and Lua numbers hold exactly.
	ms := max(ttl.Milliseconds(), 1)
	now := s.nowMillis()
	out, err := s.evalEach(ctx, addFailureScript, keys, now, now+ms, ms)
	if err != nil {
		return nil, fmt.Errorf("redisstore: add failure: %w", err)
	}
	return out, nil
}

// ForgiveFailure implements [store.AttemptStore].
func (s *Store) ForgiveFailure(ctx context.Context, keys ...string) error {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return fmt.Errorf("redisstore: forgive failure: %w", err)
	}
	if _, err := s.evalEach(ctx, forgiveScript, keys, s.nowMillis()); err != nil {
		return fmt.Errorf("redisstore: forgive failure: %w", err)
	}
	return nil
}

// ResetAttempts implements [store.AttemptStore]. It deletes with one DEL
// per key rather than one DEL of all keys: the keys lie in different
// slots, which a cluster rejects in one command (CROSSSLOT).
func (s *Store) ResetAttempts(ctx context.Context, keys ...string) error {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return fmt.Errorf("redisstore: reset attempts: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, s.attemptKey(k))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisstore: reset attempts: %w", err)
	}
	return nil
}

// evalEach runs script once for each counter of keys, with the same args,
// in one pipeline, and returns the {failures, last ms} replies in order.
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
	names := make([]string, len(keys))
	cmds := make([]*redis.Cmd, len(keys))
	pipe := s.client.Pipeline()
	for i, k := range keys {
		names[i] = s.attemptKey(k)
		cmds[i] = script.EvalSha(ctx, pipe, names[i:i+1], args...)
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
			cmds[i] = script.Eval(ctx, pipe, names[i:i+1], args...)
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

// parseAttempt reads a {failures, last ms} script reply.
func parseAttempt(cmd *redis.Cmd) (store.Attempt, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return store.Attempt{}, err
	}
	if len(v) != 2 {
		return store.Attempt{}, fmt.Errorf("counter reply has %d values, want 2", len(v))
	}
	if v[0] == 0 {
		return store.Attempt{}, nil
	}
	return store.Attempt{Failures: int(v[0]), Last: time.UnixMilli(v[1])}, nil
}
