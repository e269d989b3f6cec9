package ginauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// macPool hands out HMAC-SHA256 states for one key. hmac.New hashes the
// padded key and allocates two SHA-256 states each time; a pooled state
// is keyed once, and Reset restores its keyed state from a copy, so each
// MAC after the first costs only the message's blocks.
type macPool struct{ pool sync.Pool }

func newMACPool(key []byte) *macPool {
	key = append([]byte(nil), key...) // the pool keeps its own copy
	p := &macPool{}
	p.pool.New = func() any { return &macState{mac: hmac.New(sha256.New, key)} }
	return p
}

// get returns a state ready for a new message; put it back when done.
func (p *macPool) get() *macState {
	m := p.pool.Get().(*macState)
	m.mac.Reset()
	return m
}

func (p *macPool) put(m *macState) { p.pool.Put(m) }

// macState is an HMAC-SHA256 state with buffers that keep strings
// written to it and its sum off the heap.
type macState struct {
	mac     hash.Hash
	chunk   [256]byte
	scratch [8]byte
	sum     [sha256.Size]byte
}

// writeString and write pass their input through m's own buffer, so that
// it does not escape to the heap through the hash.Hash interface.
func (m *macState) writeString(s string) {
	for len(s) > 0 {
		n := copy(m.chunk[:], s)
		m.mac.Write(m.chunk[:n])
		s = s[n:]
	}
}

func (m *macState) write(b []byte) {
	for len(b) > 0 {
		n := copy(m.chunk[:], b)
		m.mac.Write(m.chunk[:n])
		b = b[n:]
	}
}

// final returns the MAC of what was written, in m's own buffer: valid
// until m is put back.
func (m *macState) final() []byte { return m.mac.Sum(m.sum[:0]) }
