package ginauthtest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// recorder is a testing.TB that records failures instead of ending the
// test, so the helpers' own verdicts can be checked.
type recorder struct {
	testing.TB
	failed []string
}

type fatal struct{}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.failed = append(r.failed, fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}

func run(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != (fatal{}) {
				panic(p)
			}
		}()
		f(r)
	}()
	return r.failed
}

func TestAssertError(t *testing.T) {
	ok := `{"error":"forbidden","message":"Access denied"}`
	tests := []struct {
		name   string
		status int
		body   string
		want   ginauthtest.WantError
		fails  bool
	}{
		{"match", 403, ok, ginauthtest.WantError{Status: 403, Code: "forbidden"}, false},
		{"status only", 200, `{"anything":1}`, ginauthtest.WantError{Status: 200}, false},
		{"wrong status", 401, ok, ginauthtest.WantError{Status: 403, Code: "forbidden"}, true},
		{"wrong code", 403, ok, ginauthtest.WantError{Status: 403, Code: "invalid_token"}, true},
		{"extra member", 403, `{"error":"forbidden","message":"x","detail":"leak"}`, ginauthtest.WantError{Status: 403, Code: "forbidden"}, true},
		{"empty message", 403, `{"error":"forbidden","message":""}`, ginauthtest.WantError{Status: 403, Code: "forbidden"}, true},
		{"not JSON", 403, `forbidden`, ginauthtest.WantError{Status: 403, Code: "forbidden"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.WriteHeader(tt.status)
			w.WriteString(tt.body)
			failed := run(t, func(tb testing.TB) {
				ginauthtest.AssertError(tb, ginauthtest.Recorded(w), tt.want)
			})
			if (len(failed) > 0) != tt.fails {
				t.Errorf("failures %q, want failing = %v", failed, tt.fails)
			}
		})
	}
}

func TestAssertRoutesAnnotated(t *testing.T) {
	key, err := tokens.NewHMACKey("k", []byte("a test secret of at least thirty-two bytes"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []tokens.Option{tokens.WithIssuer("test"), tokens.WithAudience("test-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{})
	users, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ginauth.New(ginauth.Config{Store: st, Accounts: users, Issuer: issuer, Verifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	rt := auth.Router(e)
	rt.GET("/open", ginauth.Open(), func(*gin.Context) {})
	rt.GET("/me", ginauth.SignedIn(), func(*gin.Context) {})
	if failed := run(t, func(tb testing.TB) { ginauthtest.AssertRoutesAnnotated(tb, rt) }); len(failed) != 0 {
		t.Errorf("annotated engine failed: %q", failed)
	}
	e.GET("/forgot", func(*gin.Context) {})
	if failed := run(t, func(tb testing.TB) { ginauthtest.AssertRoutesAnnotated(tb, rt) }); len(failed) != 1 {
		t.Errorf("unannotated route not reported: %q", failed)
	}
}

func TestWithPrincipal(t *testing.T) {
	ctx := ginauthtest.WithPrincipal(context.Background(), &ginauth.Principal{Username: "alice", Roles: []string{"admin"}})
	p, ok := ginauth.PrincipalFromContext(ctx)
	if !ok || p.Username != "alice" || !p.HasRole("admin") {
		t.Fatalf("PrincipalFromContext = %+v, %v", p, ok)
	}
	if _, ok := ginauth.PrincipalFromContext(context.Background()); ok {
		t.Fatal("a bare context has a principal")
	}
}
