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
	exp      time.Time // the counter reads as absent from exp on
	slot
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
		if c := a.byKey[k]; c != nil && now.Before(c.exp) {
			out[i] = store.Attempt{Failures: c.failures, Last: c.last}
		}
	}
	return out, nil
}

// AddFailure implements [store.AttemptStore]. A counter that has expired
// but is still held starts again from one, as if the sweep had already
// removed it.
func (s *Store) AddFailure(ctx context.Context, ttl time.Duration, keys ...string) ([]store.Attempt, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("memstore: add failure: %w: ttl %v is not positive", store.ErrInvalid, ttl)
	}
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return nil, fmt.Errorf("memstore: add failure: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if err := ctxErr(ctx, "add failure"); err != nil {
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
		switch {
		case c == nil:
			c = a.add(k)
		case !now.Before(c.exp):
			c.failures = 0
		}
		c.failures++
		c.last, c.exp = now, now.Add(ttl)
		out[i] = store.Attempt{Failures: c.failures, Last: c.last}
	}
	return out, nil
}

// ForgiveFailure implements [store.AttemptStore].
func (s *Store) ForgiveFailure(ctx context.Context, keys ...string) error {
	if err := store.ValidateAttemptKeys(keys); err != nil {
		return fmt.Errorf("memstore: forgive failure: %w", err)
	}
	if err := ctxErr(ctx, "forgive failure"); err != nil {
		return err
	}
	now := s.now()
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		c := a.byKey[k]
		if c == nil || !now.Before(c.exp) {
			continue
		}
		if c.failures--; c.failures <= 0 {
			a.remove(c)
		}
	}
	return nil
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
// stopped, and removes the expired ones. AddFailure examines at least two
// counters for each one it may create, so the cursor laps the table
// faster than it grows and expired counters cannot pile up. The caller
// holds a.mu.
func (a *attemptTable) sweep(now time.Time, n int) {
	a.all.sweep(n, func(c *counter) bool { return now.Before(c.exp) }, a.remove)
}
