package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
)

// Defaults of [CacheOptions].
const (
	DefaultCacheSize         = 10000
	DefaultCacheTTL          = 5 * time.Minute
	DefaultCachePingInterval = time.Second
)

// listenSetupTimeout bounds taking a connection and sending LISTEN on
// it: a dial or a handshake over a dead link would otherwise hang, and
// the cache would never listen again. Reads go to the database
// meanwhile, so a long bound costs nothing but the cache's help.
const listenSetupTimeout = 10 * time.Second

// CacheOptions configures a [Cache]. The zero value is ready to use.
type CacheOptions struct {
	// Size caps the users held. Default [DefaultCacheSize].
	Size int
	// TTL bounds how long a user is held without being read from the
	// database again: a backstop only, since notifications invalidate
	// every change. Default [DefaultCacheTTL].
	TTL time.Duration
	// Logger receives the state of the listening connection. Default
	// slog.Default().
	Logger *slog.Logger
	// PingInterval is how often the cache pings its listening
	// connection; each ping must be answered within PingInterval too.
	// A ping that fails or goes unanswered drops the connection: the
	// cache empties itself and reads every user from the database until
	// it listens again on a new one. This counters a link that dies
	// without a word (a frozen network path, a peer gone without a TCP
	// reset), on which no notification arrives and nothing else fails:
	// without the ping the cache would go on answering users changed
	// since, up to TTL. With it, it stops within about twice
	// PingInterval. Default [DefaultCachePingInterval]; negative is an
	// error.
	PingInterval time.Duration
}

// Cache is a [Store] whose User answers from memory for users it read
// recently, so that the per-request owner check of a split configuration
// (the Manager in ginauth.Config.Accounts) costs no query. It holds one connection of the
// pool, on which it LISTENs to the channel authkit_users; the schema's
// trigger announces every committed change there, including changes made
// by hand in SQL, and the cache drops that user.
//
// A change therefore takes effect once its notification arrives, a
// fraction of a millisecond after the commit on a local network, rather
// than strictly on the next request; changes made through this Cache
// take effect at once in this process. While the listening connection is
// down, every read goes to the database (and the cache is emptied), so a
// lost notification can never leave a stale user in place. A connection
// that dies silently, with no error to report (a frozen network path, a
// half-open TCP connection), is found by a ping every
// [CacheOptions].PingInterval (1 s by default) that must answer within as
// long: the cache stops answering from memory within about two intervals
// of the link's death, instead of at TTL. Unknown users are not cached,
// so made-up names cannot fill it.
//
// Create it with [NewCache] and stop it with [Cache.Close]. It implements
// store.UserStore and store.Pinger, like [Store].
type Cache struct {
	*Store
	size   int
	ttl    time.Duration
	ping   time.Duration
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	healthy bool   // listening: entries may be used
	epoch   uint64 // moves on at every invalidation
	users   map[string]cached
	// hits and misses count the reads of User.
	hits, misses uint64
}

type cached struct {
	u    store.User
	born time.Time
}

var _ store.UserStore = (*Cache)(nil)

// NewCache returns a cache over s and starts listening in the background.
// Until the first LISTEN succeeds, reads go to the database.
func NewCache(s *Store, opts CacheOptions) (*Cache, error) {
	if s == nil {
		return nil, errors.New("sqlstore: new cache: nil store")
	}
	if opts.Size < 0 || opts.TTL < 0 || opts.PingInterval < 0 {
		return nil, fmt.Errorf("sqlstore: new cache: negative size %d, TTL %v or ping interval %v", opts.Size, opts.TTL, opts.PingInterval)
	}
	c := &Cache{
		Store: s, size: opts.Size, ttl: opts.TTL, ping: opts.PingInterval, logger: opts.Logger,
		done: make(chan struct{}), users: make(map[string]cached),
	}
	if c.size == 0 {
		c.size = DefaultCacheSize
	}
	if c.ttl == 0 {
		c.ttl = DefaultCacheTTL
	}
	if c.ping == 0 {
		c.ping = DefaultCachePingInterval
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.supervise(ctx)
	return c, nil
}

// Close stops listening, releases the connection and waits for the
// listener to end; the cache then reads every user from the database. It
// does not close the database.
func (c *Cache) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// User implements store.UserSource from memory when it can.
func (c *Cache) User(ctx context.Context, username string) (store.User, error) {
	c.mu.Lock()
	e, ok := c.users[username]
	if ok && c.healthy && time.Since(e.born) < c.ttl {
		c.hits++
		c.mu.Unlock()
		return clone(e.u), nil
	}
	c.misses++
	epoch := c.epoch
	c.mu.Unlock()
	u, err := c.Store.User(ctx, username)
	if err == nil {
		c.put(epoch, u)
	}
	return u, err
}

// CacheStats reports the cache now: its entries, the reads answered
// from memory and from the database since it was made, and whether it
// is listening (it holds nothing while not). It is meant for a gauge read
// at scrape time (telemetry/authprom).
func (c *Cache) CacheStats() observe.CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return observe.CacheStats{Entries: len(c.users), Hits: c.hits, Misses: c.misses, Healthy: c.healthy}
}

