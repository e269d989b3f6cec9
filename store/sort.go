package store

import (
	"bytes"
	"slices"
)

// SortSessions sorts s into the order [SessionStore.Sessions] returns:
// oldest first, ties by ID.
func SortSessions(s []Session) {
	slices.SortFunc(s, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}
