package passkey_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/softauthn"
	"github.com/gin-authkit/authkit/passkey"
	"github.com/gin-authkit/authkit/store/memstore"
)

const (
	rpID   = "example.com"
	origin = "https://login.example.com"
)

var handleKey = bytes.Repeat([]byte{7}, 32)

// clock is a fake clock shared by the store and the Passkeys.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is one Passkeys over a memstore, with a fake clock.
type fixture struct {
	pk    *passkey.Passkeys
	st    *memstore.Store
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	st := memstore.New(memstore.Options{Now: c.Now})
	pk, err := passkey.New(passkey.Config{
		RPID: rpID, RPDisplayName: "Example", Origins: []string{origin},
		Factors: st, Challenges: st, UserHandleKey: handleKey, Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pk: pk, st: st, clock: c}
}

func newAuthenticator() *softauthn.Authenticator {
	return &softauthn.Authenticator{Origin: origin}
}

// register adds a passkey named "Phone" for username held by a.
func (f *fixture) register(t *testing.T, username string, a *softauthn.Authenticator) *softauthn.Credential {
	t.Helper()
	ctx := context.Background()
	opts, ceremony, err := f.pk.BeginRegistration(ctx, username, "Phone")
	if err != nil {
		t.Fatal(err)
	}
	body, cred, err := a.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.pk.FinishRegistration(ctx, username, ceremony, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	if want := base64.RawURLEncoding.EncodeToString(cred.ID); info.ID != want || info.Name != "Phone" {
		t.Fatalf("FinishRegistration = %+v, want ID %s named Phone", info, want)
	}
	return cred
}

// beginLogin starts a sign-in, failing the test on error.
func (f *fixture) beginLogin(t *testing.T, username string) (json.RawMessage, string) {
	t.Helper()
	opts, ceremony, err := f.pk.BeginLogin(context.Background(), username)
	if err != nil {
		t.Fatalf("BeginLogin(%q): %v", username, err)
	}
	return opts, ceremony
}

// login runs a whole sign-in with a's usual choice of credential.
func (f *fixture) login(t *testing.T, username string, a *softauthn.Authenticator) (passkey.Result, error) {
	t.Helper()
	opts, ceremony := f.beginLogin(t, username)
	body, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	return f.pk.FinishLogin(context.Background(), ceremony, bytes.NewReader(body))
}

func TestPasskeyRegisterThenSignInWithUsername(t *testing.T) {
	f := newFixture(t)
	a := newAuthenticator()
	cred := f.register(t, "alice", a)
	id := base64.RawURLEncoding.EncodeToString(cred.ID)

	opts, ceremony := f.beginLogin(t, "alice")
	var o struct {
		PublicKey struct {
			RPID  string `json:"rpId"`
			Allow []struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"allowCredentials"`
			UserVerification string `json:"userVerification"`
			Challenge        string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	pub := o.PublicKey
	if pub.RPID != rpID || len(pub.Allow) != 1 || pub.Allow[0].ID != id || pub.Allow[0].Type != "public-key" ||
		pub.UserVerification != "preferred" || pub.Challenge == "" {
		t.Fatalf("login options = %s", opts)
	}
	body, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.pk.FinishLogin(context.Background(), ceremony, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	want := passkey.Result{Username: "alice", CredentialID: id, UserVerified: true}
	if got != want {
		t.Fatalf("FinishLogin = %+v, want %+v", got, want)
	}
	if amr := got.AMR(); len(amr) != 2 || amr[0] != "hwk" || amr[1] != "mfa" {
		t.Fatalf("AMR = %v, want [hwk mfa]", amr)
	}
	list, err := f.pk.List(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id || !list[0].LastUsed.Equal(f.clock.Now()) || !list[0].CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("List = %+v", list)
	}
}

func TestPasskeyDiscoverableSignIn(t *testing.T) {
	f := newFixture(t)
	alice, bob := newAuthenticator(), newAuthenticator()
	bob.NoUV = true
	f.register(t, "alice", alice)
	bobCred := f.register(t, "bob", bob)

	opts, _ := f.beginLogin(t, "")
	var o map[string]map[string]any
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	if _, ok := o["publicKey"]["allowCredentials"]; ok {
		t.Fatalf("discoverable options list credentials: %s", opts)
	}

	got, err := f.login(t, "", bob)
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	want := passkey.Result{Username: "bob", CredentialID: base64.RawURLEncoding.EncodeToString(bobCred.ID)}
	if got != want {
		t.Fatalf("FinishLogin = %+v, want %+v", got, want)
	}
	if amr := got.AMR(); len(amr) != 1 || amr[0] != "hwk" {
		t.Fatalf("AMR without user verification = %v, want [hwk]", amr)
	}
	if got, err := f.login(t, "", alice); err != nil || got.Username != "alice" || !got.UserVerified {
		t.Fatalf("alice's discoverable sign-in = %+v, %v", got, err)
	}
}

func TestPasskeyRegistrationOptions(t *testing.T) {
	f := newFixture(t)
	a := newAuthenticator()
	cred := f.register(t, "alice", a)

	opts, _, err := f.pk.BeginRegistration(context.Background(), "alice", "Laptop")
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			RP   struct{ ID, Name string }
			User struct {
				ID          string `json:"id"`
				Name        string `json:"name"`
				DisplayName string `json:"displayName"`
			}
			Challenge string `json:"challenge"`
			Params    []struct {
				Type string `json:"type"`
				Alg  int    `json:"alg"`
			} `json:"pubKeyCredParams"`
			Timeout   int    `json:"timeout"`
			Attest    string `json:"attestation"`
			Selection struct {
				ResidentKey        string `json:"residentKey"`
				RequireResidentKey bool   `json:"requireResidentKey"`
				UserVerification   string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			Exclude []struct{ Type, ID string } `json:"excludeCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	pub := o.PublicKey
	handle := base64.RawURLEncoding.EncodeToString(f.pk.UserHandle("alice"))
	switch {
	case pub.RP.ID != rpID || pub.RP.Name != "Example":
		t.Errorf("rp = %+v", pub.RP)
	case pub.User.ID != handle || pub.User.Name != "alice" || pub.User.DisplayName != "alice":
		t.Errorf("user = %+v, want id %s", pub.User, handle)
	case len(pub.Challenge) < 22:
		t.Errorf("challenge = %q", pub.Challenge)
	case len(pub.Params) == 0 || pub.Params[0].Type != "public-key" || pub.Params[0].Alg != -7:
		t.Errorf("pubKeyCredParams = %+v, want ES256 first", pub.Params)
	case pub.Timeout != int(passkey.DefaultTimeout/time.Millisecond):
		t.Errorf("timeout = %d", pub.Timeout)
	case pub.Attest != "none":
		t.Errorf("attestation = %q", pub.Attest)
	case pub.Selection.ResidentKey != "required" || !pub.Selection.RequireResidentKey || pub.Selection.UserVerification != "preferred":
		t.Errorf("authenticatorSelection = %+v", pub.Selection)
	case len(pub.Exclude) != 1 || pub.Exclude[0].ID != base64.RawURLEncoding.EncodeToString(cred.ID):
		t.Errorf("excludeCredentials = %+v, want the registered passkey", pub.Exclude)
	}
	if t.Failed() {
		t.Logf("options: %s", opts)
	}
	if _, _, err := a.Create(opts); !errors.Is(err, softauthn.ErrExcluded) {
		t.Fatalf("registering the same authenticator again: err = %v, want the authenticator to refuse", err)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
