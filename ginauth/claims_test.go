package ginauth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store"
)

// claimsHook gives each user a tenant and an e-mail address, and records
// the users it was given.
type claimsHook struct {
	mu   sync.Mutex
	seen []store.User
}

func (h *claimsHook) claims(_ context.Context, u store.User) (map[string]any, error) {
	h.mu.Lock()
	h.seen = append(h.seen, u)
	h.mu.Unlock()
	return map[string]any{"tenant": "acme", "email": u.Username + "@example.com", "seats": 3}, nil
}

func (h *claimsHook) last() store.User {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[len(h.seen)-1]
}

// claimsRoute mounts GET /claims, which answers the caller's application
// claims as Claim reads them.
func claimsRoute(k *kit) {
	k.router.Group("/claims", ginauth.SignedIn()).GET("", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		tenant, hasTenant := ginauth.Claim[string](p, "tenant")
		email, _ := ginauth.Claim[string](p, "email")
		seats, _ := ginauth.Claim[int](p, "seats")
		_, seatsAsString := ginauth.Claim[string](p, "seats")
		_, absent := ginauth.Claim[string](p, "nope")
		c.JSON(200, gin.H{"tenant": tenant, "has_tenant": hasTenant, "email": email, "seats": seats,
			"seats_as_string": seatsAsString, "absent": absent, "scheme": p.Scheme})
	})
}

// TestApplicationClaims: the hook's claims are in the tokens of a login
// and of a refresh, and a handler reads them with Claim, in session and
// stateless mode, verified in full and from the verifier's cache.
func TestApplicationClaims(t *testing.T) {
	for _, mode := range []struct {
		name      string
		stateless bool
		newK      kitMaker
	}{{"session", false, newKit}, {"stateless", true, newKit}, {"split users", false, newSplitKit}} {
		t.Run(mode.name, func(t *testing.T) {
			hook := &claimsHook{}
			k := mode.newK(t, func(c *kitConfig) { c.Stateless, c.claims = mode.stateless, hook.claims })
			claimsRoute(k)
			check := func(step, access string) {
				t.Helper()
				for range 2 { // a full verification, then a hit of the cache
					r := k.do("GET", "/claims", nil, bearer(access)...)
					if r.Code != 200 || r.str("tenant") != "acme" || r.body["has_tenant"] != true ||
						r.str("email") != "alice@example.com" || r.body["seats"] != 3.0 ||
						r.body["seats_as_string"] != false || r.body["absent"] != false {
						t.Fatalf("%s: %d %s", step, r.Code, r.Body)
					}
				}
			}
			tr := k.login("alice", alicePW)
			check("login", tr.AccessToken)
			if u := hook.last(); u.Username != "alice" || len(u.PasswordHash) == 0 || !slicesEqual(u.Roles, []string{"admin", "user"}) {
				t.Errorf("the hook at login was given %+v, want alice's full record", u)
			}
			r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tr.RefreshToken})
			if r.Code != 200 {
				t.Fatalf("refresh: %d %s", r.Code, r.Body)
			}
			check("refresh", r.str("access_token"))
			if u := hook.last(); u.Username != "alice" || !slicesEqual(u.Roles, []string{"admin", "user"}) {
				t.Errorf("the hook at refresh was given %+v", u)
			}
			// Basic has no token, so no application claims.
			r = k.do("GET", "/claims", nil, "Authorization", "Basic "+b64std("alice:"+alicePW))
			if r.Code != 200 || r.body["has_tenant"] != false || r.str("scheme") != "Basic" {
				t.Errorf("Basic: %d %s", r.Code, r.Body)
			}
		})
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestApplicationClaimsRefused: a hook that fails, or that gives a
// reserved name, fails the issue with a 503 that is logged; without a
// hook, tokens have no application claims.
func TestApplicationClaimsRefused(t *testing.T) {
	tests := []struct {
		name    string
		hook    func(context.Context, store.User) (map[string]any, error)
		status  int
		logged  string // in the log, with the 503
		refresh bool   // the hook fails only at refresh
	}{
		{name: "no hook", status: 200},
		{name: "hook error", status: 503, logged: "tenant directory down",
			hook: func(context.Context, store.User) (map[string]any, error) {
				return nil, errors.New("tenant directory down")
			}},
		{name: "hook error wrapping a sentinel", status: 503, logged: "not allowed",
			hook: func(context.Context, store.User) (map[string]any, error) {
				return nil, errors.Join(ginauth.ErrForbidden, errors.New("not allowed"))
			}},
		{name: "reserved name", status: 503, logged: `\"sub\"`,
			hook: func(context.Context, store.User) (map[string]any, error) {
				return map[string]any{"tenant": "acme", "sub": "root"}, nil
			}},
		{name: "reserved name in another case", status: 503, logged: `\"Roles\"`,
			hook: func(context.Context, store.User) (map[string]any, error) {
				return map[string]any{"Roles": []string{"root"}}, nil
			}},
		{name: "value that does not encode", status: 503, logged: `\"f\"`,
			hook: func(context.Context, store.User) (map[string]any, error) { return map[string]any{"f": func() {}}, nil }},
		{name: "error at refresh", status: 503, logged: "down at refresh", refresh: true,
			hook: func(_ context.Context, u store.User) (map[string]any, error) {
				if u.PasswordHash == nil { // a refresh reads no record
					return nil, errors.New("down at refresh")
				}
				return nil, nil
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			k := newKit(t, func(c *kitConfig) {
				c.claims, c.Logger = tc.hook, slog.New(slog.NewTextHandler(&logs, nil))
			})
			claimsRoute(k)
			r := k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW})
			if tc.refresh {
				if r.Code != 200 {
					t.Fatalf("login: %d %s", r.Code, r.Body)
				}
				r = k.do("POST", "/auth/refresh", map[string]string{"refresh_token": r.str("refresh_token")})
			}
			if r.Code != tc.status {
				t.Fatalf("status %d %s, want %d", r.Code, r.Body, tc.status)
			}
			if tc.status == 503 {
				expect(t, r, 503, "unavailable")
				line := logs.String()
				if !strings.Contains(line, "application claims") || !strings.Contains(line, tc.logged) {
					t.Errorf("log does not name the failure (%s):\n%s", tc.logged, line)
				}
				if strings.Contains(r.Body.String(), tc.logged) {
					t.Errorf("the answer tells the client the cause: %s", r.Body)
				}
				return
			}
			r = k.do("GET", "/claims", nil, bearer(r.str("access_token"))...)
			if r.Code != 200 || r.body["has_tenant"] != false {
				t.Errorf("without a hook: %d %s", r.Code, r.Body)
			}
		})
	}
}
