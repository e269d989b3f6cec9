package ginauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/observe"
)

// TestHashSlotsKnownFirst: a freed slot goes to the known client waiting,
// even one that arrived after strangers, then to the strangers in order.
func TestHashSlotsKnownFirst(t *testing.T) {
	h := newHashSlots(1)
	ctx := context.Background()
	release, err := h.acquire(ctx, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	wait := func(name string, known bool) {
		r, err := h.acquire(ctx, known, time.Minute)
		if err != nil {
			order <- name + ": " + err.Error()
			return
		}
		order <- name
		r()
	}
	waiters := func() int { k, o := h.waiting(); return k + o }
	go wait("stranger 1", false)
	for waiters() < 1 {
		time.Sleep(time.Millisecond)
	}
	go wait("stranger 2", false)
	for waiters() < 2 {
		time.Sleep(time.Millisecond)
	}
	go wait("known", true)
	for waiters() < 3 {
		time.Sleep(time.Millisecond)
	}
	release()
	for _, want := range []string{"known", "stranger 1", "stranger 2"} {
		if got := <-order; got != want {
			t.Fatalf("served %q, want %q", got, want)
		}
	}
	// The slot comes back once the last of them releases it.
	r, err := h.acquire(ctx, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r()
}

// TestHashSlotsTimeout: a waiter that gives up leaves the queue, and the
// slot is not lost.
func TestHashSlotsTimeout(t *testing.T) {
	h := newHashSlots(1)
	release, err := h.acquire(context.Background(), false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.acquire(context.Background(), true, time.Millisecond); !errors.Is(err, errPasswordBusy) {
		t.Errorf("acquire with every slot busy = %v, want errPasswordBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.acquire(ctx, false, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with a done context = %v, want context.Canceled", err)
	}
	if k, o := h.waiting(); k+o != 0 {
		t.Errorf("%d known and %d others still queued, want none", k, o)
	}
	release()
	r, err := h.acquire(context.Background(), false, time.Millisecond)
	if err != nil {
		t.Fatalf("the slot was lost: %v", err)
	}
	r()
}

// TestHashSlotsReserve: with two slots or more, strangers leave one free
// for known clients, who then never wait for a stranger's comparison.
func TestHashSlotsReserve(t *testing.T) {
	ctx := context.Background()
	h := newHashSlots(2)
	r1, err := h.acquire(ctx, false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.acquire(ctx, false, time.Millisecond); !errors.Is(err, errPasswordBusy) {
		t.Fatalf("a second stranger took the known clients' slot: %v", err)
	}
	r2, err := h.acquire(ctx, true, time.Millisecond)
	if err != nil {
		t.Fatalf("a known client waited with a slot free: %v", err)
	}
	// Released by the known client, the slot stays kept; released by the
	// stranger, the other goes to a waiting stranger.
	got := make(chan error, 1)
	go func() {
		r, err := h.acquire(ctx, false, time.Minute)
		if err == nil {
			r()
		}
		got <- err
	}()
	for _, o := h.waiting(); o < 1; _, o = h.waiting() {
		time.Sleep(time.Millisecond)
	}
	r2()
	select {
	case err := <-got:
		t.Fatalf("a stranger took the kept slot: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	r1()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// One slot: no reserve, else strangers could never log in.
	one := newHashSlots(1)
	r, err := one.acquire(ctx, false, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	r()
}

// TestHashSlotsStats: stats counts the slots held and the clients waiting.
func TestHashSlotsStats(t *testing.T) {
	h := newHashSlots(2)
	ctx := context.Background()
	var releases []func()
	for range 2 {
		r, err := h.acquire(ctx, true, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r, err := h.acquire(ctx, false, time.Minute); err == nil {
			r()
		}
	}()
	for h.stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	if got, want := h.stats(), (observe.SlotStats{Size: 2, Busy: 2, Waiting: 1}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	for _, r := range releases {
		r()
	}
	<-done
	if got, want := h.stats(), (observe.SlotStats{Size: 2}); got != want {
		t.Errorf("stats at rest = %+v, want %+v", got, want)
	}
}
