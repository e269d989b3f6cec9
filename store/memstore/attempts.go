package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// attemptTable holds the failure counters. It has a mutex of its own, so
// that counting failures, which an attacker can drive at will, never
// queues behind session work. Its zero value is empty and ready to use.
type attemptTable struct {
	mu    sync.Mutex
	byKey map[string]*counter
	all   sweepList[*counter]
}

// counter is one failure counter.
type counter struct {
	key      string
	failures int
	last     time.Time
	exp      time.Time // the failures read as absent from exp on
	// pending holds the attempts begun and not ended, with their
	// deadlines.
	pending map[string]time.Time
	// ended holds attempts ended while not pending, until the time
	// given: a BeginAttempt of one of them registers nothing.
	ended map[string]time.Time
	slot
}

// state returns the counter as read at now.
func (c *counter) state(now time.Time) store.Attempt {
	var a store.Attempt
	if c == nil {
		return a
	}
	if now.Before(c.exp) {
		a.Failures, a.Last = c.failures, c.last
	}
	for _, d := range c.pending {
		if now.Before(d) {
			a.Pending++
		}
	}
	return a
}

// prune drops what has expired at now: the failures, and the pending
// attempts past their deadline.
func (c *counter) prune(now time.Time) {
	if !now.Before(c.exp) {
		c.failures, c.last = 0, time.Time{}
	}
	for id, d := range c.pending {
		if !now.Before(d) {
			delete(c.pending, id)
		}
	}
	for id, d := range c.ended {
		if !now.Before(d) {
			delete(c.ended, id)
		}
	}
}

// dead reports a counter with nothing left to hold.
func (c *counter) dead() bool {
	return c.failures == 0 && len(c.pending) == 0 && len(c.ended) == 0
}

// Attempts implements [store.AttemptStore].
func (s *Store) Attempts(ctx context.Context, keys ...string) ([]store.Attempt, error) {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("memstore: attempts: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if err := ctxErr(ctx, "attempts"); err != nil {
		return nil, err
	}
	now := s.now()
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]store.Attempt, len(keys))
	for i, k := range keys {
		out[i] = a.byKey[k].state(now)
	}
	return out, nil
}

// BeginAttempt implements [store.AttemptStore].
func (s *Store) BeginAttempt(ctx context.Context, id string, deadline time.Time, keys ...string) ([]store.Attempt, error) {
	return s.update(ctx, "begin attempt", id, keys, true, func(c *counter, now time.Time) store.Attempt {
		before := c.state(now)
		if _, ended := c.ended[id]; !ended {
			if c.pending == nil {
				c.pending = make(map[string]time.Time)
			}
			c.pending[id] = deadline
		}
		c.prune(now) // a deadline already past registers nothing
		return before
	})
}

// EndAttempt implements [store.AttemptStore].
func (s *Store) EndAttempt(ctx context.Context, id string, failed bool, ttl time.Duration, keys ...string) ([]store.Attempt, error) {
	if failed && ttl <= 0 {
		return nil, fmt.Errorf("memstore: end attempt: %w: ttl %v is not positive", store.ErrInvalid, ttl)
	}
	return s.update(ctx, "end attempt", id, keys, true, func(c *counter, now time.Time) store.Attempt {
		if _, ok := c.pending[id]; ok {
			delete(c.pending, id)
		} else {
			if c.ended == nil {
				c.ended = make(map[string]time.Time)
			}
			c.ended[id] = now.Add(max(ttl, time.Millisecond))
		}
		if failed {
			c.failures++
			c.last, c.exp = now, now.Add(ttl)
		}
		return c.state(now)
	})
}

// update validates a call on the counters of keys for the attempt id and
// applies f to each counter in turn, under the table's lock, after a
// sweep; an absent counter is created only when create is set, and reads
// as the zero Attempt otherwise. A counter left with nothing is removed.
func (s *Store) update(ctx context.Context, op, id string, keys []string, create bool,
	f func(c *counter, now time.Time) store.Attempt) ([]store.Attempt, error) {
	if err := store.ValidateAttemptID(id); err != nil {
		return nil, fmt.Errorf("memstore: %s: %w", op, err)
	}
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("memstore: %s: %w", op, err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	now := s.now()
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now, max(sweepBatch, 2*len(keys)))
	out := make([]store.Attempt, len(keys))
	for i, k := range keys {
		c := a.byKey[k]
		if c == nil && !create {
			continue
		}
		if c == nil {
			c = a.add(k)
		}
		c.prune(now)
		out[i] = f(c, now)
		if c.dead() {
			a.remove(c)
		}
	}
	return out, nil
}

// ResetAttempts implements [store.AttemptStore].
func (s *Store) ResetAttempts(ctx context.Context, keys ...string) error {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return fmt.Errorf("memstore: reset attempts: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := ctxErr(ctx, "reset attempts"); err != nil {
		return err
	}
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		if c := a.byKey[k]; c != nil {
			a.remove(c)
		}
	}
	return nil
}

// add stores a new counter with no failures under key. The caller holds
// a.mu.
func (a *attemptTable) add(key string) *counter {
	if a.byKey == nil {
		a.byKey = make(map[string]*counter)
	}
	c := &counter{key: key}
	a.byKey[key] = c
	a.all.add(c)
	return c
}

// remove deletes c from both indexes. The caller holds a.mu.
func (a *attemptTable) remove(c *counter) {
	delete(a.byKey, c.key)
	a.all.remove(c)
}

// sweep examines up to n counters, continuing where the last sweep
// stopped, and removes the expired ones. BeginAttempt and EndAttempt
// examine at least two counters for each one they may create, so the
// cursor laps the table faster than it grows and expired counters cannot pile up. The caller
// holds a.mu.
func (a *attemptTable) sweep(now time.Time, n int) {
	a.all.sweep(n, func(c *counter) bool { c.prune(now); return !c.dead() }, a.remove)
}
