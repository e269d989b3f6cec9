package redisstore_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// TestDisabledByHand sets the disabled field of a user hash by hand, as
// an operator might: only "0", what the store writes for an enabled
// user, leaves the user enabled; every other value, and no field at all,
// disables it for User (and so for login) and for CreateSession.
func TestDisabledByHand(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	userKey := f.key("user")
	if v, err := f.rdb.HGet(ctx, userKey, "disabled").Result(); err != nil || v != "0" {
		t.Fatalf("disabled field of a new user = %q, %v; want \"0\"", v, err)
	}
	const absent = "(absent)"
	tests := []struct {
		value   string
		enabled bool
	}{
		{"0", true},
		{"1", false},
		{"true", false},
		{"yes", false},
		{"2", false},
		{"", false},
		{"false", false},
		{" 0", false},
		{"00", false},
		{absent, false},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			var err error
			if tc.value == absent {
				err = f.rdb.HDel(ctx, userKey, "disabled").Err()
			} else {
				err = f.rdb.HSet(ctx, userKey, "disabled", tc.value).Err()
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := f.s.User(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if u.Disabled == tc.enabled {
				t.Errorf("User().Disabled = %v, want %v", u.Disabled, !tc.enabled)
			}
			id := store.HashSecret([]byte(rand.Text()))
			_, err = f.s.CreateSession(ctx, store.SessionSpec{
				ID: id, Username: "alice", Refresh: store.HashSecret([]byte(rand.Text())),
				IdleTimeout: time.Hour, ExpiresAt: f.clock.Now().Add(time.Hour), Generation: u.Generation,
			})
			switch {
			case tc.enabled && err != nil:
				t.Errorf("CreateSession: %v, want a session", err)
			case !tc.enabled && !errors.Is(err, store.ErrNotFound):
				t.Errorf("CreateSession: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestDisabledByHandWithSessions follows the procedure doc.go gives for
// disabling a user by hand: set the field and delete the sessions hash.
// The user's sessions then end, refresh included, and no new one starts.
func TestDisabledByHandWithSessions(t *testing.T) {
	for _, value := range []string{"1", "true", "yes", "2", ""} {
		t.Run(value, func(t *testing.T) {
			f := newFixture(t)
			ctx := f.ctx
			id, ref := f.session(t)
			u, err := f.s.User(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.rdb.HSet(ctx, f.key("user"), "disabled", value).Err(); err != nil {
				t.Fatal(err)
			}
			if err := f.rdb.Del(ctx, f.key("s")).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Session(ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Session: %v, want ErrNotFound", err)
			}
			next := store.HashSecret([]byte(rand.Text()))
			if _, err := f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: next}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RotateRefresh: %v, want ErrNotFound", err)
			}
			_, err = f.s.CreateSession(ctx, store.SessionSpec{
				ID: store.HashSecret([]byte(rand.Text())), Username: "alice", Refresh: next,
				IdleTimeout: time.Hour, ExpiresAt: f.clock.Now().Add(time.Hour), Generation: u.Generation,
			})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("CreateSession: %v, want ErrNotFound", err)
			}
		})
	}
}
