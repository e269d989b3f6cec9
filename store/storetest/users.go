package storetest

import (
	"bytes"
	"errors"
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
	{"Generation", testGeneration},
	{"RehashPassword", testRehashPassword},
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
		{"NoPassword", store.User{Username: "billing-job", Roles: []string{"reports"}}}, // a service account
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.in
			want.CreatedAt = e.clock.Now()
			must(t, "CreateUser", e.u.CreateUser(e.ctx, tc.in))
			e.clock.Advance(time.Minute)
			got, err := e.u.User(e.ctx, tc.in.Username)
			must(t, "User", err)
			checkUser(t, got, want)
		})
	}
	// Only canonical (lower-case) names are stored, so "Alice" is no
	// account and can never become a second one beside "alice".
	t.Run("UpperCase", func(t *testing.T) {
		_, err := e.u.User(e.ctx, "Alice")
		wantErr(t, "User(Alice)", err, store.ErrNotFound)
		err = e.u.CreateUser(e.ctx, store.User{Username: "Alice", PasswordHash: []byte("x")})
		wantErr(t, "CreateUser(Alice)", err, store.ErrInvalid)
		_, err = e.u.User(e.ctx, "Alice")
		wantErr(t, "User(Alice) after CreateUser", err, store.ErrNotFound)
	})
}

func testDuplicateUser(t *testing.T, e *env) {
	must(t, "CreateUser", e.u.CreateUser(e.ctx, store.User{Username: "alice", PasswordHash: []byte("first"), Roles: []string{"admin"}}))
	created := e.clock.Now()
	e.clock.Advance(time.Minute)
	err := e.u.CreateUser(e.ctx, store.User{Username: "alice", PasswordHash: []byte("second"), Roles: []string{"user"}})
	wantErr(t, "second CreateUser", err, store.ErrExists)
	got, err := e.u.User(e.ctx, "alice")
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
		{"UpperCase", store.User{Username: "Alice"}},
		{"LeadingDot", store.User{Username: ".alice"}},
		{"TooLong", store.User{Username: strings.Repeat("a", store.MaxUsernameLen+1)}},
		{"EmptyRole", store.User{Username: "alice", Roles: []string{""}}},
		{"RoleWithComma", store.User{Username: "alice", Roles: []string{"a,b"}}},
		{"DuplicateRole", store.User{Username: "alice", Roles: []string{"a", "a"}}},
		{"TooManyRoles", store.User{Username: "alice", Roles: tooMany}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.u.CreateUser(e.ctx, tc.in)
			wantErr(t, "CreateUser", err, store.ErrInvalid)
		})
	}
	// A rejected user leaves nothing behind.
	_, err := e.u.User(e.ctx, "alice")
	wantErr(t, "User after rejected creates", err, store.ErrNotFound)
}

func testUnknownUser(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	// A malformed name cannot belong to any user, so looking it up is a
	// miss like any other rather than a caller error.
	for _, name := range []string{"nobody", "bad name", "", "{alice}", "Alice"} {
		ops := []struct {
			name string
			call func() error
		}{
			{"User", func() error { _, err := e.u.User(e.ctx, name); return err }},
			{"SetPasswordHash", func() error { return e.u.SetPasswordHash(e.ctx, name, []byte("h")) }},
			{"RehashPassword", func() error {
				_, err := e.u.RehashPassword(e.ctx, name, 0, []byte("h"), []byte("h2"))
				return err
			}},
			{"SetRoles", func() error { return e.u.SetRoles(e.ctx, name, []string{"admin"}) }},
			{"SetDisabled(true)", func() error { return e.u.SetDisabled(e.ctx, name, true) }},
			{"SetDisabled(false)", func() error { return e.u.SetDisabled(e.ctx, name, false) }},
		}
		for _, op := range ops {
			wantErr(t, fmt.Sprintf("%s(%q)", op.name, name), op.call(), store.ErrNotFound)
		}
	}
	// The failed updates must not have created a partial user.
	_, err := e.u.User(e.ctx, "nobody")
	wantErr(t, "User after failed updates", err, store.ErrNotFound)
	must(t, "CreateUser nobody", e.u.CreateUser(e.ctx, store.User{Username: "nobody", PasswordHash: []byte("h")}))
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
		{"SetPasswordHash", func() error { return e.u.SetPasswordHash(e.ctx, "alice", []byte("new")) }, nil,
			func(u *store.User) { u.PasswordHash = []byte("new") }},
		{"SetRoles", func() error { return e.u.SetRoles(e.ctx, "alice", []string{"ops", "admin"}) }, nil,
			func(u *store.User) { u.Roles = []string{"admin", "ops"} }},
		{"SetRolesInvalid", func() error { return e.u.SetRoles(e.ctx, "alice", []string{"ok", "not ok"}) }, store.ErrInvalid,
			func(u *store.User) {}},
		{"SetDisabled", func() error { return e.u.SetDisabled(e.ctx, "alice", true) }, nil,
			func(u *store.User) { u.Disabled = true }},
		{"SetDisabledAgain", func() error { return e.u.SetDisabled(e.ctx, "alice", true) }, nil,
			func(u *store.User) {}},
		{"SetEnabled", func() error { return e.u.SetDisabled(e.ctx, "alice", false) }, nil,
			func(u *store.User) { u.Disabled = false }},
		{"SetRolesEmpty", func() error { return e.u.SetRoles(e.ctx, "alice", nil) }, nil,
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
			got, err := e.u.User(e.ctx, "alice")
			must(t, "User", err)
			checkUser(t, got, want)
		})
	}
}

