package ginauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
)

// TestSplitSourceChangesTakeEffect changes users in their source
// directly, as an administrator editing the application's user table
// would, without telling the session store: the next request sees it.
func TestSplitSourceChangesTakeEffect(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(k *kit) error
		status int
		code   string
	}{
		{"password hash replaced", func(k *kit) error { return k.users.SetPasswordHash(ctx, "bob", []byte("$2a$04$elsewhere")) }, 401, "invalid_token"},
		{"disabled", func(k *kit) error { return k.users.SetDisabled(ctx, "bob", true) }, 401, "invalid_token"},
		{"admin role granted", func(k *kit) error { return k.users.SetRoles(ctx, "bob", []string{"admin"}) }, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newSplitKit(t)
			tok := k.login("bob", bobPW)
			expect(t, k.do("GET", "/api/admin/stats", nil, bearer(tok.AccessToken)...), 403, "forbidden")
			if err := tt.change(k); err != nil {
				t.Fatal(err)
			}
			expect(t, k.do("GET", "/api/admin/stats", nil, bearer(tok.AccessToken)...), tt.status, tt.code)
			refresh := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
			if tt.status == 200 {
				expect(t, refresh, 200, "")
				return
			}
			expect(t, refresh, 401, "invalid_grant")
			// Undoing a disable does not revive the session.
			if err := k.users.SetDisabled(ctx, "bob", false); err != nil {
				t.Fatal(err)
			}
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
		})
	}
}

// TestSplitOneRedisRoundTrip: with users apart, a request still reads
// Redis once; the user is read from its own source.
func TestSplitOneRedisRoundTrip(t *testing.T) {
	k := newSplitKit(t)
	tok := k.login("alice", alicePW)
	before := k.trips.n.Load()
	r := k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...)
	expect(t, r, 200, "")
	if got := k.trips.n.Load() - before; got != 1 {
		t.Errorf("Redis round trips per request = %d, want 1", got)
	}
	if !strings.Contains(r.Body.String(), `"admin"`) {
		t.Errorf("body = %s, want the roles from the user source", r.Body)
	}
}

// TestSplitRefreshOneRedisRoundTrip: with users apart, a refresh makes
// one Redis round trip (the rotation) and reads the owner from its own
// source, which still refuses a disabled owner.
func TestSplitRefreshOneRedisRoundTrip(t *testing.T) {
	k := newSplitKit(t)
	tok := k.login("alice", alicePW)
	// The first rotation on a server that has not seen the script yet
	// sends it (EVALSHA, NOSCRIPT, EVAL): count from the second.
	first := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
	expect(t, first, 200, "")
	if err := json.Unmarshal(first.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	before := k.trips.n.Load()
	r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
	expect(t, r, 200, "")
	// miniredis has no Lua struct library: the rotation script leaves
	// the rotation to Go there, which reads, then compares and sets.
	want := int64(1)
	if testredis.Backend() == "miniredis" {
		want = 3
	}
	if got := k.trips.n.Load() - before; got != want {
		t.Errorf("Redis round trips per refresh = %d, want %d (%s)", got, want, testredis.Backend())
	}
	var next ginauth.TokenResponse
	if err := json.Unmarshal(r.Body.Bytes(), &next); err != nil {
		t.Fatal(err)
	}
	if err := k.users.SetDisabled(context.Background(), "alice", true); err != nil {
		t.Fatal(err)
	}
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": next.RefreshToken}), 401, "invalid_grant")
}

// failingUsers is a user source whose backend is down after a switch.
type failingUsers struct {
	store.UserStore
	down bool
}

var errDown = errors.New("user database unreachable")

func (f *failingUsers) User(ctx context.Context, name string) (store.User, error) {
	if f.down {
		return store.User{}, errDown
	}
	return f.UserStore.User(ctx, name)
}

// Ping makes failingUsers a store.Pinger, down with the rest.
func (f *failingUsers) Ping(context.Context) error {
	if f.down {
		return errDown
	}
	return nil
}

// TestSplitSourceDownIs503: a user source that cannot answer makes a
// request with a live session 503, never 401; the health check sees it,
// also when an Observer wraps the source.
func TestSplitSourceDownIs503(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  observe.Observer
	}{{"unobserved", nil}, {"observed", &opLog{}}} {
		t.Run(tc.name, func(t *testing.T) {
			users := &failingUsers{}
			k := newSplitKit(t, func(c *kitConfig) {
				users.UserStore = c.users.(store.UserStore)
				c.users = users
				c.Observer = tc.obs
			})
			tok := k.login("bob", bobPW)
			users.down = true
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 503, "unavailable")
			expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 503, "unavailable")
			expect(t, k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW}), 503, "unavailable")
			expect(t, k.do("GET", "/healthz", nil), 503, "unavailable")
			users.down = false
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
			expect(t, k.do("GET", "/healthz", nil), 200, "")
		})
	}
}

