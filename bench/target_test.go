package bench_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gin-authkit/authkit/bench"
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
