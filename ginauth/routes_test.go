package ginauth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
)

func ok(c *gin.Context) { c.Status(200) }

func listing(rt *ginauth.Router) string {
	var got []string
	for _, r := range rt.Routes() {
		got = append(got, r.String())
	}
	return strings.Join(got, "\n")
}

func TestRoutes(t *testing.T) {
	k := newMemKit(t)
	want := strings.Join([]string{
		"GET /api/admin/stats  roles: admin",
		"GET /api/both  roles: admin & user",
		"GET /api/me  authenticated",
		"POST /api/me  authenticated",
		"GET /api/reports  roles: admin|analyst",
		"GET /api/step-up  authenticated, mfa within 5m0s",
		"GET /auth/apikeys  authenticated",
		"POST /auth/apikeys  authenticated",
		"DELETE /auth/apikeys/:id  authenticated",
		"POST /auth/apikeys/:id/rotate  authenticated",
		"POST /auth/login  public",
		"POST /auth/logout  public",
		"POST /auth/logout-all  authenticated",
		"POST /auth/mfa  public",
		"GET /auth/passkeys  authenticated",
		"DELETE /auth/passkeys/:id  authenticated",
		"POST /auth/passkeys/login/begin  public",
		"POST /auth/passkeys/login/finish  public",
		"POST /auth/passkeys/register/begin  authenticated",
		"POST /auth/passkeys/register/finish  authenticated",
		"POST /auth/refresh  public",
		"POST /auth/totp/confirm  authenticated",
		"POST /auth/totp/disable  authenticated",
		"POST /auth/totp/enroll  authenticated",
		"GET /healthz  public",
		"POST /oauth/revoke  public",
		"POST /oauth/token  public",
		"GET /whoami  public",
	}, "\n")
	if got := listing(k.router); got != want {
		t.Errorf("Routes:\n%s\nwant:\n%s", got, want)
	}
	if n := len(k.engine.Routes()); n != len(k.router.Routes()) {
		t.Errorf("the engine has %d routes, the listing %d", n, len(k.router.Routes()))
	}
	ginauthtest.AssertRoutesAnnotated(t, k.router)
}

// TestRouteOnEngineIsUnannotated: a route registered on gin directly,
// bypassing the router, is listed and fails the check.
func TestRouteOnEngineIsUnannotated(t *testing.T) {
	k := newMemKit(t)
	k.engine.GET("/forgot", ok)
	k.engine.Group("/api").DELETE("/users/:name", k.auth.RequireRoles("admin"), ok)
	err := k.router.Check()
	for _, want := range []string{"GET /forgot  UNANNOTATED", "DELETE /api/users/:name  UNANNOTATED"} {
		if !strings.Contains(listing(k.router), want) {
			t.Errorf("listing lacks %q:\n%s", want, listing(k.router))
		}
		if !errors.Is(err, ginauth.ErrUnannotatedRoute) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v, want it to name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "/api/me") {
		t.Errorf("Check names a route of the router: %v", err)
	}
}