func testUserCopies(t *testing.T, e *env) {
	hash := []byte("hash")
	roles := []string{"admin", "user"}
	must(t, "CreateUser", e.u.CreateUser(e.ctx, store.User{Username: "alice", PasswordHash: hash, Roles: roles}))
	hash[0] = 'X'
	roles[0] = "root"

	got, err := e.u.User(e.ctx, "alice")
	must(t, "User", err)
	if string(got.PasswordHash) != "hash" || !sameRoles(got.Roles, []string{"admin", "user"}) {
		t.Fatalf("store kept the caller's slices: got %q %q", got.PasswordHash, got.Roles)
	}
	got.PasswordHash[0] = 'Y'
	got.Roles[0] = "root"

	newRoles := []string{"ops"}
	must(t, "SetRoles", e.u.SetRoles(e.ctx, "alice", newRoles))
	newRoles[0] = "root"
	newHash := []byte("h2")
	must(t, "SetPasswordHash", e.u.SetPasswordHash(e.ctx, "alice", newHash))
	newHash[0] = 'Z'

	got, err = e.u.User(e.ctx, "alice")
	must(t, "User", err)
	if string(got.PasswordHash) != "h2" || !sameRoles(got.Roles, []string{"ops"}) {
		t.Fatalf("store shares slices with callers: got %q %q", got.PasswordHash, got.Roles)
	}

	if e.s == nil {
		return
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

// testGeneration checks which updates move a user to a new generation:
// exactly those that must end the user's sessions and logins in flight.
// Before each step it logs in (creates a session in the current
// generation) while the user is enabled; a step that bumps ends it.
func testGeneration(t *testing.T, e *env) {
	e.user(t, "alice", "user")
	gen := e.gen(t, "alice")
	if again := e.gen(t, "alice"); again != gen {
		t.Fatalf("two reads of one user: Generation %d, then %d", gen, again)
	}
	steps := []struct {
		name    string
		call    func() error
		wantErr error
		bumps   bool
		enabled bool // after the step
	}{
		{"SetRoles", func() error { return e.u.SetRoles(e.ctx, "alice", []string{"admin"}) }, nil, false, true},
		{"SetRolesInvalid", func() error { return e.u.SetRoles(e.ctx, "alice", []string{"not ok"}) }, store.ErrInvalid, false, true},
		{"SetDisabledFalse", func() error { return e.u.SetDisabled(e.ctx, "alice", false) }, nil, false, true},
		{"RehashPassword", func() error {
			ok, err := e.u.RehashPassword(e.ctx, "alice", e.gen(t, "alice"), []byte("$2a$10$alice"), []byte("$argon2id$alice"))
			if err == nil && !ok {
				return errors.New("RehashPassword did not replace the hash")
			}
			return err
		}, nil, false, true},
		{"SetPasswordHash", func() error { return e.u.SetPasswordHash(e.ctx, "alice", []byte("new")) }, nil, true, true},
		{"RevokeAll", func() error { return e.s.RevokeAll(e.ctx, "alice") }, nil, true, true},
		{"RevokeAllUnknownUser", func() error { return e.s.RevokeAll(e.ctx, "bob") }, nil, false, true},
		{"SetDisabledTrue", func() error { return e.u.SetDisabled(e.ctx, "alice", true) }, nil, true, false},
		{"SetPasswordHashWhileDisabled", func() error { return e.u.SetPasswordHash(e.ctx, "alice", []byte("newer")) }, nil, true, false},
		{"Reenable", func() error { return e.u.SetDisabled(e.ctx, "alice", false) }, nil, false, true},
	}
	enabled := true
	for _, st := range steps {
		if e.s == nil && strings.HasPrefix(st.name, "RevokeAll") {
			continue // a session store's operation
		}
		t.Run(st.name, func(t *testing.T) {
			var id store.Digest
			if enabled && e.s != nil {
				id, _ = e.session(t, "alice", idle, life)
			}
			err := st.call()
			if st.wantErr == nil {
				must(t, st.name, err)
			} else {
				wantErr(t, st.name, err, st.wantErr)
			}
			got := e.gen(t, "alice")
			switch {
			case st.bumps && got == gen:
				t.Errorf("Generation stayed %d, want a new one", gen)
			case !st.bumps && got != gen:
				t.Errorf("Generation moved from %d to %d, want it unchanged", gen, got)
			}
			gen, enabled = got, st.enabled
			switch {
			case id.IsZero():
			case st.bumps || !enabled:
				e.gone(t, "alice", id)
			default:
				e.live(t, "alice", id)
			}
		})
	}
	if e.s == nil {
		return
	}
	// A bump is for good: re-enabling revived no session of an old
	// generation, and logging in again works.
	list, err := e.s.Sessions(e.ctx, "alice")
	must(t, "Sessions", err)
	if len(list) != 0 {
		t.Errorf("Sessions after the steps = %d sessions, want 0", len(list))
	}
	e.live(t, "alice", func() store.Digest { id, _ := e.session(t, "alice", idle, life); return id }())
}

func testRehashPassword(t *testing.T, e *env) {
	const old, stronger = "$2a$10$old", "$argon2id$v=19$stronger"
	same := func(g uint64) uint64 { return g }
	self := func(name string) string { return name }
	other := func(target string) func(string) string { return func(string) string { return target } }
	tests := []struct {
		name     string
		target   func(name string) string // whom to rehash, given the case's own user
		gen      func(current uint64) uint64
		old      string
		want     bool
		wantErr  error
		wantHash string
	}{
		{"Replaces", self, same, old, true, nil, stronger},
		{"HashChanged", self, same, "$2a$10$other", false, nil, old},
		{"GenerationChanged", self, func(g uint64) uint64 { return g + 1 }, old, false, nil, old},
		{"UnknownUser", other("nobody"), same, old, false, store.ErrNotFound, old},
		{"MalformedUser", other("bad name"), same, old, false, store.ErrNotFound, old},
		{"UpperCaseUser", strings.ToUpper, same, old, false, store.ErrNotFound, old},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("user%d", i)
			must(t, "CreateUser", e.u.CreateUser(e.ctx, store.User{Username: name, PasswordHash: []byte(old)}))
			target := tc.target(name)
			before, err := e.u.User(e.ctx, name)
			must(t, "User", err)
			var id store.Digest
			if e.s != nil {
				id, _ = e.session(t, name, idle, life)
			}

			ok, err := e.u.RehashPassword(e.ctx, target, tc.gen(before.Generation), []byte(tc.old), []byte(stronger))
			if tc.wantErr == nil {
				must(t, "RehashPassword", err)
			} else {
				wantErr(t, "RehashPassword", err, tc.wantErr)
			}
			if ok != tc.want {
				t.Errorf("RehashPassword = %v, want %v", ok, tc.want)
			}
			// Only the hash may change: a rehash is no password change.
			after, err := e.u.User(e.ctx, name)
			must(t, "User", err)
			want := before
			want.PasswordHash = []byte(tc.wantHash)
			checkUser(t, after, want)
			if after.Generation != before.Generation {
				t.Errorf("Generation moved from %d to %d, want it unchanged", before.Generation, after.Generation)
			}
			if e.s != nil {
				e.live(t, name, id)
			}
		})
	}
	// After a password change, a rehash prepared against the old
	// password's hash cannot overwrite the new one.
	t.Run("AfterPasswordChange", func(t *testing.T) {
		e.user(t, "carol", "user")
		gen := e.gen(t, "carol")
		must(t, "SetPasswordHash", e.u.SetPasswordHash(e.ctx, "carol", []byte("$2a$10$changed")))
		ok, err := e.u.RehashPassword(e.ctx, "carol", gen, []byte("$2a$10$carol"), []byte(stronger))
		must(t, "RehashPassword", err)
		if ok {
			t.Errorf("RehashPassword with the old hash after a password change = true, want false")
		}
		u, err := e.u.User(e.ctx, "carol")
		must(t, "User", err)
		if string(u.PasswordHash) != "$2a$10$changed" {
			t.Errorf("PasswordHash = %q, want the changed one", u.PasswordHash)
		}
	})
}
