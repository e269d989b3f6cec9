package redisstore

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
)

// LocalCacheOptions configures the local cache of [Options.LocalCache],
// which holds sessions and API keys.
//
// The cache keeps sessions that [Store.Session] read from Redis in the
// process, and answers later reads of the same session from memory while
// the entry is younger than TTL, the session is live by the store's clock
// and its last use need not be recorded yet (see [Options.TouchInterval]).
//
// It keeps, the same way, what [Store.UseAPIKey] found of a key and its
// owner ([store.APIKeyUse]), per owner and key ID, and answers later uses
// of the key from memory while the entry is younger than TTL and the
// key's last recorded use is younger than [store.APIKeyTouchInterval] by
// the store's clock: the use that must be recorded always runs the
// script, so a key in steady use still costs one write a minute. Only
// uses that found the key fill the cache; an unknown key always reaches
// Redis. Every answer is a copy.
//
// Every change that ends a session, changes a user or changes a key
// (RevokeSession, RevokeAll, SetDisabled, SetPasswordHash, SetRoles, a
// replayed refresh token, the per-user cap; RevokeAPIKey, ExpireAPIKey,
// and AddAPIKey when it drops expired keys) publishes, from the script
// that makes it, a message naming the user (and the sessions or keys),
// on a channel every cached store subscribes to: PUBLISH on a single
// server or Sentinel, sharded SPUBLISH on Redis Cluster (Redis 7), to a
// channel in the user's slot. A store that receives it drops the entries
// named, or all the user's sessions and keys when it names none. The
// window in which another process may still accept a revoked session or
// key, or see a disabled owner as enabled, is therefore the delivery
// time of one message (measured on loopback: 2 to 5 ms at the 99th
// percentile), and never more than TTL.
//
// A store only uses its cache while all its subscriptions are confirmed
// and answer a health check (a PING every second when no message came);
// when one breaks it empties the cache and reads every session and key
// from Redis until it has subscribed again. A *redis.Ring is not
// supported, since its shards do not share messages.
//
// A cached read does not see a change that is not an invalidation until
// the entry ages out: a rotation's new last use, or a key's use recorded
// by another process, for instance. Sessions and keys created after a
// read are never cached wrongly: only reads that found a live session or
// a key fill the cache.
//
// [Store.CacheStats] counts sessions and keys together: Entries holds
// both, and Hits and Misses count the reads of [Store.Session] and the
// uses of [Store.UseAPIKey] alike.
type LocalCacheOptions struct {
	// Size is the most entries kept, sessions and API keys together; the
	// least recently read go first. Default: 10,000 (a few MB).
	Size int
	// TTL is how long a session or key read from Redis may be served
	// from memory: the longest a revocation can go unseen by a process
	// whose subscription is healthy but lost the message. Default: 1
	// second.
	TTL time.Duration
}

// Defaults of [LocalCacheOptions].
const (
	DefaultLocalCacheSize = 10_000
	DefaultLocalCacheTTL  = time.Second
)

// healthEvery is how long a subscription may stay silent before the
// cache pings it, and how long it has to answer.
const healthEvery = time.Second

// Backoff between attempts to subscribe again.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// localCache is the cache of [LocalCacheOptions]. All its methods accept
// a nil receiver, which caches nothing.
type localCache struct {
	s    *Store
	size int
	ttl  time.Duration

	mu      sync.Mutex
	entries map[cacheKey]*list.Element // of *cacheEntry
	byUser  map[string]map[cacheKey]*list.Element
	lru     list.List // most recently read first
	// gen changes with every invalidation and every change of health: a
	// read that began in another generation must not fill the cache.
	gen     uint64
	healthy bool
	// hits and misses count the reads of get and getAPIKey.
	hits, misses uint64

	cancel context.CancelFunc
	done   chan struct{}
}

// cacheKey names an entry: a session of user (id), or one of user's API
// keys (apiKey, the key's ID; id then zero).
type cacheKey struct {
	user   string
	id     store.Digest
	apiKey string
}

// cacheEntry is a session (rec, owner) or an API key (use, and last, the
// key's last use as recorded in Redis once the read that filled the
// entry was done, in Unix milliseconds).
type cacheEntry struct {
	key   cacheKey
	rec   record
	owner owner
	use   store.APIKeyUse
	last  int64
	born  time.Time
}