func TestSplitConfig(t *testing.T) {
	k := newKit(t)
	base := k.auth.Config()
	t.Run("AccountsRequired", func(t *testing.T) {
		cfg := base
		cfg.Store = sessionsOnly{memstore.New(memstore.Options{ExternalUsers: true})}
		cfg.Accounts = nil
		if _, err := ginauth.New(cfg); !errors.Is(err, ginauth.ErrConfig) {
			t.Errorf("New without Accounts on a store without users = %v, want ErrConfig", err)
		}
	})
	t.Run("SessionsRequiredWhenApart", func(t *testing.T) {
		cfg := base
		sessions := memstore.New(memstore.Options{ExternalUsers: true})
		m, err := accounts.New(accounts.Config{Users: memstore.New(memstore.Options{}), Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Store, cfg.Accounts = sessions, m
		if _, err := ginauth.New(cfg); !errors.Is(err, ginauth.ErrConfig) {
			t.Errorf("New with users apart and no Sessions in Accounts = %v, want ErrConfig", err)
		}
	})
	t.Run("DefaultAccountsOnStore", func(t *testing.T) {
		cfg := base
		cfg.Accounts = nil
		a, err := ginauth.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a.Accounts().Users() != cfg.Store.(store.UserSource) {
			t.Error("the default Manager does not keep its users in Store")
		}
	})
}

// sessionsOnly hides every method of a store but the session backend's.
type sessionsOnly struct{ store.SessionBackend }

// TestSplitMisconfiguredStore: users apart, but a session store that
// expects its own users. Logins fail closed with 503 (the password was
// right: a 401 would send the user to retype it), and the log says what
// to fix.
func TestSplitMisconfiguredStore(t *testing.T) {
	var logs bytes.Buffer
	rdb, prefix := testredis.New(t)
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st, err := newRedisStore(rdb, prefix, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	k := newKitWith(t, st, memstore.New(memstore.Options{Now: clk.Now}), clk, func(c *kitConfig) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	expect(t, k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW}), 503, "unavailable")
	if !strings.Contains(logs.String(), "ExternalUsers") {
		t.Errorf("log = %q, want a hint at ExternalUsers", logs.String())
	}
}

// valueStore is a store passed by value, not as a pointer.
type valueStore struct{ *memstore.Store }

// TestNewStoreByValue: a Store that is not a pointer, with the default
// Manager built on it, keeps its users: nothing is apart.
func TestNewStoreByValue(t *testing.T) {
	cfg := newKit(t).auth.Config()
	cfg.Store, cfg.Accounts = valueStore{memstore.New(memstore.Options{})}, nil
	if _, err := ginauth.New(cfg); err != nil {
		t.Fatal(err)
	}
}

// TestAccountsSessionsKeepDevices: with users apart, the Manager's
// Sessions must be able to end device credentials, or a password change
// would leave them alive.
func TestAccountsSessionsKeepDevices(t *testing.T) {
	cfg := newKit(t).auth.Config()
	sessions := memstore.New(memstore.Options{ExternalUsers: true})
	m, err := accounts.New(accounts.Config{Users: memstore.New(memstore.Options{}), Sessions: sessionsOnly{sessions},
		Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Accounts = sessions, m
	if _, err := ginauth.New(cfg); !errors.Is(err, ginauth.ErrConfig) {
		t.Errorf("New with Sessions that keep no devices = %v, want ErrConfig", err)
	}
}

// stalledUsers is a user source whose reads hang until their context ends.
type stalledUsers struct{ store.UserStore }

func (s stalledUsers) User(ctx context.Context, name string) (store.User, error) {
	select {
	case <-ctx.Done():
		return store.User{}, ctx.Err()
	case <-time.After(10 * time.Second):
		return s.UserStore.User(ctx, name)
	}
}

// TestAppManagerStoreTimeout: a Manager the application built still bounds
// the user read of a login (its own StoreTimeout, 300 ms by default), so a
// hung user store answers 503 instead of holding a hashing slot.
func TestAppManagerStoreTimeout(t *testing.T) {
	k := newSplitKit(t, func(c *kitConfig) { c.users = stalledUsers{c.users.(store.UserStore)} })
	r := k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW})
	expect(t, r, 503, "unavailable")
}
