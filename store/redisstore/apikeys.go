package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// API keys. An owner's keys are one hash, P{u:<name>}:k, with one field
// per key ID whose value is the key's record (see encodeAPIKey). It lives
// in the owner's slot, beside the user hash, so that [Store.UseAPIKey]
// reads the key and its owner and records the use in one script: one
// round trip on the request path, legal on Cluster.
//
// Lua decodes only the record's first number, the last use, to apply
// the touch rule; every other rule about keys (expiry, the cap, which
// keys an add drops) is decided in Go, and the scripts compare and swap
// the records Go read, as the session scripts do.
//
// The scripts that delete a key or change its record (but for the touch)
// publish an invalidation for [Options.LocalCache] naming the owner and
// the key (apiKeyField), as the session scripts do; a change of the owner
// publishes the owner alone, which drops their keys too.

var _ store.APIKeyStore = (*Store)(nil)

// apiKeysKey names the hash of owner's API keys.
func (s *Store) apiKeysKey(owner string) string {
	return s.prefix + "{u:" + owner + "}:k"
}

// A key's record is
//
//	<last used> <created> <expires> <generation> <roles> <name length> <name><secret>
//
// with the times in Unix milliseconds (last used 0 before the first use,
// expires empty for none), the generation in decimal, the roles joined
// with commas (see encodeRoles) and the secret's 32-byte digest as it
// is. The owner and the ID are the key and the field. A key with two
// roles and a short name takes about 100 bytes.

// encodeAPIKey returns k's record.
func encodeAPIKey(k store.APIKey) string {
	exp := ""
	if !k.ExpiresAt.IsZero() {
		exp = strconv.FormatInt(k.ExpiresAt.UnixMilli(), 10)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d %s %d %s %d ", millisOrZero(k.LastUsed), k.CreatedAt.UnixMilli(), exp,
		k.Generation, encodeRoles(k.Roles), len(k.Name))
	b.WriteString(k.Name)
	b.Write(k.Secret[:])
	return b.String()
}

// apiKeyFieldPrefix starts the name of a key in an invalidation message,
// where session IDs (idField) are 43 characters of base64url: a colon is
// in neither them nor a key ID. A store of an older version that does not
// know it drops the whole user, which is safe.
const apiKeyFieldPrefix = "k:"

// apiKeyField names owner's key id in an invalidation message.
func apiKeyField(id string) string { return apiKeyFieldPrefix + id }

// apiKeyTouchDue reports whether a use at now must be recorded when the
// last recorded one is last, both in Unix milliseconds (0 for none): the
// rule of [store.APIKeyTouchInterval], which useAPIKeyScript applies in
// Lua and the local cache in Go (TestUseAPIKeyScriptMatchesTouchRule
// holds the two together).
func apiKeyTouchDue(last, now int64) bool {
	return now-last >= store.APIKeyTouchInterval.Milliseconds()
}

// cloneAPIKeyUse returns a copy of u that shares no slice with it.
func cloneAPIKeyUse(u store.APIKeyUse) store.APIKeyUse {
	u.Key.Roles = slices.Clone(u.Key.Roles)
	u.Owner.Roles = slices.Clone(u.Owner.Roles)
	u.Owner.PasswordHash = slices.Clone(u.Owner.PasswordHash)
	return u
}

// errAPIKeyRecord reports a record the store cannot read.
var errAPIKeyRecord = errors.New("unreadable api key record")

// decodeAPIKey parses the record v of owner's key id.
func decodeAPIKey(owner, id, v string) (store.APIKey, error) {
	parts := strings.SplitN(v, " ", 7)
	if len(parts) != 7 {
		return store.APIKey{}, errAPIKeyRecord
	}
	last, err1 := strconv.ParseInt(parts[0], 10, 64)
	created, err2 := strconv.ParseInt(parts[1], 10, 64)
	gen, err3 := strconv.ParseUint(parts[3], 10, 64)
	n, err4 := strconv.Atoi(parts[5])
	roles, err5 := decodeRoles(parts[4])
	rest := parts[6]
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil || n < 0 || len(rest) != n+len(store.Digest{}) {
		return store.APIKey{}, errAPIKeyRecord
	}
	k := store.APIKey{
		ID: id, Owner: owner, Name: rest[:n], Roles: roles,
		CreatedAt: time.UnixMilli(created), Generation: gen,
	}
	copy(k.Secret[:], rest[n:])
	if last != 0 {
		k.LastUsed = time.UnixMilli(last)
	}
	if parts[2] != "" {
		exp, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return store.APIKey{}, errAPIKeyRecord
		}
		k.ExpiresAt = time.UnixMilli(exp)
	}
	return k, nil
}

