package ginauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/apikey"
)

func withAPIKeys(c *kitConfig) { c.apiKeys = true }

// newKey creates a key for owner and returns it.
func (k *kit) newKey(owner string, spec apikey.Spec) string {
	k.t.Helper()
	raw, _, err := k.keys.Create(context.Background(), owner, spec)
	if err != nil {
		k.t.Fatal(err)
	}
	return raw
}

// TestAPIKeys: a key authenticates as its owner with its own roles (only
// those the owner still has), in one store round trip; revoked, expired,
// rotated-out keys, a disabled owner and "log out everywhere" end it
// (401 invalid_token); a key without the role is 403; it never meets a
// step-up rule.
func TestAPIKeys(t *testing.T) {
	forEachKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withAPIKeys)
		ctx := context.Background()
		admin := k.newKey("alice", apikey.Spec{Name: "reports job", Roles: []string{"admin"}})
		user := k.newKey("alice", apikey.Spec{Name: "sync", Roles: []string{"user"}, TTL: time.Hour})
		if !strings.HasPrefix(admin, "ak_") {
			t.Fatalf("key %q lacks the prefix scanners match", admin)
		}
		if _, _, err := k.keys.Create(ctx, "bob", apikey.Spec{Roles: []string{"admin"}}); !errors.Is(err, apikey.ErrRoles) {
			t.Fatalf("a key with a role its owner lacks: %v", err)
		}

		r := k.do("GET", "/api/me", nil, bearer(admin)...)
		expect(t, r, 200, "")
		if r.str("username") != "alice" {
			t.Fatalf("me: %s", r.Body)
		}
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(admin)...), 200, "")
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(user)...), 403, "forbidden")
		expect(t, k.do("GET", "/api/step-up", nil, bearer(admin)...), 401, "step_up_required")
		if k.trips != nil {
			before := k.trips.n.Load()
			expect(t, k.do("GET", "/api/me", nil, bearer(admin)...), 200, "")
			if n := k.trips.n.Load() - before; n != 1 {
				t.Errorf("%d Redis round trips for a key, want 1", n)
			}
		}

		// The owner loses the role: so does the key.
		if err := k.users.SetRoles(ctx, "alice", []string{"user"}); err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(admin)...), 403, "forbidden")
		if err := k.users.SetRoles(ctx, "alice", []string{"admin", "user"}); err != nil {
			t.Fatal(err)
		}

		// Expiry, by the injected clock.
		k.clock.Advance(time.Hour)
		expect(t, k.do("GET", "/api/me", nil, bearer(user)...), 401, "invalid_token")

		// Rotation: the old key works for the overlap, the new one after.
		ids, _ := k.keys.List(ctx, "alice")
		adminID := ids[0].ID
		if ids[0].Name != "reports job" {
			adminID = ids[1].ID
		}
		next, _, err := k.keys.Rotate(ctx, "alice", adminID, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(admin)...), 200, "")
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(next)...), 200, "")
		k.clock.Advance(time.Minute)
		expect(t, k.do("GET", "/api/me", nil, bearer(admin)...), 401, "invalid_token")
		expect(t, k.do("GET", "/api/me", nil, bearer(next)...), 200, "")

		// Forged and mangled keys.
		parts := strings.Split(next, ".")
		for _, bad := range []string{"ak_", "ak_garbage", parts[0] + "." + parts[1] + ".AAAA", parts[0] + "." + parts[1] + "." + strings.Repeat("A", 43)} {
			expect(t, k.do("GET", "/api/me", nil, bearer(bad)...), 401, "invalid_token")
		}

		// Log out everywhere ends the owner's keys, as a disable does.
		tok := k.login("alice", alicePW)
		expect(t, k.do("POST", "/auth/logout-all", nil, bearer(tok.AccessToken)...), 204, "")
		expect(t, k.do("GET", "/api/me", nil, bearer(next)...), 401, "invalid_token")
		again := k.newKey("alice", apikey.Spec{})
		expect(t, k.do("GET", "/api/me", nil, bearer(again)...), 200, "")
		if err := k.auth.Accounts().SetDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("GET", "/api/me", nil, bearer(again)...), 401, "invalid_token")
		// Revocation.
		bobKey := k.newKey("bob", apikey.Spec{})
		list, _ := k.keys.List(ctx, "bob")
		if err := k.keys.Revoke(ctx, "bob", list[0].ID); err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("GET", "/api/me", nil, bearer(bobKey)...), 401, "invalid_token")
	})
}

