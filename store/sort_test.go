package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

func TestSortSessions(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Named for their place in the sorted list.
	first := store.Session{ID: store.Digest{9}, CreatedAt: t0}
	tieLow := store.Session{ID: store.Digest{1}, CreatedAt: t0.Add(time.Minute)}
	tieHigh := store.Session{ID: store.Digest{2}, CreatedAt: t0.Add(time.Minute)}
	last := store.Session{ID: store.Digest{0}, CreatedAt: t0.Add(time.Hour)}
	want := []store.Session{first, tieLow, tieHigh, last}

	tests := []struct {
		name string
		in   []store.Session
	}{
		{"Sorted", []store.Session{first, tieLow, tieHigh, last}},
		{"Reversed", []store.Session{last, tieHigh, tieLow, first}},
		{"Shuffled", []store.Session{tieHigh, last, first, tieLow}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store.SortSessions(tc.in)
			if !slices.EqualFunc(tc.in, want, func(a, b store.Session) bool { return a.ID == b.ID }) {
				t.Errorf("order = %v, want %v", ids(tc.in), ids(want))
			}
		})
	}
	store.SortSessions(nil) // must not panic
}

func ids(list []store.Session) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID.String()[:2]
	}
	return out
}