// useAPIKeyScript is UseAPIKey's one round trip: it reads the key and,
// unless the users are external, the owner's roles, disabled flag,
// creation and generation, and records the use when the last recorded
// one is touch milliseconds old or more (the rule of
// [store.APIKeyTouchInterval]). It replies {0} when there is no key, or
// no owner, else {1, the record as it was, roles, disabled, created,
// gen}.
//
// KEYS: the owner's keys, the owner's user hash. ARGV: id, now (ms),
// touch (ms), external ("1" or "0").
var useAPIKeyScript = redis.NewScript(luaFields + `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {0} end
local u = {false, false, false, false}
if ARGV[4] ~= '1' then
  u = redis.call('HMGET', KEYS[2], userFieldRoles, userFieldDisabled, userFieldCreated, userFieldGen)
  if not u[4] then return {0} end
end
local last = string.match(v, '^%d+')
if last and tonumber(ARGV[2]) - tonumber(last) >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. string.sub(v, #last + 1))
end
return {1, v, u[1], u[2], u[3], u[4]}
`)

// addAPIKeyScript stores a key unless the owner is absent (with users
// of the store's own), its ID is taken, or the owner has max keys once
// the dead ones Go listed are gone. It deletes each dead key only if its
// record is still the one Go read, and publishes the invalidation when
// it deleted any. It replies "ok", "nouser", "exists" or "full".
//
// KEYS: the owner's keys, the owner's user hash. ARGV: id, record, max,
// external ("1" or "0"), the invalidation to publish (3 values), then
// pairs of a dead key's ID and record.
var addAPIKeyScript = redis.NewScript(luaPublish + `
if ARGV[4] ~= '1' and redis.call('EXISTS', KEYS[2]) == 0 then return 'nouser' end
local dropped = false
for i = 8, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    dropped = true
  end
end
if dropped then publish(5) end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
`)

// swapAPIKeyScript replaces a key's record while it is still the one Go
// read, publishes the invalidation and replies 1, else 0.
//
// KEYS: the owner's keys. ARGV: id, record read, record to write, the
// invalidation to publish (3 values).
var swapAPIKeyScript = redis.NewScript(luaPublish + `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
publish(4)
return 1
`)

// revokeAPIKeyScript deletes a key and, if it was there, publishes the
// invalidation; it replies the number of keys deleted.
//
// KEYS: the owner's keys. ARGV: id, the invalidation to publish (3
// values).
var revokeAPIKeyScript = redis.NewScript(luaPublish + `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if n == 1 then publish(2) end
return n
`)

// ownerGone reports, for a call on owner's keys, an invalid username as
// not found, after a context that is over: a name that fails
// [store.ValidateUsername] has no keys, and needs no round trip.
func ownerGone(ctx context.Context, op, owner string) error {
	if store.ValidateUsername(owner) == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return notFound(op)
}

// AddAPIKey implements [store.APIKeyStore]. It reads the owner's keys,
// then runs one script that drops those Go found expired, checks the
// owner, the ID and the cap, and writes.
func (s *Store) AddAPIKey(ctx context.Context, k store.APIKey) error {
	const op = "add api key"
	if err := k.Validate(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	key := s.apiKeysKey(k.Owner)
	all, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	now := s.now()
	var dead []any
	var fields []string
	for id, v := range all {
		// A record the store cannot read stays, and counts.
		if old, err := decodeAPIKey(k.Owner, id, v); err == nil && old.Expired(now) {
			dead = append(dead, id, v)
			fields = append(fields, apiKeyField(id))
		}
	}
	args := []any{k.ID, encodeAPIKey(k), store.MaxAPIKeys, boolFlag(s.external)}
	if len(dead) > 0 {
		args = append(args, s.pub.args(k.Owner, fields...)...)
	} else {
		args = append(args, noPublish...)
	}
	res, err := addAPIKeyScript.Run(ctx, s.client, []string{key, s.userKey(k.Owner)}, append(args, dead...)...).Text()
	if len(dead) > 0 {
		s.cache.invalidate(k.Owner, fields...) // even on error: the write may have landed
	}
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: %s: %w", op, err)
	case res == "ok":
		return nil
	case res == "nouser":
		return notFound(op)
	case res == "exists":
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrExists)
	case res == "full":
		return fmt.Errorf("redisstore: %s: %w: more than %d keys", op, store.ErrInvalid, store.MaxAPIKeys)
	}
	return fmt.Errorf("redisstore: %s: unexpected reply %q", op, res)
}

// UseAPIKey implements [store.APIKeyStore] with one script (one round
// trip): the key, its owner from the user hash, and the use recorded. A
// record the store cannot read is [store.ErrNotFound]: the key does not
// work.
//
// With [Options.LocalCache], a key found recently is answered from
// memory, with no round trip, while its last recorded use is younger
// than [store.APIKeyTouchInterval] by the store's clock: the read that
// must record a use always runs the script. The answer is then the key
// as Redis holds it, with the last use the script recorded.
func (s *Store) UseAPIKey(ctx context.Context, owner, id string) (store.APIKeyUse, error) {
	const op = "use api key"
	if err := ownerGone(ctx, op, owner); err != nil {
		return store.APIKeyUse{}, err
	}
	now := s.nowMillis()
	if use, ok := s.cache.getAPIKey(owner, id, now); ok {
		return use, nil
	}
	epoch := s.cache.epoch()
	use, err := s.useAPIKey(ctx, op, owner, id, now)
	if err != nil {
		return store.APIKeyUse{}, err
	}
	// What Redis holds now: the script recorded this use if it was due.
	last := millisOrZero(use.Key.LastUsed)
	if apiKeyTouchDue(last, now) {
		last = now
	}
	cached := use
	cached.Key.LastUsed = time.UnixMilli(last)
	s.cache.putAPIKey(epoch, cached, last)
	return use, nil
}

