package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// Second factors and recovery codes. A user's factors are one hash,
// P{u:<name>}:f, with one field per factor named "<kind>:<id>", whose
// value is the factor's record (see encodeFactor); the user's recovery
// codes are one set, P{u:<name>}:r, of 32-byte digests. Both live in the
// user's slot, so each change is one script on one key.
//
// A passkey's credential ID is unique across users, which needs an
// index from the ID to its owner: P{f:<digest>}, a string holding the
// username, named by the base64url SHA-256 of "<kind>:<id>" (its own
// hash tag: on Cluster it lives in another slot than the user's hash,
// so no script can write both). AddFactor claims it first (SET NX),
// then writes the factor, and releases the claim when that fails;
// RemoveFactor deletes the factor, then releases the claim. An entry
// left behind by a crash between the two steps names a user who does
// not hold the factor: FactorOwner ignores it (it confirms the owner
// holds the factor), and only the named user can add that credential
// until the entry is deleted.

var (
	_ store.FactorStore       = (*Store)(nil)
	_ store.RecoveryCodeStore = (*Store)(nil)
)

// factorsKey names the hash of username's factors.
func (s *Store) factorsKey(username string) string {
	return s.prefix + "{u:" + username + "}:f"
}

// recoveryKey names the set of username's recovery-code digests.
func (s *Store) recoveryKey(username string) string {
	return s.prefix + "{u:" + username + "}:r"
}

// ownerKey names the index entry of a passkey's credential ID.
func (s *Store) ownerKey(kind store.FactorKind, id string) string {
	sum := sha256.Sum256([]byte(string(kind) + ":" + id))
	return s.prefix + "{f:" + base64.RawURLEncoding.EncodeToString(sum[:]) + "}"
}

// factorField names a factor's field in the user's hash.
func factorField(kind store.FactorKind, id string) string { return string(kind) + ":" + id }

// A factor's record is
//
//	<counter> <confirmed> <last used> <created> <name length> <name><data>
//
// with the counter in decimal (no leading zeros), confirmed "0" or "1",
// the times in Unix milliseconds (last used 0 before the first use) and
// the name's length in bytes. The scripts read and rewrite only the
// first three, and keep the rest as it is.

// encodeFactor returns f's record.
func encodeFactor(f store.Factor) string {
	confirmed := "0"
	if f.Confirmed {
		confirmed = "1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %d %d %d ", f.Counter, confirmed, millisOrZero(f.LastUsed), f.CreatedAt.UnixMilli(), len(f.Name))
	b.WriteString(f.Name)
	b.Write(f.Data)
	return b.String()
}

