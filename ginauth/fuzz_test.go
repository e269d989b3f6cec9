package ginauth_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/store"
)

// The fuzz targets send arbitrary input through the whole engine (the
// in-memory store keeps them fast) and check the status contract: no
// panic, no 5xx, and 200 only for a credential the kit really issued.

// allowed is every status the contract gives a request that is not a
// store failure.
var allowed = map[int]bool{200: true, 204: true, 400: true, 401: true, 403: true, 413: true, 429: true}

func FuzzAuthorization(f *testing.F) {
	k := newMemKit(f)
	tok := k.login("bob", bobPW)
	basic := "Basic " + b64std("bob:"+bobPW)
	for _, seed := range [][2]string{
		{"Bearer " + tok.AccessToken, ""},
		{basic, ""},
		{"Bearer " + tok.AccessToken, basic},
		{"bearer   " + tok.AccessToken + "  ", ""},
		{"Bearer " + tok.RefreshToken, ""},
		{"Basic " + b64std("BOB:"+bobPW), ""},
		{"Basic " + b64std("bob:"), ""},
		{"Bearer \xff\xfe", ""},
		{"Digest x", ""},
		{strings.Repeat("B", 10000), ""},
		// Go's base64 skips newlines: found by the fuzzer in CI.
		{"Basic " + b64std("bob:" + bobPW)[:22] + "\n\n\n" + b64std("bob:" + bobPW)[22:], ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, h1, h2 string) {
		k.t = t // calls are sequential within a fuzzing process
		headers := []string{"Authorization", h1}
		if h2 != "" {
			headers = append(headers, "Authorization", h2)
		}
		r := k.do("GET", "/api/me", nil, headers...)
		if !allowed[r.Code] {
			t.Fatalf("status %d for Authorization %q %q: %s", r.Code, h1, h2, r.Body)
		}
		if r.Code == 200 && h2 == "" && !strings.Contains(h1, tok.AccessToken) && !strings.Contains(h1, basic[len("Basic "):]) &&
			!strings.Contains(h1, b64std("BOB:"+bobPW)) {
			// A different credential got in: only case variants of
			// bob's name may, and they are seeded above.
			t.Fatalf("200 for Authorization %q: %s", h1, r.Body)
		}
	})
}

func FuzzLoginBody(f *testing.F) {
	k := newMemKit(f)
	for _, seed := range []string{
		`{"username":"bob","password":"` + bobPW + `"}`,
		`{"username":"BOB","password":"` + bobPW + `","cookie":true}`,
		`{"username":"bob","password":"wrong"}`,
		`{"username":"bob"}`, `{}`, `[]`, `null`, ``, `{"username":{},"password":[]}`,
		`{"username":"bob","password":"x"}{"a":1}`, "{\"username\":\"\xff\",\"password\":\"\\u0000\"}",
		`{"username":"nobody","username":"bob","password":"` + bobPW + `"}`,
		`{"username":"bob","password":"wrong","password":"` + bobPW + `"}`,
		`{"USERNAME":"bob","password":"` + bobPW + `"}`,
		`{"username":"nobody","Username":"bob","password":"` + bobPW + `"}`,
		`{"uſername":"bob","Password":"` + bobPW + `","grant_type":"password"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		k.t = t // calls are sequential within a fuzzing process
		r := k.do("POST", "/auth/login", body)
		if !allowed[r.Code] {
			t.Fatalf("status %d for login body %q: %s", r.Code, body, r.Body)
		}
		if r.Code == 200 {
			strictMembers(t, body, "username", "password", "cookie")
			var req struct{ Username, Password string }
			_ = json.Unmarshal([]byte(body), &req)
			name, err := store.CanonicalUsername(req.Username)
			if err != nil || name != "bob" && name != "alice" || req.Password != map[string]string{"bob": bobPW, "alice": alicePW}[name] {
				t.Fatalf("200 for login body %q: %s", body, r.Body)
			}
		}
	})
}

func FuzzRefreshBody(f *testing.F) {
	k := newMemKit(f)
	tok := k.login("bob", bobPW)
	issued := map[string]bool{tok.RefreshToken: true}
	for _, seed := range []string{
		`{"refresh_token":"` + tok.RefreshToken + `"}`,
		`{"refresh_token":"` + strings.Replace(tok.RefreshToken, ".0.", ".1.", 1) + `"}`,
		`{"refresh_token":"rt2.a.b.c.d.e"}`, `{"refresh_token":""}`, `{"refresh_token":null}`, `{}`, `x`,
		`{"refresh_token":"rt2.a.b.c.d.e","refresh_token":"` + tok.RefreshToken + `"}`,
		`{"Refresh_Token":"` + tok.RefreshToken + `","grant_type":"refresh_token"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		k.t = t // calls are sequential within a fuzzing process
		r := k.do("POST", "/auth/refresh", body)
		if !allowed[r.Code] {
			t.Fatalf("status %d for refresh body %q: %s", r.Code, body, r.Body)
		}
		if r.Code == 200 {
			strictMembers(t, body, "refresh_token")
			var req struct {
				RefreshToken string `json:"refresh_token"`
			}
			_ = json.Unmarshal([]byte(body), &req)
			if !issued[req.RefreshToken] {
				t.Fatalf("200 for a refresh token the kit never issued: %q", body)
			}
			issued[r.str("refresh_token")] = true
		}
	})
}

// strictMembers fails t unless body is an object whose top-level member
// names are each sent once and none differs from a known name only in
// case: the only bodies a login or refresh may accept.
func strictMembers(t *testing.T, body string, known ...string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("200 for a body that is no object: %q", body)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, _ := dec.Token()
		name, _ := tok.(string)
		if seen[name] {
			t.Fatalf("200 for a body with member %q twice: %q", name, body)
		}
		seen[name] = true
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				t.Fatalf("200 for a body with member %q, a case variant of %q: %q", name, k, body)
			}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("200 for a malformed body %q: %v", body, err)
		}
	}
}
