package ginauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gin-authkit/authkit/observe"
)

// errPasswordBusy: every password-check slot stayed taken for Throttle.PasswordWait.
var errPasswordBusy = errors.New("ginauth: too many password checks at once")

// hashSlots bounds the password comparisons running at once and favours
// known clients twice: a login that presents a device credential of its
// account goes ahead of every other login waiting, and, when there is
// more than one slot, one slot is kept for known clients alone, so the
// account's owner never waits for a stranger's comparison to end. Within
// each lane, waiters are served in arrival order.
type hashSlots struct {
	mu       sync.Mutex
	size     int
	free     int
	reserved int             // slots kept for known clients while none runs
	running  int             // known clients holding a slot
	known    []chan struct{} // waiting known clients, oldest first
	other    []chan struct{} // everyone else
}

func newHashSlots(n int) *hashSlots {
	h := &hashSlots{size: n, free: n}
	if n > 1 {
		h.reserved = 1
	}
	return h
}

// canTake reports whether a client of the lane may take a free slot now:
// a stranger leaves the kept slot free unless a known client already
// holds one. The caller holds h.mu.
func (h *hashSlots) canTake(known bool) bool {
	if known {
		return h.free > 0
	}
	return h.free > max(0, h.reserved-h.running)
}

// take gives a free slot to a client of the lane and returns its
// release. The caller holds h.mu.
func (h *hashSlots) take(known bool) (release func()) {
	h.free--
	if known {
		h.running++
	}
	return func() { h.release(known) }
}

// acquire takes a slot, waiting at most wait (or until ctx ends) in the
// lane of known or other clients. The returned release gives it back.
func (h *hashSlots) acquire(ctx context.Context, known bool, wait time.Duration) (release func(), err error) {
	h.mu.Lock()
	if h.canTake(known) {
		release = h.take(known)
		h.mu.Unlock()
		return release, nil
	}
	ready := make(chan struct{})
	lane := &h.other
	if known {
		lane = &h.known
	}
	*lane = append(*lane, ready)
	h.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ready:
		return func() { h.release(known) }, nil
	case <-t.C:
		err = errPasswordBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-ready: // granted while giving up: keep it
		return func() { h.release(known) }, nil
	default:
	}
	for i, w := range *lane {
		if w == ready {
			*lane = append((*lane)[:i], (*lane)[i+1:]...)
			break
		}
	}
	return nil, err
}

// release gives back a slot held by a client of the lane known and hands
// it to the first known client waiting, else to the first other client
// unless it is the slot kept for known clients, else frees it.
func (h *hashSlots) release(known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.free++
	if known {
		h.running--
	}
	for _, lane := range []*[]chan struct{}{&h.known, &h.other} {
		if len(*lane) > 0 && h.canTake(lane == &h.known) {
			h.take(lane == &h.known)
			close((*lane)[0])
			*lane = (*lane)[1:]
			return
		}
	}
}

// waiting returns how many clients wait in each lane.
func (h *hashSlots) waiting() (known, other int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.known), len(h.other)
}

// stats reports the slots now.
func (h *hashSlots) stats() observe.SlotStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return observe.SlotStats{Size: h.size, Busy: h.size - h.free, Waiting: len(h.known) + len(h.other)}
}

// addressGate counts the password checks of each client address in this
// process, so that a burst from one address past AddressConcurrency is
// refused before it costs a store round trip. The store's count of
// pending attempts still holds the limit across processes.
type addressGate struct {
	mu sync.Mutex
	in map[string]int
}

// enter admits one more check of addr unless limit are in already; leave
// must be called once the check is over.
func (g *addressGate) enter(addr string, limit int) (leave func(), ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.in[addr] >= limit {
		return nil, false
	}
	if g.in == nil {
		g.in = make(map[string]int)
	}
	g.in[addr]++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.in[addr]--; g.in[addr] <= 0 {
			delete(g.in, addr)
		}
	}, true
}