// millisOrZero returns t in Unix milliseconds, 0 for the zero time.
func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// decodeFactor parses the record v of the factor in field.
func decodeFactor(field, v string) (store.Factor, error) {
	kind, id, ok := strings.Cut(field, ":")
	parts := strings.SplitN(v, " ", 6)
	if !ok || len(parts) != 6 || (parts[1] != "0" && parts[1] != "1") {
		return store.Factor{}, errors.New("unreadable factor record")
	}
	counter, err1 := strconv.ParseUint(parts[0], 10, 64)
	last, err2 := strconv.ParseInt(parts[2], 10, 64)
	created, err3 := strconv.ParseInt(parts[3], 10, 64)
	n, err4 := strconv.Atoi(parts[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil || n < 0 || n > len(parts[5]) {
		return store.Factor{}, errors.New("unreadable factor record")
	}
	f := store.Factor{
		Kind: store.FactorKind(kind), ID: id,
		Name: parts[5][:n], Data: []byte(parts[5][n:]),
		Confirmed: parts[1] == "1", Counter: counter,
		CreatedAt: time.UnixMilli(created),
	}
	if last != 0 {
		f.LastUsed = time.UnixMilli(last)
	}
	return f, nil
}

// addFactorScript stores a factor unless a confirmed one (or one it
// cannot read) holds its field, or the user has max others. It replies
// "ok", "exists" or "full".
//
// KEYS: factors. ARGV: field, record, max.
var addFactorScript = redis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  if not string.match(old, '^%d+ 0 ') then return 'exists' end
elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 'full'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
`)

// luaAccepts defines accepts, [store.Accepts] on counters in decimal
// without leading zeros (compared as strings, since a Lua double cannot
// hold every uint64): a longer number is greater, and numbers of one
// length compare as their digits do.
const luaAccepts = `
local function accepts(stored, counter)
  if #counter ~= #stored then return #counter > #stored end
  if counter ~= stored then return counter > stored end
  return counter == '0'
end
`

// useFactorScript applies the counter rule to a factor and, when it
// accepts, records the use. It replies {1, record written}, {2} for a
// refused counter, {0} for no such factor and {3} for a record it
// cannot read.
//
// KEYS: factors. ARGV: field, counter, at (decimal, ms).
var useFactorScript = redis.NewScript(luaAccepts + `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {0} end
local stored, rest = string.match(v, '^(%d+) [01] %-?%d+ ()')
if not stored then return {3} end
if not accepts(stored, ARGV[2]) then return {2} end
local rec = ARGV[2] .. ' 1 ' .. ARGV[3] .. ' ' .. string.sub(v, rest)
redis.call('HSET', KEYS[1], ARGV[1], rec)
return {1, rec}
`)

// releaseScript deletes a key only while it holds the given value, so
// that an owner entry is released only by its owner.
//
// KEYS: key. ARGV: value.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// AddFactor implements [store.FactorStore].
func (s *Store) AddFactor(ctx context.Context, username string, f store.Factor) error {
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("redisstore: add factor: %w", err)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("redisstore: add factor: %w", err)
	}
	claimed := false
	if f.Kind != store.TOTP {
		owner := s.ownerKey(f.Kind, f.ID)
		ok, err := s.client.SetNX(ctx, owner, username, 0).Result()
		if err != nil {
			return fmt.Errorf("redisstore: add factor: %w", err)
		}
		if !ok {
			held, err := s.client.Get(ctx, owner).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("redisstore: add factor: %w", err)
			}
			if held != username {
				return fmt.Errorf("redisstore: add factor: credential held by another user: %w", store.ErrExists)
			}
		}
		claimed = ok
	}
	res, err := addFactorScript.Run(ctx, s.client, []string{s.factorsKey(username)},
		factorField(f.Kind, f.ID), encodeFactor(f), store.MaxFactors).Text()
	if err == nil && res == "ok" {
		return nil
	}
	if claimed {
		// Release the claim with a context of its own: the caller's may
		// be what failed the script.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if rerr := releaseScript.Run(rctx, s.client, []string{s.ownerKey(f.Kind, f.ID)}, username).Err(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("releasing the credential ID: %w", rerr))
		}
	}
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: add factor: %w", err)
	case res == "exists":
		return fmt.Errorf("redisstore: add factor: %w", store.ErrExists)
	case res == "full":
		return fmt.Errorf("redisstore: add factor: %w: more than %d factors", store.ErrInvalid, store.MaxFactors)
	}
	return fmt.Errorf("redisstore: add factor: unexpected reply %q", res)
}

// Factors implements [store.FactorStore]. A record it cannot read (one
// edited by hand) fails the call, as an infrastructure error: leaving
// it out could let a login skip a second factor the user enrolled.
func (s *Store) Factors(ctx context.Context, username string) ([]store.Factor, error) {
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("redisstore: factors: %w", err)
		}
		return nil, nil
	}
	all, err := s.client.HGetAll(ctx, s.factorsKey(username)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: factors: %w", err)
	}
	out := make([]store.Factor, 0, len(all))
	for field, v := range all {
		f, err := decodeFactor(field, v)
		if err != nil {
			return nil, fmt.Errorf("redisstore: factors: field %q: %w", field, err)
		}
		out = append(out, f)
	}
	store.SortFactors(out)
	return out, nil
}

// FactorOwner implements [store.FactorStore]. It reads the owner entry,
// then confirms that the user it names still holds the factor.
func (s *Store) FactorOwner(ctx context.Context, kind store.FactorKind, id string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("redisstore: factor owner: %w", err)
	}
	if kind == store.TOTP {
		return "", notFound("factor owner")
	}
	owner, err := s.client.Get(ctx, s.ownerKey(kind, id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", notFound("factor owner")
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: factor owner: %w", err)
	}
	if store.ValidateUsername(owner) != nil {
		return "", fmt.Errorf("redisstore: factor owner: unreadable entry: %w", store.ErrNotFound)
	}
	held, err := s.client.HExists(ctx, s.factorsKey(owner), factorField(kind, id)).Result()
	if err != nil {
		return "", fmt.Errorf("redisstore: factor owner: %w", err)
	}
	if !held {
		return "", notFound("factor owner")
	}
	return owner, nil
}

// UseFactor implements [store.FactorStore].
func (s *Store) UseFactor(ctx context.Context, username string, kind store.FactorKind, id string, counter uint64, at time.Time) (store.Factor, error) {
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return store.Factor{}, fmt.Errorf("redisstore: use factor: %w", err)
		}
		return store.Factor{}, notFound("use factor")
	}
	field := factorField(kind, id)
	reply, err := useFactorScript.Run(ctx, s.client, []string{s.factorsKey(username)},
		field, strconv.FormatUint(counter, 10), millisOrZero(at)).Slice()
	if err != nil {
		return store.Factor{}, fmt.Errorf("redisstore: use factor: %w", err)
	}
	code, _ := reply[0].(int64)
	switch code {
	case 0:
		return store.Factor{}, notFound("use factor")
	case 2:
		return store.Factor{}, fmt.Errorf("redisstore: use factor: %w", store.ErrReused)
	case 3:
		return store.Factor{}, fmt.Errorf("redisstore: use factor: unreadable record: %w", store.ErrNotFound)
	}
	rec, _ := reply[1].(string)
	f, err := decodeFactor(field, rec)
	if err != nil {
		return store.Factor{}, fmt.Errorf("redisstore: use factor: %w", err)
	}
	return f, nil
}

// RemoveFactor implements [store.FactorStore].
func (s *Store) RemoveFactor(ctx context.Context, username string, kind store.FactorKind, id string) error {
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redisstore: remove factor: %w", err)
		}
		return notFound("remove factor")
	}
	n, err := s.client.HDel(ctx, s.factorsKey(username), factorField(kind, id)).Result()
	if err != nil {
		return fmt.Errorf("redisstore: remove factor: %w", err)
	}
	if kind != store.TOTP {
		// Release the claim whether or not the factor was there, so an
		// entry left by a crash goes with its owner's next removal.
		if err := releaseScript.Run(ctx, s.client, []string{s.ownerKey(kind, id)}, username).Err(); err != nil {
			return fmt.Errorf("redisstore: remove factor: %w", err)
		}
	}
	if n == 0 {
		return notFound("remove factor")
	}
	return nil
}

// setRecoveryScript replaces the set of codes.
//
// KEYS: recovery codes. ARGV: the digests (none: remove them all).
var setRecoveryScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
if #ARGV > 0 then redis.call('SADD', KEYS[1], unpack(ARGV)) end
return 1
`)

// useRecoveryScript removes one code and replies how many are left, or
// -1 when the user does not have it.
//
// KEYS: recovery codes. ARGV: the digest.
var useRecoveryScript = redis.NewScript(`
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('SCARD', KEYS[1])
`)

// SetRecoveryCodes implements [store.RecoveryCodeStore].
func (s *Store) SetRecoveryCodes(ctx context.Context, username string, codes []store.Digest) error {
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("redisstore: set recovery codes: %w", err)
	}
	if err := store.ValidateRecoveryCodes(codes); err != nil {
		return fmt.Errorf("redisstore: set recovery codes: %w", err)
	}
	args := make([]any, len(codes))
	for i, c := range codes {
		args[i] = string(c[:])
	}
	if err := setRecoveryScript.Run(ctx, s.client, []string{s.recoveryKey(username)}, args...).Err(); err != nil {
		return fmt.Errorf("redisstore: set recovery codes: %w", err)
	}
	return nil
}

// UseRecoveryCode implements [store.RecoveryCodeStore].
func (s *Store) UseRecoveryCode(ctx context.Context, username string, code store.Digest) (int, error) {
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("redisstore: use recovery code: %w", err)
		}
		return 0, notFound("use recovery code")
	}
	left, err := useRecoveryScript.Run(ctx, s.client, []string{s.recoveryKey(username)}, string(code[:])).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: use recovery code: %w", err)
	}
	if left < 0 {
		return 0, notFound("use recovery code")
	}
	return left, nil
}

// RecoveryCodes implements [store.RecoveryCodeStore].
func (s *Store) RecoveryCodes(ctx context.Context, username string) (int, error) {
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("redisstore: recovery codes: %w", err)
		}
		return 0, nil
	}
	n, err := s.client.SCard(ctx, s.recoveryKey(username)).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: recovery codes: %w", err)
	}
	return int(n), nil
}
