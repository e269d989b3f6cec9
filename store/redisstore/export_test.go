package redisstore

import "context"

// CacheReady reports whether the local cache of s is subscribed, and so
// in use.
func CacheReady(s *Store) bool {
	if s.cache == nil {
		return false
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.cache.healthy
}

// CRC16 is the slot checksum the store's channels use, for the key-slot
// tests (checked there against the CRC-16/XMODEM test vector and against
// CLUSTER KEYSLOT on a real cluster).
var CRC16 = crc16

// TTLSlackDivisor is what the idle timeout is divided by for the slack
// periods of the sessions hash's TTL (see record.cover): a TTL is at
// most the idle timeout and one period.
const TTLSlackDivisor = ttlSlackDivisor

// ReadsFixed is [Store.readsFixed], for tests that count a rotation's
// commands without the store's one-time probe.
func ReadsFixed(ctx context.Context, s *Store) (bool, error) { return s.readsFixed(ctx) }