// put caches u unless an invalidation came since epoch: it may concern
// what was read.
func (c *Cache) put(epoch uint64, u store.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.healthy || c.epoch != epoch {
		return
	}
	if _, ok := c.users[u.Username]; !ok && len(c.users) >= c.size {
		for k := range c.users { // map order: an arbitrary victim
			delete(c.users, k)
			break
		}
	}
	c.users[u.Username] = cached{u: clone(u), born: time.Now()}
}

// invalidate drops username, or every user for "".
func (c *Cache) invalidate(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if username == "" {
		clear(c.users)
		return
	}
	delete(c.users, username)
}

// setHealthy turns the cache on or off, emptying it either way: what it
// held may have changed while nobody listened.
func (c *Cache) setHealthy(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.healthy = ok
	c.epoch++
	clear(c.users)
}

// The writes invalidate this process's entry at once; the notification
// does it everywhere else.

// SetPasswordHash implements store.UserStore.
func (c *Cache) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	defer c.invalidate(username)
	return c.Store.SetPasswordHash(ctx, username, hash)
}

// RehashPassword implements store.PasswordRehasher.
func (c *Cache) RehashPassword(ctx context.Context, username string, gen uint64, old, hash []byte) (bool, error) {
	defer c.invalidate(username)
	return c.Store.RehashPassword(ctx, username, gen, old, hash)
}

// SetRoles implements store.UserStore.
func (c *Cache) SetRoles(ctx context.Context, username string, roles []string) error {
	defer c.invalidate(username)
	return c.Store.SetRoles(ctx, username, roles)
}

// SetDisabled implements store.UserStore.
func (c *Cache) SetDisabled(ctx context.Context, username string, disabled bool) error {
	defer c.invalidate(username)
	return c.Store.SetDisabled(ctx, username, disabled)
}

// supervise listens until ctx ends, starting again after a failure with
// a pause that grows while listening keeps failing (at most 5 s).
func (c *Cache) supervise(ctx context.Context) {
	defer close(c.done)
	const first = 100 * time.Millisecond
	pause := first
	for {
		listened, err := c.listen(ctx)
		c.setHealthy(false)
		if listened {
			pause = first
		}
		if ctx.Err() != nil {
			return
		}
		c.logger.Warn("sqlstore: user cache not listening; reading every user from the database until it listens again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// errDiscard makes database/sql close the listening connection instead
// of returning it, still subscribed, to the pool.
var errDiscard = fmt.Errorf("sqlstore: listener done: %w", driver.ErrBadConn)

// listen holds one connection, LISTENs on it and applies notifications
// until the connection or ctx fails or a ping goes unanswered; listened
// reports whether it got as far as listening.
func (c *Cache) listen(ctx context.Context) (listened bool, err error) {
	setup, cancel := context.WithTimeout(ctx, listenSetupTimeout)
	defer cancel()
	conn, err := c.db.Conn(setup)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var cause error
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			cause = fmt.Errorf("sqlstore: cache needs the pgx driver, not %T", dc)
			return errDiscard
		}
		pc := sc.Conn()
		if _, cause = pc.Exec(setup, "LISTEN authkit_users"); cause != nil {
			return errDiscard
		}
		c.setHealthy(true)
		listened = true
		cause = c.receive(ctx, pc)
		// Off at once: closing a connection over a dead link may take a
		// while.
		c.setHealthy(false)
		return errDiscard
	})
	if cause != nil {
		return listened, cause
	}
	return listened, err
}

// pingQuery is the ping: an empty statement, as pgx's Ping sends, but
// one that names the listener in pg_stat_activity.query, where the
// connection otherwise shows "LISTEN authkit_users".
const pingQuery = "-- authkit_users listener ping"

// receive applies the notifications that arrive on pc, and pings pc
// every c.ping, until ctx ends, pc fails or a ping is not answered
// within c.ping. It returns why it stopped.
func (c *Cache) receive(ctx context.Context, pc *pgx.Conn) error {
	next := time.Now().Add(c.ping)
	for {
		wait, cancel := context.WithDeadline(ctx, next)
		n, err := pc.WaitForNotification(wait)
		idle := wait.Err() != nil
		cancel()
		if n != nil {
			c.invalidate(n.Payload)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !idle:
			return err
		case err != nil || !time.Now().Before(next):
			// The ping is due. A timeout on WaitForNotification leaves
			// the connection usable; a notification that arrives during
			// the ping is kept for the next wait.
			ping, cancel := context.WithTimeout(ctx, c.ping)
			_, err := pc.Exec(ping, pingQuery)
			cancel()
			if err != nil {
				return fmt.Errorf("sqlstore: ping on the listening connection: %w", err)
			}
			next = time.Now().Add(c.ping)
		}
	}
}

// clone copies u, so that callers never share the cached slices.
func clone(u store.User) store.User {
	u.PasswordHash = slices.Clone(u.PasswordHash)
	u.Roles = slices.Clone(u.Roles)
	return u
}
