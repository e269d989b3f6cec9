package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

// Known devices. Each user's are one hash, P{u:<name>}:d, in the user's
// slot, with one field per device: the digest's 32 bytes, whose value is
// "<created ms>:<expiry ms>" of the store's clock. The hash lives until
// its latest device expires; AddDevice drops expired fields and caps the
// count, so a hash holds at most the cap given to it.

// devicesKey names the hash of username's known devices.
func (s *Store) devicesKey(username string) string {
	return s.prefix + "{u:" + username + "}:d"
}

// addDeviceScript drops the user's expired (or unreadable) devices, the
// oldest beyond the cap, and stores the new one.
//
// KEYS: devices. ARGV: now, id, created, expiry, cap (ms, ms, ms).
var addDeviceScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local keep = {}
for i = 1, #all, 2 do
  local c, x = string.match(all[i + 1], '^(%d+):(%d+)$')
  if not c or tonumber(x) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[2] then
    table.insert(keep, {all[i], tonumber(c)})
  end
end
table.sort(keep, function(a, b) return a[2] < b[2] or (a[2] == b[2] and a[1] < b[1]) end)
for i = 1, #keep - tonumber(ARGV[5]) + 1 do
  redis.call('HDEL', KEYS[1], keep[i][1])
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ':' .. ARGV[4])
local life = tonumber(ARGV[4]) - now
if redis.call('PTTL', KEYS[1]) < life then
  redis.call('PEXPIRE', KEYS[1], life)
end
return 1
`)

// AddDevice implements [store.DeviceStore].
func (s *Store) AddDevice(ctx context.Context, username string, d store.Device, max int) error {
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("redisstore: add device: %w", err)
	}
	if err := store.ValidateDevice(d, max); err != nil {
		return fmt.Errorf("redisstore: add device: %w", err)
	}
	err := addDeviceScript.Run(ctx, s.client, []string{s.devicesKey(username)},
		s.nowMillis(), string(d.ID[:]), d.CreatedAt.UnixMilli(), d.ExpiresAt.UnixMilli(), max).Err()
	if err != nil {
		return fmt.Errorf("redisstore: add device: %w", err)
	}
	return nil
}

// Device implements [store.DeviceStore].
func (s *Store) Device(ctx context.Context, username string, id store.Digest) (store.Device, error) {
	if store.ValidateUsername(username) != nil {
		return store.Device{}, fmt.Errorf("redisstore: device: %w", store.ErrNotFound)
	}
	v, err := s.client.HGet(ctx, s.devicesKey(username), string(id[:])).Result()
	if errors.Is(err, redis.Nil) {
		return store.Device{}, fmt.Errorf("redisstore: device: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Device{}, fmt.Errorf("redisstore: device: %w", err)
	}
	c, x, ok := strings.Cut(v, ":")
	created, err1 := strconv.ParseInt(c, 10, 64)
	exp, err2 := strconv.ParseInt(x, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		// A record this store did not write: no device (fail closed).
		return store.Device{}, fmt.Errorf("redisstore: device: unreadable record: %w", store.ErrNotFound)
	}
	if s.nowMillis() >= exp {
		return store.Device{}, fmt.Errorf("redisstore: device: %w", store.ErrNotFound)
	}
	return store.Device{ID: id, CreatedAt: time.UnixMilli(created), ExpiresAt: time.UnixMilli(exp)}, nil
}

// RevokeDevice implements [store.DeviceStore].
func (s *Store) RevokeDevice(ctx context.Context, username string, id store.Digest) error {
	if store.ValidateUsername(username) != nil {
		return nil
	}
	if err := s.client.HDel(ctx, s.devicesKey(username), string(id[:])).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke device: %w", err)
	}
	return nil
}

// RevokeDevices implements [store.DeviceStore].
func (s *Store) RevokeDevices(ctx context.Context, username string) error {
	if store.ValidateUsername(username) != nil {
		return nil
	}
	if err := s.client.Del(ctx, s.devicesKey(username)).Err(); err != nil {
		return fmt.Errorf("redisstore: revoke devices: %w", err)
	}
	return nil
}
