package tokens

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// DefaultCacheSize is the number of verified tokens a [Verifier] remembers
// unless [WithCacheSize] is given.
const DefaultCacheSize = 4096

// cacheShards is the most shards a tokenCache has; each has its own lock,
// so that concurrent requests seldom wait for each other.
const cacheShards = 16

// tokenCache remembers tokens that passed every check of Verify, so that the
// next request with the same token costs a hash and a map lookup instead of
// a signature check. It holds only successes, keyed by the exact token
// string; every hit checks the token's times (exp, nbf and iat, with the
// leeway) against the clock again, and a token that fails them is forgotten
// and verified in full. Everything else that Verify checks depends only on
// the token and on the Verifier, which cannot change.
type tokenCache struct {
	seed   maphash.Seed
	shards []cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[uint64]cacheEntry // by maphash of the token
	limit   int
	_       [64]byte // keeps the locks of neighbouring shards off one cache line
}

type cacheEntry struct {
	token  string // the whole token: a hash collision is a miss, never a hit
	claims *claimsBox
	// The token is valid while !now.Before(validFrom) && now.Before(validUntil):
	// the time checks of Verify with the leeway applied.
	validFrom, validUntil time.Time
}

// newTokenCache returns a cache of at most size entries, size > 0.
func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, min(size, cacheShards))}
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = size / len(c.shards)
		if i < size%len(c.shards) {
			s.limit++
		}
		s.entries = make(map[uint64]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(token string) (*cacheShard, uint64) {
	h := maphash.String(c.seed, token)
	return &c.shards[h%uint64(len(c.shards))], h
}

// get returns a copy of the claims of token if it is cached and its times
// are valid at now, or nil.
func (c *tokenCache) get(token string, now time.Time) *Claims {
	s, h := c.shard(token)
	s.mu.RLock()
	e, ok := s.entries[h]
	s.mu.RUnlock()
	if !ok || e.token != token {
		return nil
	}
	if now.Before(e.validFrom) || !now.Before(e.validUntil) {
		s.mu.Lock()
		if e, ok := s.entries[h]; ok && e.token == token {
			delete(s.entries, h)
		}
		s.mu.Unlock()
		return nil
	}
	return e.claims.clone()
}

// put remembers token, which Verify accepted at now with the claims in b.
// b must not be handed to anybody else afterwards.
func (c *tokenCache) put(token string, b *claimsBox, now time.Time, leeway time.Duration) {
	// Verify accepted the token, so exp and iat are present.
	e := cacheEntry{
		// A copy, so that the cache never pins a larger string that the
		// caller's token may be part of.
		token:      strings.Clone(token),
		claims:     b,
		validFrom:  b.c.IssuedAt.Add(-leeway),
		validUntil: b.c.ExpiresAt.Add(leeway),
	}
	if b.c.NotBefore != nil {
		if nbf := b.c.NotBefore.Add(-leeway); nbf.After(e.validFrom) {
			e.validFrom = nbf
		}
	}
	s, h := c.shard(token)
	s.mu.Lock()
	if _, ok := s.entries[h]; !ok && len(s.entries) >= s.limit {
		s.evict(now)
	}
	s.entries[h] = e
	s.mu.Unlock()
}

// evict drops one entry: an expired one among the first few that map
// iteration (which starts at a random place) offers, or else the first.
func (s *cacheShard) evict(now time.Time) {
	const look = 8
	var victim uint64
	n := 0
	for h, e := range s.entries {
		if n == 0 {
			victim = h
		}
		if !now.Before(e.validUntil) {
			victim = h
			break
		}
		if n++; n == look {
			break
		}
	}
	delete(s.entries, victim)
}

// size returns the number of cached tokens.
func (c *tokenCache) size() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
