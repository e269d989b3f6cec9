package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

var contextCases = []testCase{
	{"Ping", testPing},
	{"Done", testContextDone},
}

func testPing(t *testing.T, e *env) {
	must(t, "Ping", e.s.Ping(e.ctx))
}

// testContextDone checks that a call whose context is over fails with an
// infrastructure error: a caller that gave up must never be told that a
// credential is unknown, and nothing may change on its behalf.
func testContextDone(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	id, ref := e.session(t, "alice", idle, life)
	gen := e.gen(t, "alice")

	for _, c := range doneContexts(t, e.ctx) {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			calls := []struct {
				name string
				call func() error
			}{
				{"CreateUser", func() error {
					return e.s.CreateUser(ctx, store.User{Username: "bob", PasswordHash: []byte("h")})
				}},
				{"User", func() error { _, err := e.s.User(ctx, "alice"); return err }},
				{"UserUnknown", func() error { _, err := e.s.User(ctx, "nobody"); return err }},
				{"SetPasswordHash", func() error { return e.s.SetPasswordHash(ctx, "alice", []byte("x")) }},
				{"RehashPassword", func() error {
					_, err := e.s.RehashPassword(ctx, "alice", gen, []byte("$2a$10$alice"), []byte("x"))
					return err
				}},
				{"SetRoles", func() error { return e.s.SetRoles(ctx, "alice", []string{"admin"}) }},
				{"SetDisabled", func() error { return e.s.SetDisabled(ctx, "alice", true) }},
				{"CreateSession", func() error {
					_, err := e.s.CreateSession(ctx, store.SessionSpec{
						ID: newDigest(), Username: "alice", Refresh: newDigest(),
						IdleTimeout: idle, ExpiresAt: e.clock.Now().Add(life), Generation: gen,
					})
					return err
				}},
				{"Session", func() error { _, err := e.s.Session(ctx, "alice", id); return err }},
				{"SessionUnknown", func() error { _, err := e.s.Session(ctx, "alice", newDigest()); return err }},
				{"PeekSession", func() error { _, err := e.s.PeekSession(ctx, "alice", id); return err }},
				{"PeekSessionUnknown", func() error { _, err := e.s.PeekSession(ctx, "alice", newDigest()); return err }},
				{"Sessions", func() error { _, err := e.s.Sessions(ctx, "alice"); return err }},
				{"RotateRefresh", func() error {
					_, err := e.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: newDigest()})
					return err
				}},
				{"RevokeSession", func() error { return e.s.RevokeSession(ctx, "alice", id) }},
				{"RevokeAll", func() error { return e.s.RevokeAll(ctx, "alice") }},
				{"Ping", func() error { return e.s.Ping(ctx) }},
			}
			for _, c := range calls {
				wantInfraErr(t, c.name, c.call())
			}
		})
	}

	// None of the failed calls took effect.
	_, err := e.s.User(e.ctx, "bob")
	wantErr(t, "User(bob)", err, store.ErrNotFound)
	u, err := e.s.User(e.ctx, "alice")
	must(t, "User", err)
	checkUser(t, u, store.User{Username: "alice", PasswordHash: []byte("$2a$10$alice"), Roles: []string{"user"}, CreatedAt: epoch})
	if u.Generation != gen {
		t.Errorf("Generation moved from %d to %d", gen, u.Generation)
	}
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 1 {
		t.Errorf("Sessions = %d sessions, want 1", len(list))
	}
	e.rotate(t, "alice", id, ref, 0)
}

// doneContext is a context that is already over, and how it ended.
type doneContext struct {
	name string
	ctx  context.Context
}

// doneContexts returns a cancelled context and one past its deadline.
func doneContexts(t *testing.T, parent context.Context) []doneContext {
	cancelled, cancel := context.WithCancel(parent)
	cancel()
	expired, cancel := context.WithDeadline(parent, time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	return []doneContext{{"Cancelled", cancelled}, {"DeadlineExceeded", expired}}
}