// TestOpenRouteInSignedInGroup: an open route inside a group that
// requires sign-in is reported when it is registered, and stays behind
// the group's rule.
func TestOpenRouteInSignedInGroup(t *testing.T) {
	var logs bytes.Buffer
	k := newMemKit(t, func(cfg *kitConfig) { cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	g := k.router.Group("/g", ginauth.SignedIn())
	g.GET("/x", ginauth.Open(), ok)
	if line := logs.String(); !strings.Contains(line, "level=WARN") || !strings.Contains(line, "path=/g/x") ||
		!strings.Contains(line, "open route inside a group that requires sign-in") {
		t.Fatalf("no warning at registration; log:\n%s", line)
	}
	err := k.router.Check()
	if !errors.Is(err, ginauth.ErrUnannotatedRoute) || !strings.Contains(err.Error(), "GET /g/x  MISCONFIGURED") {
		t.Fatalf("Check = %v", err)
	}
	expect(t, k.do("GET", "/g/x", nil), 401, "authentication_required")
	expect(t, k.do("GET", "/g/x", nil, bearer(k.login("bob", bobPW).AccessToken)...), 200, "")
}

// TestEmptyRoleListDenies: a rule that names no role fails closed, and
// is reported.
func TestEmptyRoleListDenies(t *testing.T) {
	k := newMemKit(t)
	k.router.GET("/any", ginauth.AnyRole(), ok)
	k.router.GET("/all", ginauth.AllRoles(), ok)
	k.router.GET("/zero", ginauth.Rule{}, ok)
	k.router.Group("/g", ginauth.AnyRole()).GET("/x", ginauth.Open(), ok)
	// A plain gin route with the middleware denies too.
	k.engine.GET("/plain", k.auth.RequireRoles(), ok)
	tok := k.login("alice", alicePW)
	for _, path := range []string{"/any", "/all", "/zero", "/g/x", "/plain"} {
		expect(t, k.do("GET", path, nil, bearer(tok.AccessToken)...), 403, "forbidden")
	}
	err := k.router.Check()
	for _, path := range []string{"/any", "/all", "/zero", "/g/x"} {
		if !strings.Contains(err.Error(), "GET "+path+"  MISCONFIGURED") {
			t.Errorf("Check does not report %s as misconfigured: %v", path, err)
		}
	}
}

// TestEmptyRoleNameIsReported: AnyRole("") and AllRoles("admin", "")
// name a role no principal has (a typo from a config file, say), so the
// routes deny everyone and Check says why.
func TestEmptyRoleNameIsReported(t *testing.T) {
	k := newMemKit(t)
	k.router.GET("/any", ginauth.AnyRole(""), ok)
	k.router.GET("/all", ginauth.AllRoles("admin", ""), ok)
	k.router.GET("/fine", ginauth.AnyRole("admin", "user"), ok)
	tok := k.login("alice", alicePW)
	for _, path := range []string{"/any", "/all"} {
		expect(t, k.do("GET", path, nil, bearer(tok.AccessToken)...), 403, "forbidden")
	}
	err := k.router.Check()
	if err == nil {
		t.Fatal("Check reports nothing for empty role names")
	}
	for _, path := range []string{"/any", "/all"} {
		if !strings.Contains(err.Error(), "GET "+path+"  MISCONFIGURED") || !strings.Contains(err.Error(), "empty role name") {
			t.Errorf("Check does not report %s's empty role name: %v", path, err)
		}
	}
	if strings.Contains(err.Error(), "/fine") {
		t.Errorf("Check reports a correct route: %v", err)
	}
}

// TestGroupAndRouteRolesCombine: a group's role clause and its route's
// add up, and both are enforced.
func TestGroupAndRouteRolesCombine(t *testing.T) {
	k := newMemKit(t)
	if err := k.auth.Accounts().CreateUser(context.Background(), "carol", alicePW, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	users := k.router.Group("/users", ginauth.AnyRole("user"))
	users.GET("/admin", ginauth.AnyRole("admin"), ok)
	users.GET("/plain", ginauth.SignedIn(), ok)
	want := strings.Join([]string{"GET /users/admin  roles: user & admin", "GET /users/plain  roles: user"}, "\n")
	if got := listing(k.router); !strings.Contains(got, want) {
		t.Errorf("listing:\n%s\nwant it to hold:\n%s", got, want)
	}
	tests := []struct {
		name, user, pw, path string
		status               int
	}{
		{"both roles", "alice", alicePW, "/users/admin", 200},
		{"group role only", "bob", bobPW, "/users/admin", 403},
		{"route role only", "carol", alicePW, "/users/admin", 403},
		{"group role, no route role", "bob", bobPW, "/users/plain", 200},
		{"no group role", "carol", alicePW, "/users/plain", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := k.login(tt.user, tt.pw)
			expect(t, k.do("GET", tt.path, nil, bearer(tok.AccessToken)...), tt.status, "")
		})
	}
	expect(t, k.do("GET", "/users/admin", nil), 401, "authentication_required")
}

func TestCheckRoutes(t *testing.T) {
	k := newMemKit(t)
	tests := []struct {
		name  string
		setup func(rt *ginauth.Router, e *gin.Engine)
		want  string // substring of the error; "" for none
	}{
		{"all annotated", func(rt *ginauth.Router, _ *gin.Engine) {
			rt.GET("/open", ginauth.Open(), ok)
			rt.Group("/p", ginauth.SignedIn()).GET("/:id", ginauth.AllRoles("a", "b"), ok)
			rt.Group("", ginauth.Open(), k.auth.Authenticate()).OPTIONS("/x", ginauth.Open(), ok)
		}, ""},
		{"forgotten route", func(rt *ginauth.Router, e *gin.Engine) {
			rt.GET("/open", ginauth.Open(), ok)
			e.GET("/forgot", ok)
		}, "GET /forgot  UNANNOTATED"},
		{"empty role list", func(rt *ginauth.Router, _ *gin.Engine) {
			rt.GET("/none", ginauth.AnyRole(), ok)
		}, "GET /none  MISCONFIGURED: role rule without roles"},
		{"open inside a signed-in group", func(rt *ginauth.Router, _ *gin.Engine) {
			rt.Group("/g", ginauth.SignedIn()).Group("/h", ginauth.Open()).PUT("/x/", ginauth.Open(), ok)
		}, "PUT /g/h/x/  MISCONFIGURED: open route inside a group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := gin.New()
			rt := k.auth.Router(e)
			tt.setup(rt, e)
			if n := len(rt.Routes()); n != len(e.Routes()) {
				t.Errorf("the engine has %d routes, the listing %d: %v", len(e.Routes()), n, rt.Routes())
			}
			err := rt.Check()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ginauth.ErrUnannotatedRoute) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestRoutesEscapedColon: gin writes an escaped colon as a plain one once
// the engine has served; a route registered directly on gin that then
// shares a router route's path is still reported, and a router route
// with an escaped colon is not.
func TestRoutesEscapedColon(t *testing.T) {
	k := newMemKit(t)
	k.router.GET("/v1/items\\:batch", ginauth.SignedIn(), ok)
	k.router.GET("/v1/:id", ginauth.AnyRole("admin"), ok)
	k.engine.GET("/v1/\\:id", ok)
	k.do("GET", "/v1/items:batch", nil)
	err := k.router.Check()
	if err == nil || !strings.Contains(err.Error(), "UNANNOTATED") || strings.Contains(err.Error(), "batch") {
		t.Errorf("Check after serving = %v, want the route on gin reported, and only it", err)
	}
}
