package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

var userCases = []testCase{
	{"CreateAndRead", testCreateAndReadUser},
	{"Duplicate", testDuplicateUser},
	{"Invalid", testInvalidUser},
	{"Unknown", testUnknownUser},
	{"Updates", testUpdateUser},
	{"Copies", testUserCopies},
}

// checkUser reports every field of got that differs from want.
func checkUser(t *testing.T, got, want store.User) {
	t.Helper()
	if got.Username != want.Username {
		t.Errorf("Username = %q, want %q", got.Username, want.Username)
	}
	if !bytes.Equal(got.PasswordHash, want.PasswordHash) {
		t.Errorf("PasswordHash = %q, want %q", got.PasswordHash, want.PasswordHash)
	}
	if !sameRoles(got.Roles, want.Roles) {
		t.Errorf("Roles = %q, want %q", got.Roles, want.Roles)
	}
	if got.Disabled != want.Disabled {
		t.Errorf("Disabled = %v, want %v", got.Disabled, want.Disabled)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
}

func testCreateAndReadUser(t *testing.T, e *env) {
	tests := []struct {
		name string
		in   store.User
	}{
		{"Roles", store.User{Username: "alice", PasswordHash: []byte("$2a$10$alice"), Roles: []string{"admin", "user"}}},
		{"NoRoles", store.User{Username: "bob@example.com", PasswordHash: []byte("$2a$10$bob")}},
		{"Disabled", store.User{Username: "carol", PasswordHash: []byte("$2a$10$carol"), Roles: []string{"user"}, Disabled: true}},
		// The store owns CreatedAt: a caller cannot backdate an account.
		{"CreatedAtIgnored", store.User{Username: "dave", PasswordHash: []byte("x"), CreatedAt: time.Unix(1, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.in
			want.CreatedAt = e.clock.Now()
			must(t, "CreateUser", e.s.CreateUser(e.ctx, tc.in))
			e.clock.Advance(time.Minute)
			got, err := e.s.User(e.ctx, tc.in.Username)
			must(t, "User", err)
			checkUser(t, got, want)
		})
	}
	t.Run("CaseSensitive", func(t *testing.T) {
		_, err := e.s.User(e.ctx, "Alice")
		wantErr(t, "User(Alice)", err, store.ErrNotFound)
	})
}

func testDuplicateUser(t *testing.T, e *env) {
	must(t, "CreateUser", e.s.CreateUser(e.ctx, store.User{Username: "alice", PasswordHash: []byte("first"), Roles: []string{"admin"}}))
	created := e.clock.Now()
	e.clock.Advance(time.Minute)
	err := e.s.CreateUser(e.ctx, store.User{Username: "alice", PasswordHash: []byte("second"), Roles: []string{"user"}})
	wantErr(t, "second CreateUser", err, store.ErrExists)
	got, err := e.s.User(e.ctx, "alice")
	must(t, "User", err)
	checkUser(t, got, store.User{Username: "alice", PasswordHash: []byte("first"), Roles: []string{"admin"}, CreatedAt: created})
}

func testInvalidUser(t *testing.T, e *env) {
	tooMany := make([]string, store.MaxRoles+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("r%d", i)
	}
	tests := []struct {
		name string
		in   store.User
	}{
		{"EmptyName", store.User{Username: ""}},
		{"Space", store.User{Username: "al ice"}},
		{"HashTag", store.User{Username: "{alice}"}},
		{"LeadingDot", store.User{Username: ".alice"}},
		{"TooLong", store.User{Username: strings.Repeat("a", store.MaxUsernameLen+1)}},
		{"EmptyRole", store.User{Username: "alice", Roles: []string{""}}},
		{"RoleWithComma", store.User{Username: "alice", Roles: []string{"a,b"}}},
		{"DuplicateRole", store.User{Username: "alice", Roles: []string{"a", "a"}}},
		{"TooManyRoles", store.User{Username: "alice", Roles: tooMany}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.s.CreateUser(e.ctx, tc.in)
			wantErr(t, "CreateUser", err, store.ErrInvalid)
		})
	}
	// A rejected user leaves nothing behind.
	_, err := e.s.User(e.ctx, "alice")
	wantErr(t, "User after rejected creates", err, store.ErrNotFound)
}

func testUnknownUser(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	// A malformed name cannot belong to any user, so looking it up is a
	// miss like any other rather than a caller error.
	for _, name := range []string{"nobody", "bad name", "", "{alice}"} {
		ops := []struct {
			name string
			call func() error
		}{
			{"User", func() error { _, err := e.s.User(e.ctx, name); return err }},
			{"SetPasswordHash", func() error { return e.s.SetPasswordHash(e.ctx, name, []byte("h")) }},
			{"SetRoles", func() error { return e.s.SetRoles(e.ctx, name, []string{"admin"}) }},
			{"SetDisabled(true)", func() error { return e.s.SetDisabled(e.ctx, name, true) }},
			{"SetDisabled(false)", func() error { return e.s.SetDisabled(e.ctx, name, false) }},
		}
		for _, op := range ops {
			wantErr(t, fmt.Sprintf("%s(%q)", op.name, name), op.call(), store.ErrNotFound)
		}
	}
	// The failed updates must not have created a partial user.
	_, err := e.s.User(e.ctx, "nobody")
	wantErr(t, "User after failed updates", err, store.ErrNotFound)
	must(t, "CreateUser nobody", e.s.CreateUser(e.ctx, store.User{Username: "nobody", PasswordHash: []byte("h")}))
}

func testUpdateUser(t *testing.T, e *env) {
	created := e.clock.Now()
	e.user(t, "alice", "user")
	want := store.User{Username: "alice", PasswordHash: []byte("$2a$10$alice"), Roles: []string{"user"}, CreatedAt: created}
	steps := []struct {
		name    string
		call    func() error
		wantErr error
		update  func(u *store.User)
	}{
		{"SetPasswordHash", func() error { return e.s.SetPasswordHash(e.ctx, "alice", []byte("new")) }, nil,
			func(u *store.User) { u.PasswordHash = []byte("new") }},
		{"SetRoles", func() error { return e.s.SetRoles(e.ctx, "alice", []string{"ops", "admin"}) }, nil,
			func(u *store.User) { u.Roles = []string{"admin", "ops"} }},
		{"SetRolesInvalid", func() error { return e.s.SetRoles(e.ctx, "alice", []string{"ok", "not ok"}) }, store.ErrInvalid,
			func(u *store.User) {}},
		{"SetDisabled", func() error { return e.s.SetDisabled(e.ctx, "alice", true) }, nil,
			func(u *store.User) { u.Disabled = true }},
		{"SetDisabledAgain", func() error { return e.s.SetDisabled(e.ctx, "alice", true) }, nil,
			func(u *store.User) {}},
		{"SetEnabled", func() error { return e.s.SetDisabled(e.ctx, "alice", false) }, nil,
			func(u *store.User) { u.Disabled = false }},
		{"SetRolesEmpty", func() error { return e.s.SetRoles(e.ctx, "alice", nil) }, nil,
			func(u *store.User) { u.Roles = nil }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.clock.Advance(time.Minute)
			err := st.call()
			if st.wantErr == nil {
				must(t, st.name, err)
			} else {
				wantErr(t, st.name, err, st.wantErr)
			}
			st.update(&want)
			got, err := e.s.User(e.ctx, "alice")
			must(t, "User", err)
			checkUser(t, got, want)
		})
	}
}