// TestAPIKeyScannerThrottled: refused keys count against the client
// address; past Throttle.AddressLimit the address gets 429 with
// Retry-After, a valid key too, while other addresses go on.
func TestAPIKeyScannerThrottled(t *testing.T) {
	k := newKit(t, withAPIKeys, func(c *kitConfig) { c.Throttle.AddressLimit = 5 })
	good := k.newKey("bob", apikey.Spec{})
	scanner := from("203.0.113.9")
	bad := good[:len(good)-4] + "AAAA"
	for range 5 {
		expect(t, k.do("GET", "/api/me", nil, append(bearer(bad), scanner...)...), 401, "invalid_token")
	}
	r := k.do("GET", "/api/me", nil, append(bearer(good), scanner...)...)
	expect(t, r, 429, "too_many_attempts")
	if r.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	expect(t, k.do("GET", "/api/me", nil, append(bearer(good), from("198.51.100.7")...)...), 200, "")
}

// TestAPIKeyRoutes: a signed-in user creates, lists, rotates and revokes
// their own keys; a key cannot manage keys; roles the user lacks are 400.
func TestAPIKeyRoutes(t *testing.T) {
	forEachKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withAPIKeys)
		auth := bearer(k.login("bob", bobPW).AccessToken)
		expect(t, k.do("POST", "/auth/apikeys", map[string]any{"roles": []string{"admin"}}, auth...), 400, "invalid_request")
		expect(t, k.do("POST", "/auth/apikeys", map[string]any{"expires_in": -1}, auth...), 400, "invalid_request")
		c := k.do("POST", "/auth/apikeys", map[string]any{"name": "sync", "roles": []string{"user"}, "expires_in": 3600}, auth...)
		expect(t, c, 201, "")
		key, id := c.str("key"), c.str("id")
		if !strings.HasPrefix(key, "ak_") || id == "" || c.str("expires_at") == "" {
			t.Fatalf("create: %s", c.Body)
		}
		expect(t, k.do("GET", "/api/me", nil, bearer(key)...), 200, "")
		expect(t, k.do("POST", "/auth/apikeys", map[string]any{}, bearer(key)...), 403, "forbidden")

		l := k.do("GET", "/auth/apikeys", nil, auth...)
		expect(t, l, 200, "")
		if list, _ := l.body["api_keys"].([]any); len(list) != 1 || strings.Contains(l.Body.String(), key[len(key)-20:]) {
			t.Fatalf("list: %s", l.Body)
		}
		rot := k.do("POST", "/auth/apikeys/"+id+"/rotate", map[string]any{"overlap": 0}, auth...)
		expect(t, rot, 201, "")
		expect(t, k.do("GET", "/api/me", nil, bearer(key)...), 401, "invalid_token")
		expect(t, k.do("GET", "/api/me", nil, bearer(rot.str("key"))...), 200, "")
		expect(t, k.do("DELETE", "/auth/apikeys/"+rot.str("id"), nil, auth...), 204, "")
		expect(t, k.do("GET", "/api/me", nil, bearer(rot.str("key"))...), 401, "invalid_token")
		expect(t, k.do("DELETE", "/auth/apikeys/"+rot.str("id"), nil, auth...), 404, "")
		expect(t, k.do("POST", "/auth/apikeys/nosuchkey1/rotate", map[string]any{}, auth...), 404, "")
	})
}

// TestAPIKeyCannotManageFactors: a key (even of a user without a second
// factor) cannot enrol TOTP, register or list passkeys, or log its owner
// out everywhere: 403, so a leaked key never becomes an interactive login.
func TestAPIKeyCannotManageFactors(t *testing.T) {
	k := newKit(t, withAPIKeys, withTOTP, withPasskeys)
	key := k.newKey("bob", apikey.Spec{Roles: []string{"user"}})
	for _, r := range []struct{ method, path string }{
		{"POST", "/auth/totp/enroll"},
		{"POST", "/auth/passkeys/register/begin"},
		{"GET", "/auth/passkeys"},
		{"POST", "/auth/logout-all"},
	} {
		expect(t, k.do(r.method, r.path, map[string]string{}, bearer(key)...), 403, "forbidden")
	}
	expect(t, k.do("GET", "/api/me", nil, bearer(key)...), 200, "")
}
