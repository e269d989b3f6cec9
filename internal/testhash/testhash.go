// Package testhash holds a password hasher for tests that count or hold
// the comparisons a login makes.
package testhash

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/gin-authkit/authkit/accounts"
)

// Counting wraps a Hasher and records every hash it compares against;
// Gate, when set, holds each comparison until it is closed, after
// sending on Entered.
type Counting struct {
	accounts.Hasher
	Entered chan struct{}
	Gate    chan struct{}

	mu       sync.Mutex
	compared [][]byte
}

// Compare counts the comparisons the wrapped Hasher computes: a hash it
// refuses unread (another encoding, over the ceiling) is not counted.
func (h *Counting) Compare(ctx context.Context, hash, pw []byte) error {
	if h.Gate != nil {
		h.Entered <- struct{}{}
		<-h.Gate
	}
	err := h.Hasher.Compare(ctx, hash, pw)
	if !errors.Is(err, accounts.ErrHashUnsupported) && !errors.Is(err, accounts.ErrHashTooCostly) {
		h.mu.Lock()
		h.compared = append(h.compared, bytes.Clone(hash))
		h.mu.Unlock()
	}
	return err
}

// Take returns the hashes compared against since the last Take.
func (h *Counting) Take() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.compared
	h.compared = nil
	return c
}
