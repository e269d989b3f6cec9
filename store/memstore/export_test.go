package memstore

// NumSessions reports how many sessions the store holds, live or not, so
// tests can see the sweep at work.
func (s *Store) NumSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.len()
}
