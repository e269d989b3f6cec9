package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/internal/testhash"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
)

func newAccounts(t *testing.T, st store.UserStore, h accounts.Hasher, logger *slog.Logger) *accounts.Manager {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a, err := accounts.New(accounts.Config{Users: st, Hasher: h, AllowTestCosts: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestEveryLoginPaysOneComparison: unknown users, malformed names,
// disabled users and bad passwords cost exactly one comparison, like a
// known user, against a stand-in hash when there is no usable one;
// otherwise the response time would tell which usernames exist.
func TestEveryLoginPaysOneComparison(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}}
	a := newAccounts(t, st, h, nil)
	for _, name := range []string{"bob", "dora"} {
		if err := a.CreateUser(ctx, name, name+"-password", []string{"user"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.SetDisabled(ctx, "dora", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pw string
		wantOK         bool
		against        string // whose hash is compared; "" for the stand-in
	}{
		{"known user, right password", "bob", "bob-password", true, "bob"},
		{"known user, other case", "BOB", "bob-password", true, "bob"},
		{"known user, wrong password", "bob", "nope-nope", false, "bob"},
		{"known user, 73-byte password", "bob", strings.Repeat("b", 73), false, "bob"},
		{"disabled user, right password", "dora", "dora-password", false, "dora"},
		{"unknown user", "mallory", "whatever-pw", false, ""},
		{"malformed username", "{bad}", "whatever-pw", false, ""},
		{"unknown user, empty password", "mallory", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.Take()
			_, err := a.Verify(ctx, tt.user, tt.pw)
			if (err == nil) != tt.wantOK || (err != nil && !errors.Is(err, accounts.ErrBadCredentials)) {
				t.Fatalf("Verify = %v, want ok=%v or ErrBadCredentials", err, tt.wantOK)
			}
			got := h.Take()
			if len(got) != 1 {
				t.Fatalf("%d comparisons, want 1", len(got))
			}
			bob, _ := st.User(ctx, "bob")
			dora, _ := st.User(ctx, "dora")
			whose := map[string]string{string(bob.PasswordHash): "bob", string(dora.PasswordHash): "dora"}[string(got[0])]
			if whose != tt.against || !strings.HasPrefix(string(got[0]), "$2a$04$") {
				t.Errorf("compared against the hash of %q (%.7s), want %q (\"\" is the stand-in at the configured cost)", whose, got[0], tt.against)
			}
		})
	}
}

// TestOverCostlyHashNeverCompared: a stored hash above the ceiling fails
// like a wrong password after one stand-in comparison at the normal cost,
// and is logged once, so one bad record cannot hold the password slots.
func TestOverCostlyHashNeverCompared(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	var logs bytes.Buffer
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost, MaxCost: bcrypt.MinCost + 1}}
	a := newAccounts(t, st, h, slog.New(slog.NewTextHandler(&logs, nil)))
	costly, _ := bcrypt.GenerateFromPassword([]byte("right-password"), bcrypt.MinCost+2)
	if err := st.CreateUser(ctx, store.User{Username: "eve", PasswordHash: costly}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := a.Verify(ctx, "eve", "right-password"); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Fatalf("Verify = %v, want ErrBadCredentials", err)
		}
		got := h.Take()
		if len(got) != 1 || bytes.Equal(got[0], costly) {
			t.Fatalf("compared %d hashes (the costly one: %v), want one stand-in", len(got), len(got) > 0 && bytes.Equal(got[0], costly))
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestRehashOnLogin: a hash of another cost or algorithm is replaced on the
// next good login, without moving the user to a new generation (which
// would end the user's sessions).
func TestRehashOnLogin(t *testing.T) {
	ctx := context.Background()
	bcrypt5, _ := accounts.Bcrypt{Cost: 5}.Hash(ctx, []byte("right-password"))
	argon, _ := accounts.Argon2id{Time: 1, Memory: 64}.Hash(ctx, []byte("right-password"))
	tests := []struct {
		name   string
		hasher accounts.Hasher
		stored []byte
		want   string // prefix of the hash after login
	}{
		{"bcrypt cost 5 to 4", accounts.Bcrypt{Cost: bcrypt.MinCost}, bcrypt5, "$2a$04$"},
		{"argon2id to bcrypt", accounts.Bcrypt{Cost: bcrypt.MinCost}, argon, "$2a$04$"},
		{"bcrypt to argon2id", accounts.Argon2id{Time: 1, Memory: 32}, bcrypt5, "$argon2id$v=19$m=32,t=1,p=2$"},
		{"current hash kept", accounts.Bcrypt{Cost: 5}, bcrypt5, string(bcrypt5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memstore.New(memstore.Options{})
			a := newAccounts(t, st, tt.hasher, nil)
			if err := st.CreateUser(ctx, store.User{Username: "fay", PasswordHash: tt.stored}); err != nil {
				t.Fatal(err)
			}
			before, _ := st.User(ctx, "fay")
			if _, err := a.Verify(ctx, "fay", "right-password"); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			after, _ := st.User(ctx, "fay")
			if !strings.HasPrefix(string(after.PasswordHash), tt.want) {
				t.Errorf("hash after login = %q, want prefix %q", after.PasswordHash, tt.want)
			}
			if after.Generation != before.Generation {
				t.Errorf("generation moved from %d to %d: re-hashing must not end sessions", before.Generation, after.Generation)
			}
			if _, err := a.Verify(ctx, "fay", "right-password"); err != nil {
				t.Errorf("Verify with the new hash: %v", err)
			}
			if _, err := a.Verify(ctx, "fay", "wrong-password"); !errors.Is(err, accounts.ErrBadCredentials) {
				t.Errorf("Verify with a wrong password: %v", err)
			}
		})
	}
}

// TestPasswordsNormalised: a password typed as precomposed or decomposed
// Unicode is the same password (NFC), and names are canonical.
func TestPasswordsNormalised(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	a := newAccounts(t, st, accounts.Bcrypt{Cost: bcrypt.MinCost}, nil)
	composed, decomposed := "caf\u00e9-cr\u00e8me", "cafe\u0301-cre\u0300me"
	if err := a.CreateUser(ctx, "Ｇｕｓ", composed, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.User(ctx, "gus"); err != nil {
		t.Fatalf("user stored under its canonical name: %v", err)
	}
	for _, tc := range []struct{ user, pw string }{{"gus", composed}, {"GUS", decomposed}, {"Gus", composed}} {
		if _, err := a.Verify(ctx, tc.user, tc.pw); err != nil {
			t.Errorf("Verify(%q, %q): %v", tc.user, tc.pw, err)
		}
	}
	if err := a.CreateUser(ctx, "gus", "another-password", nil); !errors.Is(err, store.ErrExists) {
		t.Errorf("second CreateUser of the same canonical name = %v, want ErrExists", err)
	}
}

// TestLegacyUnnormalisedHash: a hash written before passwords were
// normalised (of a decomposed password, as typed) still verifies and is
// re-hashed in NFC; a non-NFC password costs two comparisons whoever the
// user is, so the extra try tells nothing about who exists.
func TestLegacyUnnormalisedHash(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	h := &testhash.Counting{Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}}
	a := newAccounts(t, st, h, nil)
	decomposed := "cafe\u0301-cre\u0300me"
	old, _ := bcrypt.GenerateFromPassword([]byte(decomposed), bcrypt.MinCost)
	if err := st.CreateUser(ctx, store.User{Username: "hal", PasswordHash: old}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, pw string
		want     int
	}{{"hal", "wrong\u0301", 2}, {"nobody", "wrong\u0301", 2}, {"hal", "wrong", 1}, {"nobody", "wrong", 1}} {
		h.Take()
		_, _ = a.Verify(ctx, tc.user, tc.pw)
		if n := len(h.Take()); n != tc.want {
			t.Errorf("Verify(%q, %q): %d comparisons, want %d", tc.user, tc.pw, n, tc.want)
		}
	}
	if _, err := a.Verify(ctx, "hal", decomposed); err != nil {
		t.Fatalf("legacy hash: %v", err)
	}
	if _, err := a.Verify(ctx, "hal", "caf\u00e9-cr\u00e8me"); err != nil {
		t.Errorf("after the re-hash, the composed form: %v", err)
	}
}

func TestLowBcryptCostRefused(t *testing.T) {
	st := memstore.New(memstore.Options{})
	for _, tc := range []struct {
		cost  int
		allow bool
		ok    bool
	}{{9, false, false}, {4, false, false}, {4, true, true}, {10, false, true}, {3, true, false}} {
		_, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: tc.cost}, AllowTestCosts: tc.allow})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, accounts.ErrConfig)) {
			t.Errorf("cost %d allow %v: err = %v, want ok=%v", tc.cost, tc.allow, err, tc.ok)
		}
	}
}

// TestServiceAccountCannotLogIn: a service account has no password, and
// no password logs it in, the empty one included.
func TestServiceAccountCannotLogIn(t *testing.T) {
	st := memstore.New(memstore.Options{})
	m, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: 4}, AllowTestCosts: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.CreateServiceAccount(ctx, "Billing-Job", []string{"reports"}); err != nil {
		t.Fatal(err)
	}
	u, err := st.User(ctx, "billing-job")
	if err != nil || len(u.PasswordHash) != 0 || len(u.Roles) != 1 {
		t.Fatalf("stored %+v, %v", u, err)
	}
	for _, pw := range []string{"", "anything at all"} {
		if _, err := m.Verify(ctx, "billing-job", pw); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Errorf("Verify(%q) = %v, want ErrBadCredentials", pw, err)
		}
	}
	if err := m.CreateServiceAccount(ctx, "billing-job", nil); !errors.Is(err, store.ErrExists) {
		t.Errorf("twice: %v", err)
	}
}