func testUserCopies(t *testing.T, e *env) {
	hash := []byte("hash")
	roles := []string{"admin", "user"}
	must(t, "CreateUser", e.s.CreateUser(e.ctx, store.User{Username: "alice", PasswordHash: hash, Roles: roles}))
	hash[0] = 'X'
	roles[0] = "root"

	got, err := e.s.User(e.ctx, "alice")
	must(t, "User", err)
	if string(got.PasswordHash) != "hash" || !sameRoles(got.Roles, []string{"admin", "user"}) {
		t.Fatalf("store kept the caller's slices: got %q %q", got.PasswordHash, got.Roles)
	}
	got.PasswordHash[0] = 'Y'
	got.Roles[0] = "root"

	newRoles := []string{"ops"}
	must(t, "SetRoles", e.s.SetRoles(e.ctx, "alice", newRoles))
	newRoles[0] = "root"
	newHash := []byte("h2")
	must(t, "SetPasswordHash", e.s.SetPasswordHash(e.ctx, "alice", newHash))
	newHash[0] = 'Z'

	got, err = e.s.User(e.ctx, "alice")
	must(t, "User", err)
	if string(got.PasswordHash) != "h2" || !sameRoles(got.Roles, []string{"ops"}) {
		t.Fatalf("store shares slices with callers: got %q %q", got.PasswordHash, got.Roles)
	}

	id, _ := e.session(t, "alice", idle, life)
	s := e.live(t, "alice", id)
	if len(s.Roles) > 0 {
		s.Roles[0] = "root"
	}
	if s := e.live(t, "alice", id); !sameRoles(s.Roles, []string{"ops"}) {
		t.Fatalf("Session roles shared with an earlier result: %q", s.Roles)
	}
}
