package redisstore

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
