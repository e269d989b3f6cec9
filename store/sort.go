package store

import (
	"bytes"
	"cmp"
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

// SortFactors sorts f into the order [FactorStore.Factors] returns:
// oldest first, ties by kind, then ID.
func SortFactors(f []Factor) {
	slices.SortFunc(f, func(a, b Factor) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// SortAPIKeys sorts k into the order [APIKeyStore.APIKeys] returns:
// oldest first, ties by ID.
func SortAPIKeys(k []APIKey) {
	slices.SortFunc(k, func(a, b APIKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
