package storetest

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// BenchmarkSession measures [store.SessionStore.Session], the read behind
// every authenticated request. It creates a user with a random name, so
// that runs sharing a backend do not collide, and one session, then reads
// that session in a b.Loop. The session expires an hour after time.Now, so
// s must run on the real clock.
func BenchmarkSession(b *testing.B, s store.Store) {
	b.Helper()
	ctx := b.Context()
	username := "bench-" + strings.ToLower(rand.Text())
	if err := s.CreateUser(ctx, store.User{Username: username, PasswordHash: []byte("h"), Roles: []string{"user"}}); err != nil {
		b.Fatal(err)
	}
	u, err := s.User(ctx, username)
	if err != nil {
		b.Fatal(err)
	}
	id := newDigest()
	_, err = s.CreateSession(ctx, store.SessionSpec{
		ID: id, Username: username, Refresh: newDigest(),
		IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(time.Hour), Generation: u.Generation,
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Session(ctx, username, id); err != nil {
			b.Fatal(err)
		}
	}
}
