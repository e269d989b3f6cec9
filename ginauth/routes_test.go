package ginauth_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
)

func TestRoutes(t *testing.T) {
	k := newKit(t)
	routes, err := ginauth.Routes(k.engine)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.String())
	}
	want := []string{
		"GET /api/admin/stats  roles: admin",
		"GET /api/both  roles: admin & user",
		"GET /api/me  authenticated",
		"POST /api/me  authenticated",
		"GET /api/reports  roles: admin|analyst",
		"POST /auth/login  public",
		"POST /auth/logout  authenticated",
		"POST /auth/logout-all  authenticated",
		"POST /auth/refresh  public",
		"GET /healthz  public",
		"POST /oauth/revoke  public",
		"POST /oauth/token  public",
		"GET /whoami  public",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ginauthtest.AssertRoutesAnnotated(t, k.engine)
}

func TestCheckRoutesFindsProblems(t *testing.T) {
	k := newKit(t)
	tests := []struct {
		name  string
		setup func(r *gin.Engine)
		want  string // substring of the error; "" for none
	}{
		{"all annotated", func(r *gin.Engine) {
			r.GET("/open", ginauth.Public(), func(*gin.Context) {})
			r.GET("/param/:id", k.auth.RequireRoles("a"), func(*gin.Context) {})
		}, ""},
		{"forgotten route", func(r *gin.Engine) {
			r.GET("/open", ginauth.Public(), func(*gin.Context) {})
			r.GET("/forgot", func(*gin.Context) {})
		}, "GET /forgot  UNANNOTATED"},
		{"empty role list", func(r *gin.Engine) {
			r.GET("/none", k.auth.RequireRoles(), func(*gin.Context) {})
		}, "MISCONFIGURED"},
		{"public inside a protected group", func(r *gin.Engine) {
			g := r.Group("/g", k.auth.Required())
			g.GET("/x", ginauth.Public(), func(*gin.Context) {})
		}, "public and authenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gin.New()
			tt.setup(r)
			err := ginauth.CheckRoutes(r)
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

// TestEmptyRoleListDenies: a misconfigured annotation fails closed.
func TestEmptyRoleListDenies(t *testing.T) {
	k := newKit(t)
	k.engine.GET("/deny", k.auth.RequireRoles(), func(c *gin.Context) { c.Status(200) })
	tok := k.login("alice", alicePW)
	expect(t, k.do("GET", "/deny", nil, bearer(tok.AccessToken)...), 403, "forbidden")
}

// TestRoutesReadsGin guards the one place that reads gin's unexported
// router (routes_gin.go): if a gin upgrade changes its layout, this fails
// and says so, rather than Routes quietly reporting nothing.
func TestRoutesReadsGin(t *testing.T) {
	r := gin.New()
	r.GET("/a", ginauth.Public(), func(c *gin.Context) {})
	routes, err := ginauth.Routes(r)
	if errors.Is(err, ginauth.ErrRoutesUnreadable) {
		t.Fatalf("gin's router layout changed (gin upgrade?): update ginauth/routes_gin.go: %v", err)
	}
	if err != nil || len(routes) != 1 || !routes[0].Annotated || !routes[0].Public {
		t.Fatalf("Routes = %v, %v; want GET /a public", routes, err)
	}
}

// TestRoutesAfterGC drops annotated handlers, collects them, then mounts
// plain closures of the same size, which the allocator may place where
// the dropped ones were: none of them may read as annotated.
func TestRoutesAfterGC(t *testing.T) {
	k := newMemKit(t)
	for range 2000 {
		_ = k.auth.LoginHandler() // annotated public, then garbage
	}
	runtime.GC()
	runtime.GC()
	r := gin.New()
	for i := range 2000 {
		n := i
		r.GET(fmt.Sprintf("/plain/%d", i), func(c *gin.Context) { c.Status(200 + n%1) })
	}
	routes, err := ginauth.Routes(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		if rt.Annotated {
			t.Fatalf("%v: a plain closure reads as annotated (a stale entry of a collected annotation)", rt)
		}
	}
}
