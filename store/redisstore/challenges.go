package redisstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// Challenges. Each is one string key, P{c:<id>}, named by the id in
// base64url, holding "<expiry ms>:<value>" with the expiry read from the
// store's clock. The key's TTL (PX, the time left on that clock) lets
// Redis drop it; whether it is live is decided in Go from the stored
// expiry, so a fake clock in tests works as the real one does.

var _ store.ChallengeStore = (*Store)(nil)

// challengeKey names the key of challenge id.
func (s *Store) challengeKey(id store.Digest) string {
	return s.prefix + "{c:" + base64.RawURLEncoding.EncodeToString(id[:]) + "}"
}

// putChallengeScript stores a challenge unless a live one holds the key.
// It replies 1, or 0 for a live one.
//
// KEYS: challenge. ARGV: now (ms), record, ttl (ms).
var putChallengeScript = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old then
  local exp = string.match(old, '^(%d+):')
  if exp and tonumber(exp) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// PutChallenge implements [store.ChallengeStore].
func (s *Store) PutChallenge(ctx context.Context, id store.Digest, value []byte, expiresAt time.Time) error {
	now := s.now()
	if err := store.ValidateChallenge(value, expiresAt, now); err != nil {
		return fmt.Errorf("redisstore: put challenge: %w", err)
	}
	exp := expiresAt.UnixMilli()
	ttl := max(exp-now.UnixMilli(), 1)
	rec := strconv.AppendInt(nil, exp, 10)
	rec = append(append(rec, ':'), value...)
	ok, err := putChallengeScript.Run(ctx, s.client, []string{s.challengeKey(id)}, now.UnixMilli(), rec, ttl).Int()
	if err != nil {
		return fmt.Errorf("redisstore: put challenge: %w", err)
	}
	if ok == 0 {
		return fmt.Errorf("redisstore: put challenge: %w", store.ErrExists)
	}
	return nil
}

// Challenge implements [store.ChallengeStore].
func (s *Store) Challenge(ctx context.Context, id store.Digest) ([]byte, error) {
	v, err := s.client.Get(ctx, s.challengeKey(id)).Bytes()
	return s.liveChallenge("challenge", v, err)
}

// TakeChallenge implements [store.ChallengeStore]: one GETDEL, which
// deletes an expired challenge as well.
func (s *Store) TakeChallenge(ctx context.Context, id store.Digest) ([]byte, error) {
	v, err := s.client.GetDel(ctx, s.challengeKey(id)).Bytes()
	return s.liveChallenge("take challenge", v, err)
}

// liveChallenge returns the value of the record v read with err, if it
// is live on the store's clock.
func (s *Store) liveChallenge(op string, v []byte, err error) ([]byte, error) {
	if errors.Is(err, redis.Nil) {
		return nil, notFound(op)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	e, value, ok := bytes.Cut(v, []byte(":"))
	exp, perr := strconv.ParseInt(string(e), 10, 64)
	if !ok || perr != nil {
		// A record this store did not write: no challenge (fail closed).
		return nil, fmt.Errorf("redisstore: %s: unreadable record: %w", op, store.ErrNotFound)
	}
	if s.nowMillis() >= exp {
		return nil, notFound(op)
	}
	return value, nil
}
