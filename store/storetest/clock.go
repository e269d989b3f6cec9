package storetest

import (
	"sync"
	"time"
)

// clock is the suite's fake time source. It is safe for concurrent use
// because stores may read it from several goroutines at once.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// epoch is a fixed, millisecond-aligned instant, far from any real clock so
// that a backend reading time.Now by mistake fails loudly.
var epoch = time.Date(2031, time.March, 14, 15, 9, 26, 0, time.UTC)

func newClock() *clock { return &clock{now: epoch} }

// Now returns the current fake time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
