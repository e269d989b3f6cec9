package memstore

import (
	"fmt"
	"testing"
	"time"
)

// TestSweepRemovesExpiredCounters checks that counters nobody reads again
// do not stay in memory: failures on ever new keys, such as a scan over
// many addresses, must not grow the table past the counters still live.
func TestSweepRemovesExpiredCounters(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	held := func() int {
		s.attempts.mu.Lock()
		defer s.attempts.mu.Unlock()
		if len(s.attempts.byKey) != s.attempts.all.len() {
			t.Fatalf("the indexes disagree: %d keys, %d counters", len(s.attempts.byKey), s.attempts.all.len())
		}
		return s.attempts.all.len()
	}

	const dead = 500
	for i := range dead {
		if _, err := s.EndAttempt(ctx, "a", true, time.Minute, fmt.Sprint("old-", i)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	// Each call adds several keys, so the sweep has to keep up with more
	// than one new counter per call.
	const calls, perCall = 100, 5
	for i := range calls {
		keys := make([]string, perCall)
		for j := range keys {
			keys[j] = fmt.Sprint("new-", i, "-", j)
		}
		if _, err := s.EndAttempt(ctx, "a", true, time.Hour, keys...); err != nil {
			t.Fatal(err)
		}
	}
	if got, live := held(), calls*perCall; got != live {
		t.Errorf("the store holds %d counters, want only the %d live ones", got, live)
	}
}
