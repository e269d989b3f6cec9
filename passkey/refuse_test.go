package passkey_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/softauthn"
	"github.com/gin-authkit/authkit/passkey"
	"github.com/gin-authkit/authkit/store"
)

// TestPasskeyLoginRefused tries the hostile and broken sign-ins: each
// case prepares a ceremony and a response body, and the finish must fail
// with the sentinel given (ErrCloned cases match ErrRejected as well).
func TestPasskeyLoginRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// run returns the ceremony and body to finish with.
		run  func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte)
		want error
	}{
		{"revoked passkey, discoverable", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			revoke(t, f, c)
			opts, ceremony := f.beginLogin(t, "")
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"passkey revoked during a username ceremony", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, ceremony := f.beginLogin(t, "alice")
			revoke(t, f, c)
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"another user's passkey for a username ceremony", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			mallory := newAuthenticator()
			theirs := f.register(t, "mallory", mallory)
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, assert(t, mallory, theirs, opts)
		}, passkey.ErrRejected},
		{"another user's passkey with the victim's user handle", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			mallory := newAuthenticator()
			theirs := f.register(t, "mallory", mallory)
			theirs.UserHandle = f.pk.UserHandle("alice")
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, assert(t, mallory, theirs, opts)
		}, passkey.ErrRejected},
		{"wrong user handle, discoverable", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			f.register(t, "bob", newAuthenticator())
			c.UserHandle = f.pk.UserHandle("bob")
			opts, ceremony := f.beginLogin(t, "")
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"wrong user handle, username ceremony", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			c.UserHandle = f.pk.UserHandle("bob")
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"equal sign counter", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			mustLogin(t, f, a) // counter 1
			c.Counter = 0      // the clone signs 1 again
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, get(t, a, opts)
		}, passkey.ErrCloned},
		{"lower sign counter", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			c.Counter = 9
			mustLogin(t, f, a) // counter 10
			c.Counter = 3
			opts, ceremony := f.beginLogin(t, "")
			return ceremony, get(t, a, opts)
		}, passkey.ErrCloned},
		{"zero counter after a counting one", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			mustLogin(t, f, a) // counter 1
			a.ZeroCounter, c.Counter = true, 0
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, get(t, a, opts)
		}, passkey.ErrCloned},
		{"ceremony reused", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, ceremony := f.beginLogin(t, "alice")
			if _, err := f.pk.FinishLogin(ctx, ceremony, bytes.NewReader(get(t, a, opts))); err != nil {
				t.Fatalf("first finish: %v", err)
			}
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"ceremony expired", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, ceremony := f.beginLogin(t, "alice")
			f.clock.Add(passkey.DefaultTimeout)
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"registration ceremony", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, _ := f.beginLogin(t, "alice")
			_, ceremony, err := f.pk.BeginRegistration(ctx, "alice", "")
			if err != nil {
				t.Fatal(err)
			}
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"another ceremony's challenge", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, _ := f.beginLogin(t, "alice")
			_, ceremony := f.beginLogin(t, "alice")
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"wrong origin", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			a.Origin = "https://login.example.com.evil.test"
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, get(t, a, opts)
		}, passkey.ErrRejected},
		{"wrong RP ID", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			c.RPID = "evil.test"
			opts, ceremony := f.beginLogin(t, "alice")
			return ceremony, assert(t, a, c, opts)
		}, passkey.ErrRejected},
		{"malformed body", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			_, ceremony := f.beginLogin(t, "alice")
			return ceremony, []byte(`{"id":`)
		}, passkey.ErrRejected},
		{"malformed ceremony", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, _ := f.beginLogin(t, "alice")
			return "not-a-ceremony", get(t, a, opts)
		}, passkey.ErrRejected},
		{"tampered signature", func(t *testing.T, f *fixture, a *softauthn.Authenticator, c *softauthn.Credential) (string, []byte) {
			opts, ceremony := f.beginLogin(t, "alice")
			body := get(t, a, opts)
			// Change the first byte of the signature.
			i := bytes.Index(body, []byte(`"signature":"`)) + len(`"signature":"`)
			body[i] ^= 'M' ^ 'N'
			return ceremony, body
		}, passkey.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := newAuthenticator()
			c := f.register(t, "alice", a)
			ceremony, body := tt.run(t, f, a, c)
			_, err := f.pk.FinishLogin(ctx, ceremony, bytes.NewReader(body))
			if !errors.Is(err, tt.want) || !errors.Is(err, passkey.ErrRejected) {
				t.Fatalf("FinishLogin: err = %v, want %v", err, tt.want)
			}
			t.Logf("refused: %v", err)
			if !errors.Is(tt.want, passkey.ErrCloned) && errors.Is(err, passkey.ErrCloned) {
				t.Fatalf("FinishLogin: err = %v, not a clone", err)
			}
		})
	}
}

func TestPasskeyZeroCounterAuthenticator(t *testing.T) {
	f := newFixture(t)
	a := newAuthenticator()
	a.ZeroCounter = true
	f.register(t, "alice", a)
	for i := range 3 {
		if _, err := f.login(t, "alice", a); err != nil {
			t.Fatalf("sign-in %d with a counterless authenticator: %v", i, err)
		}
		f.clock.Add(time.Second)
	}
}

func TestPasskeyRegistrationRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		username string // finishing as
		prepare  func(f *fixture, a *softauthn.Authenticator)
	}{
		{"another user finishes", "mallory", nil},
		{"wrong origin", "alice", func(f *fixture, a *softauthn.Authenticator) { a.Origin = "https://evil.test" }},
		{"ceremony expired", "alice", func(f *fixture, a *softauthn.Authenticator) { f.clock.Add(passkey.DefaultTimeout) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := newAuthenticator()
			opts, ceremony, err := f.pk.BeginRegistration(ctx, "alice", "Phone")
			if err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(f, a)
			}
			body, _, err := a.Create(opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.pk.FinishRegistration(ctx, tt.username, ceremony, bytes.NewReader(body)); !errors.Is(err, passkey.ErrRejected) {
				t.Fatalf("FinishRegistration: err = %v, want ErrRejected", err)
			}
			if list, _ := f.pk.List(ctx, "alice"); len(list) != 0 {
				t.Fatalf("refused registration stored %+v", list)
			}
		})
	}
	t.Run("ceremony reused", func(t *testing.T) {
		f := newFixture(t)
		a := newAuthenticator()
		opts, ceremony, err := f.pk.BeginRegistration(ctx, "alice", "Phone")
		if err != nil {
			t.Fatal(err)
		}
		body, _, _ := a.Create(opts)
		if _, err := f.pk.FinishRegistration(ctx, "alice", ceremony, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		body, _, _ = newAuthenticator().Create(opts)
		if _, err := f.pk.FinishRegistration(ctx, "alice", ceremony, bytes.NewReader(body)); !errors.Is(err, passkey.ErrRejected) {
			t.Fatalf("second finish: err = %v, want ErrRejected", err)
		}
	})
}

func TestPasskeyBeginErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.st.AddFactor(ctx, "carol", store.Factor{Kind: store.TOTP, ID: "totp", Data: []byte{1}, Confirmed: true, CreatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"nobody", "carol", "Not A Username"} {
		if _, _, err := f.pk.BeginLogin(ctx, u); !errors.Is(err, passkey.ErrNoPasskey) {
			t.Errorf("BeginLogin(%q): err = %v, want ErrNoPasskey", u, err)
		}
	}
	if _, _, err := f.pk.BeginRegistration(ctx, "Not A Username", ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BeginRegistration with a bad username: err = %v, want store.ErrInvalid", err)
	}
	if _, _, err := f.pk.BeginRegistration(ctx, "alice", strings.Repeat("n", 65)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BeginRegistration with a long name: err = %v, want store.ErrInvalid", err)
	}
	for i := range store.MaxFactors {
		id := strings.Repeat("x", i+1)
		if err := f.st.AddFactor(ctx, "dave", store.Factor{Kind: store.Passkey, ID: id, Data: []byte("{}"), CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.pk.BeginRegistration(ctx, "dave", ""); !errors.Is(err, passkey.ErrTooMany) {
		t.Errorf("BeginRegistration past MaxFactors: err = %v, want ErrTooMany", err)
	}
}

func TestPasskeyRevokeAndList(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	phone, key := newAuthenticator(), newAuthenticator()
	c1 := f.register(t, "alice", phone)
	f.clock.Add(time.Minute)
	c2 := f.register(t, "alice", key)
	list, err := f.pk.List(ctx, "alice")
	if err != nil || len(list) != 2 || list[0].ID != b64(c1.ID) || list[1].ID != b64(c2.ID) {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// A ceremony begun before the revocation still takes the other one.
	opts, ceremony := f.beginLogin(t, "alice")
	revoke(t, f, c1)
	if got, err := f.pk.FinishLogin(ctx, ceremony, bytes.NewReader(get(t, key, opts))); err != nil || got.Username != "alice" {
		t.Fatalf("other passkey in a ceremony begun before the revocation = %+v, %v", got, err)
	}
	if list, _ = f.pk.List(ctx, "alice"); len(list) != 1 || list[0].ID != b64(c2.ID) {
		t.Fatalf("List after revoke = %+v", list)
	}
	if err := f.pk.Revoke(ctx, "alice", b64(c1.ID)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Revoke of a revoked passkey: err = %v, want store.ErrNotFound", err)
	}
	if err := f.pk.Revoke(ctx, "bob", b64(c2.ID)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Revoke of another user's passkey: err = %v, want store.ErrNotFound", err)
	}

	// The revoked passkey is refused; the other still signs in, by
	// username and without.
	opts, ceremony = f.beginLogin(t, "")
	if _, err := f.pk.FinishLogin(ctx, ceremony, bytes.NewReader(get(t, phone, opts))); !errors.Is(err, passkey.ErrRejected) {
		t.Fatalf("revoked passkey: err = %v, want ErrRejected", err)
	}
	for _, u := range []string{"alice", ""} {
		if got, err := f.login(t, u, key); err != nil || got.Username != "alice" {
			t.Fatalf("sign-in %q after revoking the other passkey = %+v, %v", u, got, err)
		}
	}
}

// failingChallenges is a ChallengeStore that cannot answer takes.
type failingChallenges struct{ store.ChallengeStore }

var errDown = errors.New("store down")

func (failingChallenges) TakeChallenge(context.Context, store.Digest) ([]byte, error) {
	return nil, errDown
}

// failingFactors is a FactorStore whose UseFactor cannot answer.
type failingFactors struct{ store.FactorStore }

func (failingFactors) UseFactor(context.Context, string, store.FactorKind, string, uint64, time.Time) (store.Factor, error) {
	return store.Factor{}, errDown
}

func TestPasskeyInfrastructureErrorsAreNotRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := newAuthenticator()
	f.register(t, "alice", a)
	for _, cfg := range []passkey.Config{
		{Factors: f.st, Challenges: failingChallenges{f.st}},
		{Factors: failingFactors{f.st}, Challenges: f.st},
	} {
		cfg.RPID, cfg.Origins, cfg.UserHandleKey, cfg.Now = rpID, []string{origin}, handleKey, f.clock.Now
		pk, err := passkey.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		opts, ceremony, err := pk.BeginLogin(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		_, err = pk.FinishLogin(ctx, ceremony, bytes.NewReader(get(t, a, opts)))
		if !errors.Is(err, errDown) || errors.Is(err, passkey.ErrRejected) {
			t.Fatalf("FinishLogin with a failing store: err = %v, want the store's error and no ErrRejected", err)
		}
	}
}

func TestNewConfig(t *testing.T) {
	st := newFixture(t).st
	good := func() passkey.Config {
		return passkey.Config{RPID: rpID, Factors: st, Challenges: st, UserHandleKey: handleKey}
	}
	tests := []struct {
		name   string
		change func(c *passkey.Config)
		ok     bool
	}{
		{"defaults", func(c *passkey.Config) {}, true},
		{"no RPID", func(c *passkey.Config) { c.RPID = "" }, false},
		{"RPID with scheme", func(c *passkey.Config) { c.RPID = "https://example.com" }, false},
		{"no factor store", func(c *passkey.Config) { c.Factors = nil }, false},
		{"no challenge store", func(c *passkey.Config) { c.Challenges = nil }, false},
		{"short key", func(c *passkey.Config) { c.UserHandleKey = handleKey[:31] }, false},
		{"negative timeout", func(c *passkey.Config) { c.Timeout = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(&c)
			_, err := passkey.New(c)
			if (err == nil) != tt.ok {
				t.Fatalf("New: err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func revoke(t *testing.T, f *fixture, c *softauthn.Credential) {
	t.Helper()
	if err := f.pk.Revoke(context.Background(), userOf(t, f, c), b64(c.ID)); err != nil {
		t.Fatal(err)
	}
}

func userOf(t *testing.T, f *fixture, c *softauthn.Credential) string {
	t.Helper()
	u, err := f.st.FactorOwner(context.Background(), store.Passkey, b64(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustLogin(t *testing.T, f *fixture, a *softauthn.Authenticator) {
	t.Helper()
	if _, err := f.login(t, "alice", a); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
}

func get(t *testing.T, a *softauthn.Authenticator, opts []byte) []byte {
	t.Helper()
	body, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func assert(t *testing.T, a *softauthn.Authenticator, c *softauthn.Credential, opts []byte) []byte {
	t.Helper()
	body, err := a.Assert(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestPasskeyConcurrentFinishes finishes twice at once, with one ceremony
// and with two ceremonies signed with the same counter (a clone racing
// the original): exactly one of each pair may succeed.
func TestPasskeyConcurrentFinishes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := newAuthenticator()
	c := f.register(t, "alice", a)

	opts, ceremony := f.beginLogin(t, "alice")
	same := [][2]any{{ceremony, get(t, a, opts)}, {ceremony, get(t, a, opts)}}
	opts1, ceremony1 := f.beginLogin(t, "alice")
	opts2, ceremony2 := f.beginLogin(t, "")
	body1 := get(t, a, opts1)
	c.Counter--
	clone := [][2]any{{ceremony1, body1}, {ceremony2, get(t, a, opts2)}}

	// In this order: the clone pair's counter is above the first pair's,
	// so the first pair must finish first (a map's random order made the
	// test fail about half the time).
	for _, tc := range []struct {
		name string
		pair [][2]any
	}{{"one ceremony", same}, {"same counter", clone}} {
		name, pair := tc.name, tc.pair
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, p := range pair {
			wg.Go(func() {
				_, errs[i] = f.pk.FinishLogin(ctx, p[0].(string), bytes.NewReader(p[1].([]byte)))
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, passkey.ErrRejected) {
				t.Errorf("%s: err = %v, want ErrRejected", name, err)
			}
		}
		if ok != 1 {
			t.Errorf("%s: %d finishes succeeded (%v), want 1", name, ok, errs)
		}
	}
}
