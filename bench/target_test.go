package bench_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/bench"
	"github.com/gin-authkit/authkit/tokens"
)

// TestTargets checks that every target does what its benchmark assumes:
// a login answers a credential that gets the right user through GET,
// and no credential, or a tampered one, gets 401.
func TestTargets(t *testing.T) {
	for _, sc := range getScenarios[1:] {
		t.Run(sc.name, func(t *testing.T) {
			tg, err := sc.build(env)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			c, err := tg.Login("user03")
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.Warm(sc.path, []bench.Credential{c}); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/me", sc.path} {
				w := tg.Serve(bench.Get(path, c))
				var body struct{ Username string }
				if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Username != "user03" {
					t.Errorf("GET %s: %d %s, want 200 for user03", path, w.Code, w.Body)
				}
			}
			tampered := c
			tampered.Value = c.Value[:len(c.Value)-2] + "xx"
			for name, cred := range map[string]bench.Credential{"none": {}, "tampered": tampered} {
				if w := tg.Serve(bench.Get(sc.path, cred)); w.Code != 401 {
					t.Errorf("GET %s with %s credential: %d %s, want 401", sc.path, name, w.Code, w.Body)
				}
			}
			if next, err := tg.Refresh(c); !errors.Is(err, bench.ErrNoRefresh) {
				if err != nil {
					t.Fatal(err)
				}
				if w := tg.Serve(bench.Get("/me", next)); w.Code != 200 {
					t.Errorf("GET /me after refresh: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestIssue checks that authkit-stateless-miss measures what its clients
// would present: the tokens from Target.Issue are distinct, get their user
// through GET and are a login's token in all but the session and token ids,
// and the clients outnumber the Verifier's cache many times over.
func TestIssue(t *testing.T) {
	if missClients < 20*tokens.DefaultCacheSize {
		t.Errorf("missClients = %d, not far above the cache's %d", missClients, tokens.DefaultCacheSize)
	}
	tg, err := bench.Authkit(env, bench.Stateless)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	login, err := tg.Login("user01")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := tg.Issue(3)
	if err != nil {
		t.Fatal(err)
	}
	if issued[1].Value == issued[2].Value || issued[1].Header != login.Header {
		t.Fatalf("issued %v", issued)
	}
	w := tg.Serve(bench.Get("/me", issued[1]))
	var body struct{ Username string }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Username != "user01" {
		t.Errorf("GET /me with an issued token: %d %s, want 200 for user01", w.Code, w.Body)
	}
	want, got := tokenParts(t, login), tokenParts(t, issued[1])
	if want.header != got.header {
		t.Errorf("header %s, a login's is %s", got.header, want.header)
	}
	for _, name := range []string{"jti", "sid"} { // random in both
		w, _ := want.claims[name].(string)
		if g, _ := got.claims[name].(string); w == "" || len(g) != len(w) {
			t.Errorf("%s %q, a login's is %q", name, g, w)
		}
	}
	for _, c := range []map[string]any{want.claims, got.claims} {
		delete(c, "jti")
		delete(c, "sid")
		c["exp"] = c["exp"].(float64) - c["iat"].(float64) // the same lifetime
		if at, ok := c["auth_time"].(float64); ok {
			c["auth_time"] = at - c["iat"].(float64) // at issue, as a login's
		}
		delete(c, "iat")
	}
	if !reflect.DeepEqual(want.claims, got.claims) {
		t.Errorf("claims %v, a login's are %v", got.claims, want.claims)
	}
	if _, err := bench.Floor().Issue(1); !errors.Is(err, bench.ErrNoIssue) {
		t.Errorf("floor: Issue: %v, want ErrNoIssue", err)
	}
}

type parts struct {
	header string
	claims map[string]any
}

// tokenParts decodes the bearer token of c.
func tokenParts(t *testing.T, c bench.Credential) parts {
	t.Helper()
	seg := strings.Split(strings.TrimPrefix(c.Value, "Bearer "), ".")
	if len(seg) != 3 {
		t.Fatalf("not a JWT: %q", c.Value)
	}
	h, err1 := base64.RawURLEncoding.DecodeString(seg[0])
	p, err2 := base64.RawURLEncoding.DecodeString(seg[1])
	var claims map[string]any
	if err := errors.Join(err1, err2, json.Unmarshal(p, &claims)); err != nil {
		t.Fatal(err)
	}
	return parts{string(h), claims}
}

// TestLimitRefresh checks the limit's one-script rotation: the successor
// works, and presenting the rotated token again ends the session.
func TestLimitRefresh(t *testing.T) {
	tg := bench.Limit(env)
	defer tg.Close()
	c, err := tg.Login("user05")
	if err != nil {
		t.Fatal(err)
	}
	next, err := tg.Refresh(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Refresh(c); err == nil {
		t.Fatal("a rotated refresh token rotated again")
	}
	if w := tg.Serve(bench.Get("/me", next)); w.Code != 401 {
		t.Errorf("GET /me after a replay: %d, want 401 (session ended)", w.Code)
	}
	if _, err := tg.Refresh(next); err == nil {
		t.Error("the successor rotated after the replay ended the session")
	}
}

// TestAPIKeyTarget checks what BenchmarkAPIKeyPaired assumes: on
// authkit-apikey, a session's token and an API key both get their user
// through /me and /admin, a tampered key gets 401, and the other targets
// have no keys.
func TestAPIKeyTarget(t *testing.T) {
	tg, err := bench.AuthkitAPIKeys(env)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	session, err := tg.Login("user01")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tg.APIKeys(2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(keys[1].Value, "Bearer ak_") || keys[0].Value == keys[1].Value {
		t.Fatalf("keys %q", keys)
	}
	for name, c := range map[string]bench.Credential{"session": session, "key": keys[1]} {
		for _, path := range []string{"/me", "/admin"} {
			w := tg.Serve(bench.Get(path, c))
			var body struct{ Username string }
			if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Username != "user01" {
				t.Errorf("GET %s with the %s: %d %s, want 200 for user01", path, name, w.Code, w.Body)
			}
		}
	}
	tampered := keys[1]
	tampered.Value = tampered.Value[:len(tampered.Value)-2] + "xx"
	if w := tg.Serve(bench.Get("/me", tampered)); w.Code != 401 {
		t.Errorf("GET /me with a tampered key: %d %s, want 401", w.Code, w.Body)
	}
	other, err := bench.Authkit(env, bench.Session)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.APIKeys(1); !errors.Is(err, bench.ErrNoAPIKeys) {
		t.Errorf("APIKeys on %s: %v, want ErrNoAPIKeys", other.Name, err)
	}
}
