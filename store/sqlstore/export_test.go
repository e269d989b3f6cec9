package sqlstore

import "database/sql"

// Listening reports whether c is listening, so that its entries are used.
func Listening(c *Cache) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.healthy
}

// DB returns the pool of s.
func DB(s *Store) *sql.DB { return s.db }

// PingQuery is the statement the cache pings its listening connection
// with, which pg_stat_activity shows.
const PingQuery = pingQuery
