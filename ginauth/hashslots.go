package ginauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errPasswordBusy: every password-check slot stayed taken for PasswordWait.
var errPasswordBusy = errors.New("ginauth: too many password checks at once")

// hashSlots bounds the password comparisons running at once and hands
// free slots to known clients first: a login that presents a device
// credential of its account goes ahead of every other login waiting, so a
// flood of strangers' logins cannot queue the account's owner out. Within
// each lane, waiters are served in arrival order.
type hashSlots struct {
	mu    sync.Mutex
	free  int
	known []chan struct{} // waiting known clients, oldest first
	other []chan struct{} // everyone else
}

func newHashSlots(n int) *hashSlots { return &hashSlots{free: n} }

// acquire takes a slot, waiting at most wait (or until ctx ends) in the
// lane of known or other clients. The returned release gives it back.
func (h *hashSlots) acquire(ctx context.Context, known bool, wait time.Duration) (release func(), err error) {
	h.mu.Lock()
	if h.free > 0 {
		h.free--
		h.mu.Unlock()
		return h.release, nil
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
		return h.release, nil
	case <-t.C:
		err = errPasswordBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-ready: // granted while giving up: keep it
		return h.release, nil
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

// release hands the slot to the first known client waiting, else to the
// first other client, else frees it.
func (h *hashSlots) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, lane := range []*[]chan struct{}{&h.known, &h.other} {
		if len(*lane) > 0 {
			close((*lane)[0])
			*lane = (*lane)[1:]
			return
		}
	}
	h.free++
}

// waiting returns how many clients wait in each lane.
func (h *hashSlots) waiting() (known, other int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.known), len(h.other)
}