// useAPIKey runs useAPIKeyScript at now (Unix milliseconds).
func (s *Store) useAPIKey(ctx context.Context, op, owner, id string, now int64) (store.APIKeyUse, error) {
	reply, err := useAPIKeyScript.Run(ctx, s.client, []string{s.apiKeysKey(owner), s.userKey(owner)},
		id, now, store.APIKeyTouchInterval.Milliseconds(), boolFlag(s.external)).Slice()
	if err != nil {
		return store.APIKeyUse{}, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if code, _ := reply[0].(int64); code != 1 || len(reply) != 6 {
		return store.APIKeyUse{}, notFound(op)
	}
	rec, _ := reply[1].(string)
	k, err := decodeAPIKey(owner, id, rec)
	if err != nil {
		return store.APIKeyUse{}, fmt.Errorf("redisstore: %s: %w: %w", op, err, store.ErrNotFound)
	}
	use := store.APIKeyUse{Key: k}
	if s.external {
		return use, nil
	}
	// The fields of the user hash, in the order parseUser reads them,
	// without the password hash.
	u, err := parseUser(append([]any{nil}, reply[2:]...))
	if err != nil {
		return store.APIKeyUse{}, fmt.Errorf("redisstore: %s: user %q: %w", op, owner, err)
	}
	u.Username, u.PasswordHash = owner, nil
	use.Owner, use.OwnerKnown = u, true
	return use, nil
}

// APIKeys implements [store.APIKeyStore]. A record it cannot read fails
// the call, as an infrastructure error.
func (s *Store) APIKeys(ctx context.Context, owner string) ([]store.APIKey, error) {
	const op = "api keys"
	if err := ownerGone(ctx, op, owner); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	all, err := s.client.HGetAll(ctx, s.apiKeysKey(owner)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	out := make([]store.APIKey, 0, len(all))
	for id, v := range all {
		k, err := decodeAPIKey(owner, id, v)
		if err != nil {
			return nil, fmt.Errorf("redisstore: %s: key %q: %w", op, id, err)
		}
		out = append(out, k)
	}
	store.SortAPIKeys(out)
	return out, nil
}

// ExpireAPIKey implements [store.APIKeyStore]: it reads the record and,
// when at is earlier, swaps in one with the new expiry, again if a use
// recorded in between changed the record. Expiry is kept in whole
// milliseconds, at rounded down.
func (s *Store) ExpireAPIKey(ctx context.Context, owner, id string, at time.Time) error {
	const op = "expire api key"
	if at.IsZero() {
		return fmt.Errorf("redisstore: %s: %w: zero expiry", op, store.ErrInvalid)
	}
	if err := ownerGone(ctx, op, owner); err != nil {
		return err
	}
	at = time.UnixMilli(at.UnixMilli())
	key := s.apiKeysKey(owner)
	for range maxAttempts {
		v, err := s.client.HGet(ctx, key, id).Result()
		if errors.Is(err, redis.Nil) {
			return notFound(op)
		}
		if err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
		k, err := decodeAPIKey(owner, id, v)
		if err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if !k.ExpiresAt.IsZero() && !at.Before(k.ExpiresAt) {
			return nil
		}
		k.ExpiresAt = at
		args := append([]any{id, v, encodeAPIKey(k)}, s.pub.args(owner, apiKeyField(id))...)
		n, err := s.run(ctx, true, swapAPIKeyScript, []string{key}, args...).Int()
		s.cache.invalidate(owner, apiKeyField(id)) // even on error: the write may have landed
		if err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if n == 1 {
			return nil
		}
	}
	return fmt.Errorf("redisstore: %s: %w", op, errContention)
}

// RevokeAPIKey implements [store.APIKeyStore] with one script: an HDEL
// and the invalidation published.
func (s *Store) RevokeAPIKey(ctx context.Context, owner, id string) error {
	const op = "revoke api key"
	if err := ownerGone(ctx, op, owner); err != nil {
		return err
	}
	args := append([]any{id}, s.pub.args(owner, apiKeyField(id))...)
	n, err := s.run(ctx, true, revokeAPIKeyScript, []string{s.apiKeysKey(owner)}, args...).Int()
	s.cache.invalidate(owner, apiKeyField(id)) // even on error: the write may have landed
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}
