package apikey_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
)

type fixture struct {
	now  time.Time
	st   *memstore.Store
	keys *apikey.Keys
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	f.st = memstore.New(memstore.Options{Now: clock})
	var err error
	if f.keys, err = apikey.New(apikey.Config{Store: f.st, Users: f.st, Now: clock}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []store.User{
		{Username: "ci", PasswordHash: []byte("x"), Roles: []string{"deploy", "read"}},
		{Username: "off", PasswordHash: []byte("x"), Roles: []string{"read"}, Disabled: true},
	} {
		if err := f.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestCreateRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		owner string
		spec  apikey.Spec
		want  error
	}{
		{"unknown owner", "nobody", apikey.Spec{}, apikey.ErrNoOwner},
		{"disabled owner", "off", apikey.Spec{}, apikey.ErrNoOwner},
		{"role the owner lacks", "ci", apikey.Spec{Roles: []string{"admin"}}, apikey.ErrRoles},
		{"negative TTL", "ci", apikey.Spec{TTL: -time.Second}, store.ErrInvalid},
		{"name with a control character", "ci", apikey.Spec{Name: "a\nb"}, store.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := f.keys.Create(ctx, tc.owner, tc.spec); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw, key, err := f.keys.Create(ctx, "ci", apikey.Spec{Name: "deployer", Roles: []string{"deploy"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !apikey.Is(raw) || strings.Contains(raw, string(key.Secret[:])) {
		t.Fatalf("key %q", raw)
	}
	p, err := f.keys.Verify(ctx, raw)
	if err != nil || p.Owner != "ci" || len(p.Roles) != 1 || p.Roles[0] != "deploy" || p.ID != key.ID {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	owner, id, _, _ := apikey.Parse(raw)
	for _, tc := range []struct {
		name, raw string
	}{
		{"empty", ""},
		{"prefix only", "ak_"},
		{"two parts", "ak_Y2k." + id},
		{"wrong secret", raw[:len(raw)-4] + "AAAA"},
		{"short secret", raw[:len(raw)-10]},
		{"unknown id", "ak_Y2k.AAAAAAAAAAAAAAAA." + strings.Repeat("A", 43)},
		{"invalid owner", "ak_" + "IUAj" + "." + id + "." + strings.Repeat("A", 43)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.keys.Verify(ctx, tc.raw); !errors.Is(err, apikey.ErrRejected) {
				t.Fatalf("err = %v, want ErrRejected", err)
			}
		})
	}
	if owner != "ci" {
		t.Fatalf("owner %q", owner)
	}

	// A role the owner loses is gone from the key; the owner's new
	// generation (a password change) ends it; so does its expiry.
	if err := f.st.SetRoles(ctx, "ci", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	if p, err := f.keys.Verify(ctx, raw); err != nil || len(p.Roles) != 0 {
		t.Fatalf("after losing the role: %+v, %v", p, err)
	}
	f.now = f.now.Add(time.Hour)
	if _, err := f.keys.Verify(ctx, raw); !errors.Is(err, apikey.ErrRejected) {
		t.Fatalf("expired: %v", err)
	}
	fresh, _, _ := f.keys.Create(ctx, "ci", apikey.Spec{})
	if err := f.st.SetPasswordHash(ctx, "ci", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Verify(ctx, fresh); !errors.Is(err, apikey.ErrRejected) {
		t.Fatalf("after a password change: %v", err)
	}
}

func TestRotateAndRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old, key, err := f.keys.Create(ctx, "ci", apikey.Spec{Name: "deployer", Roles: []string{"deploy"}})
	if err != nil {
		t.Fatal(err)
	}
	next, nkey, err := f.keys.Rotate(ctx, "ci", key.ID, 10*time.Minute)
	if err != nil || nkey.Name != "deployer" || nkey.ID == key.ID {
		t.Fatalf("Rotate = %+v, %v", nkey, err)
	}
	for _, k := range []string{old, next} {
		if _, err := f.keys.Verify(ctx, k); err != nil {
			t.Fatalf("during the overlap: %v", err)
		}
	}
	f.now = f.now.Add(10 * time.Minute)
	if _, err := f.keys.Verify(ctx, old); !errors.Is(err, apikey.ErrRejected) {
		t.Fatalf("old key after the overlap: %v", err)
	}
	if _, _, err := f.keys.Rotate(ctx, "ci", key.ID, 0); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("rotating an expired key: %v", err)
	}
	if err := f.keys.Revoke(ctx, "ci", nkey.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Verify(ctx, next); !errors.Is(err, apikey.ErrRejected) {
		t.Fatalf("revoked: %v", err)
	}
	if err := f.keys.Revoke(ctx, "ci", nkey.ID); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("revoked twice: %v", err)
	}
	list, err := f.keys.List(ctx, "ci")
	if err != nil || len(list) != 1 || list[0].ID != key.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
}
