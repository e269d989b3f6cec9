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

	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	expired, cancel := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
	defer cancel()

	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"Cancelled", cancelled}, {"DeadlineExceeded", expired}} {
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
				{"SetRoles", func() error { return e.s.SetRoles(ctx, "alice", []string{"admin"}) }},
				{"SetDisabled", func() error { return e.s.SetDisabled(ctx, "alice", true) }},
				{"CreateSession", func() error {
					return e.s.CreateSession(ctx, store.NewSession{
						ID: newDigest(), Username: "alice", Refresh: newDigest(),
						IdleTimeout: idle, ExpiresAt: e.clock.Now().Add(life),
					})
				}},
				{"Session", func() error { _, err := e.s.Session(ctx, "alice", id); return err }},
				{"SessionUnknown", func() error { _, err := e.s.Session(ctx, "alice", newDigest()); return err }},
				{"Sessions", func() error { _, err := e.s.Sessions(ctx, "alice"); return err }},
				{"RotateRefresh", func() error { _, err := e.s.RotateRefresh(ctx, "alice", id, ref, newDigest()); return err }},
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
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 1 {
		t.Errorf("Sessions = %d sessions, want 1", len(list))
	}
	_, err = e.s.RotateRefresh(e.ctx, "alice", id, ref, newDigest())
	must(t, "RotateRefresh", err)
}