func newLocalCache(s *Store, opts LocalCacheOptions) (*localCache, error) {
	if _, ok := s.client.(*redis.Ring); ok {
		return nil, errors.New("local cache: a *redis.Ring is not supported")
	}
	if opts.Size < 0 || opts.TTL < 0 {
		return nil, fmt.Errorf("local cache: negative size %d or TTL %v", opts.Size, opts.TTL)
	}
	c := &localCache{
		s: s, size: opts.Size, ttl: opts.TTL,
		entries: make(map[cacheKey]*list.Element),
		byUser:  make(map[string]map[cacheKey]*list.Element),
		done:    make(chan struct{}),
	}
	if c.size == 0 {
		c.size = DefaultLocalCacheSize
	}
	if c.ttl == 0 {
		c.ttl = DefaultLocalCacheTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.supervise(ctx)
	return c, nil
}

// close stops the subscription and waits for it to end; the cache stays
// empty and unused afterwards.
func (c *localCache) close() {
	c.cancel()
	<-c.done
}

// get returns the cached record of a session and a copy of its owner.
func (c *localCache) get(user string, id store.Digest) (record, owner, bool) {
	if c == nil {
		return record{}, owner{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookup(cacheKey{user: user, id: id}, nil)
	if e == nil {
		return record{}, owner{}, false
	}
	return e.rec, e.owner.clone(), true
}

// getAPIKey returns a copy of the cached use of owner's key id, unless a
// read at now (Unix milliseconds, the store's clock) must record the use
// (see apiKeyTouchDue): that read goes to Redis, which records it.
func (c *localCache) getAPIKey(owner, id string, now int64) (store.APIKeyUse, bool) {
	if c == nil {
		return store.APIKeyUse{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.lookup(cacheKey{user: owner, apiKey: id}, func(e *cacheEntry) bool { return !apiKeyTouchDue(e.last, now) })
	if e == nil {
		return store.APIKeyUse{}, false
	}
	return cloneAPIKeyUse(e.use), true
}

// lookup returns the entry of k, counting a hit, or nil, counting a
// miss, when there is none younger than the TTL or usable (if not nil)
// rejects it. The caller holds c.mu.
func (c *localCache) lookup(k cacheKey, usable func(*cacheEntry) bool) *cacheEntry {
	if !c.healthy {
		c.misses++
		return nil
	}
	el, ok := c.entries[k]
	if !ok {
		c.misses++
		return nil
	}
	e := el.Value.(*cacheEntry)
	if time.Since(e.born) >= c.ttl {
		c.remove(el)
		c.misses++
		return nil
	}
	if usable != nil && !usable(e) {
		c.misses++
		return nil
	}
	c.hits++
	c.lru.MoveToFront(el)
	return e
}

// stats reports the cache now; a nil cache reports zeros.
func (c *localCache) stats() observe.CacheStats {
	if c == nil {
		return observe.CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return observe.CacheStats{Entries: c.lru.Len(), Hits: c.hits, Misses: c.misses, Healthy: c.healthy}
}

// epoch returns the generation to pass to put after reading Redis.
func (c *localCache) epoch() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches a live session read from Redis, unless the cache changed
// generation since epoch: an invalidation that arrived during the read
// may concern what it read.
func (c *localCache) put(epoch uint64, user string, id store.Digest, rec record, o owner) {
	if c == nil {
		return
	}
	c.insert(epoch, &cacheEntry{key: cacheKey{user: user, id: id}, rec: rec, owner: o.clone()})
}

// putAPIKey caches a copy of use, what a read from Redis found of a key
// and its owner, with last, the key's last use as recorded once that
// read was done, under the same condition as put.
func (c *localCache) putAPIKey(epoch uint64, use store.APIKeyUse, last int64) {
	if c == nil {
		return
	}
	k := cacheKey{user: use.Key.Owner, apiKey: use.Key.ID}
	c.insert(epoch, &cacheEntry{key: k, use: cloneAPIKeyUse(use), last: last})
}

// insert adds e, born now, in place of any entry of its key, unless the
// cache changed generation since epoch.
func (c *localCache) insert(epoch uint64, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.healthy || c.gen != epoch {
		return
	}
	if el, ok := c.entries[e.key]; ok {
		c.remove(el)
	}
	e.born = time.Now()
	el := c.lru.PushFront(e)
	c.entries[e.key] = el
	m := c.byUser[e.key.user]
	if m == nil {
		m = make(map[cacheKey]*list.Element)
		c.byUser[e.key.user] = m
	}
	m[e.key] = el
	for c.lru.Len() > c.size {
		c.remove(c.lru.Back())
	}
}

// invalidate drops the cached sessions and API keys of user named by
// fields (see idField and apiKeyField), or all of them when there are
// none.
func (c *localCache) invalidate(user string, fields ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if len(fields) == 0 {
		for _, el := range c.byUser[user] {
			c.remove(el)
		}
		return
	}
	for _, f := range fields {
		k := cacheKey{user: user}
		if id, ok := strings.CutPrefix(f, apiKeyFieldPrefix); ok {
			k.apiKey = id
		} else if d, err := parseIDField(f); err == nil {
			k.id = d
		} else {
			// Not a message of ours: drop the whole user to be safe.
			for _, el := range c.byUser[user] {
				c.remove(el)
			}
			return
		}
		if el, ok := c.byUser[user][k]; ok {
			c.remove(el)
		}
	}
}

// setHealthy records whether every subscription is confirmed. A cache
// that stops being healthy empties itself: it may miss messages from now
// until it subscribes again.
func (c *localCache) setHealthy(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.healthy = ok
	if !ok {
		clear(c.entries)
		clear(c.byUser)
		c.lru.Init()
	}
}

// remove deletes one entry. The caller holds c.mu.
func (c *localCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	if m := c.byUser[e.key.user]; m != nil {
		delete(m, e.key)
		if len(m) == 0 {
			delete(c.byUser, e.key.user)
		}
	}
}

// supervise keeps the cache subscribed until ctx ends, subscribing again
// with backoff whenever a subscription breaks.
func (c *localCache) supervise(ctx context.Context) {
	defer close(c.done)
	delay := minBackoff
	for {
		start := time.Now()
		err := c.subscription(ctx)
		c.setHealthy(false)
		if ctx.Err() != nil {
			return
		}
		c.s.log().WarnContext(ctx, "redisstore: local cache unsubscribed; reading every session from Redis until subscribed again", "error", err)
		if time.Since(start) > 10*maxBackoff {
			delay = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxBackoff)
	}
}

// sub is one subscription connection and the number of confirmations
// that make it complete.
type sub struct {
	ps   *redis.PubSub
	want int
}

// subscription subscribes to every invalidation channel, marks the cache
// healthy once the server has confirmed them all, and handles messages
// until a subscription fails or ctx ends.
func (c *localCache) subscription(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	subs, err := c.subscribe(ctx)
	defer func() {
		for _, s := range subs {
			_ = s.ps.Close()
		}
	}()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	pending := len(subs)
	confirmed := func() {
		mu.Lock()
		defer mu.Unlock()
		if pending--; pending == 0 {
			c.setHealthy(true)
			c.s.log().DebugContext(ctx, "redisstore: local cache subscribed")
		}
	}
	errs := make(chan error, len(subs))
	for _, s := range subs {
		go func() { errs <- c.receive(ctx, s, confirmed) }()
	}
	err = <-errs
	cancel()
	for _, s := range subs {
		_ = s.ps.Close()
	}
	for range len(subs) - 1 {
		<-errs
	}
	return err
}

// subscribe opens the subscriptions: one channel on a single server, and
// on a cluster one connection per master, subscribed to the channel of
// each of its slots (one SSUBSCRIBE per slot, since a command's shard
// channels must share a slot).
func (c *localCache) subscribe(ctx context.Context) ([]sub, error) {
	cc, ok := c.s.client.(*redis.ClusterClient)
	if !ok {
		ps := c.s.client.Subscribe(ctx)
		if err := ps.Subscribe(ctx, c.s.pub.serverChannel()); err != nil {
			_ = ps.Close()
			return nil, err
		}
		return []sub{{ps, 1}}, nil
	}
	ranges, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	byMaster := map[string][]int{}
	for _, r := range ranges {
		if len(r.Nodes) == 0 {
			continue
		}
		for slot := r.Start; slot <= r.End; slot++ {
			byMaster[r.Nodes[0].Addr] = append(byMaster[r.Nodes[0].Addr], slot)
		}
	}
	var subs []sub
	for _, slotList := range byMaster {
		ps := cc.SSubscribe(ctx)
		subs = append(subs, sub{ps, len(slotList)})
		for _, slot := range slotList {
			if err := ps.SSubscribe(ctx, c.s.pub.slotChannel(slot)); err != nil {
				return subs, err
			}
		}
	}
	return subs, nil
}

// receive handles what one subscription connection delivers until it
// fails: confirmations, invalidations and answers to health checks.
func (c *localCache) receive(ctx context.Context, s sub, confirmed func()) error {
	got, pinged := 0, false
	for {
		msg, err := s.ps.ReceiveTimeout(ctx, healthEvery)
		var ne net.Error
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &ne) && ne.Timeout() && !pinged:
			if err := s.ps.Ping(ctx); err != nil {
				return err
			}
			pinged = true
			continue
		case errors.As(err, &ne) && ne.Timeout():
			return errors.New("no answer to a health check")
		default:
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				if got++; got == s.want {
					confirmed()
				}
			default: // the server dropped a channel, as when a slot moves
				return fmt.Errorf("%s %s", m.Kind, m.Channel)
			}
		case *redis.Message:
			user, ids, _ := strings.Cut(m.Payload, " ")
			if ids == "" {
				c.invalidate(user)
			} else {
				c.invalidate(user, strings.Fields(ids)...)
			}
		}
	}
}
