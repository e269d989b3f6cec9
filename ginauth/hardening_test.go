package ginauth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// signedWith issues a token for alice's live session with another key.
func (k *kit) signedWith(key *tokens.Key, sid string) string {
	k.t.Helper()
	iss, err := tokens.NewIssuer(key, tokens.WithIssuer("authkit-test"), tokens.WithAudience("api"), tokens.WithClock(k.clock.Now))
	if err != nil {
		k.t.Fatal(err)
	}
	tok, _, err := iss.Issue("alice", sid, []string{"admin"})
	if err != nil {
		k.t.Fatal(err)
	}
	return tok
}

// TestForeignKeys: a token for a live session, signed by a key this kit
// does not know (other kid, other algorithm), is invalid_token.
func TestForeignKeys(t *testing.T) {
	k := newKit(t)
	tok := k.login("alice", alicePW)
	claims, err := k.auth.Config().Verifier.Verify(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	edKey, _ := tokens.NewEd25519Key("k1", priv) // same kid, other algorithm
	otherKid, _ := tokens.NewHMACKey("k2", []byte(testSecret))
	for name, key := range map[string]*tokens.Key{"wrong algorithm": edKey, "wrong kid": otherKid} {
		t.Run(name, func(t *testing.T) {
			expect(t, k.do("GET", "/api/me", nil, bearer(k.signedWith(key, claims.SessionID))...), 401, "invalid_token")
		})
	}
}

func TestMalformedAuthorization(t *testing.T) {
	k := newKit(t)
	for _, tt := range []struct{ name, value string }{
		{"empty header", ""},
		{"scheme only", "Bearer"},
		{"two tokens", "Bearer a b"},
		{"bad characters", "Bearer a,b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := k.do("GET", "/api/me", nil, "Authorization", tt.value)
			expect(t, r, 400, "invalid_request")
			if got := r.Header().Values("WWW-Authenticate"); len(got) == 0 || got[0] != `Bearer realm="test-realm", error="invalid_request"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		})
	}
}

// TestAbsoluteLifetime: an access token stops working when its session
// reaches its absolute lifetime, even while it is used all the time.
func TestAbsoluteLifetime(t *testing.T) {
	k := newKit(t, func(c *kitConfig) {
		c.Sessions.Lifetime = 2 * time.Hour
		c.Sessions.IdleTimeout = time.Hour
	})
	tok := k.login("bob", bobPW)
	for range 7 { // 7 × 14 min < 2 h: each refresh keeps both token and session fresh
		k.clock.Advance(14 * time.Minute)
		r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
		expect(t, r, 200, "")
		tok.AccessToken, tok.RefreshToken = r.str("access_token"), r.str("refresh_token")
	}
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
	k.clock.Advance(22 * time.Minute) // 120 min after login; the token is 14 min old
	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
}

func TestHandlerBodies(t *testing.T) {
	k := newKit(t)
	for _, path := range []string{"/auth/login", "/auth/refresh"} {
		for _, tt := range []struct {
			name    string
			body    string
			headers []string
			status  int
		}{
			{"not JSON", "refresh_token=x", nil, 400},
			{"array", `["x"]`, nil, 400},
			{"over 8 KiB", `{"refresh_token":"` + strings.Repeat("a", 9000) + `"}`, nil, 413},
			{"1 MiB", `{"refresh_token":"` + strings.Repeat("a", 1<<20) + `"}`, nil, 413},
			{"form content type", `{"username":"bob","password":"` + bobPW + `","refresh_token":"x"}`, []string{"Content-Type", "text/plain"}, 400},
			{"cross-site", `{"username":"bob","password":"` + bobPW + `","refresh_token":"x"}`, []string{"Sec-Fetch-Site", "cross-site"}, 400},
		} {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				r := k.doRaw("POST", path, tt.body, tt.headers...)
				expect(t, r, tt.status, "invalid_request")
			})
		}
		// Without Content-Length (chunked), the reader's limit decides.
		t.Run(path+" chunked over 8 KiB", func(t *testing.T) {
			req := httptest.NewRequest("POST", path, io.MultiReader(strings.NewReader(`{"refresh_token":"`), strings.NewReader(strings.Repeat("a", 9000)+`"}`)))
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			k.engine.ServeHTTP(w, req)
			ginauthtest.AssertError(t, ginauthtest.Recorded(w), ginauthtest.WantError{Status: 413, Code: "invalid_request"})
		})
	}
}

// doRaw sends body as it is, with Content-Type application/json unless
// headers set another.
func (k *kit) doRaw(method, path, body string, headers ...string) resp {
	k.t.Helper()
	hs := []string{}
	ct := "application/json"
	for i := 0; i+1 < len(headers); i += 2 {
		if http.CanonicalHeaderKey(headers[i]) == "Content-Type" {
			ct = headers[i+1]
			continue
		}
		hs = append(hs, headers[i], headers[i+1])
	}
	return k.doCT(method, path, body, ct, hs...)
}

func TestEmptyPasswordNeverMatches(t *testing.T) {
	k := newKit(t)
	// A hash of the empty password, written straight to the store as a
	// careless import might: login with "" must still fail.
	h, err := bcrypt.GenerateFromPassword(nil, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.users.CreateUser(context.Background(), store.User{Username: "empty", PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	expect(t, k.do("POST", "/auth/login", map[string]string{"username": "empty", "password": ""}), 401, "invalid_credentials")
}

func TestStatelessLogoutKillsRefresh(t *testing.T) {
	k := newKit(t, func(c *kitConfig) { c.Stateless = true })
	tok := k.login("bob", bobPW)
	expect(t, k.do("POST", "/auth/logout", nil, bearer(tok.AccessToken)...), 204, "")
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 401, "invalid_grant")
}

func TestBasicCrossSiteRefused(t *testing.T) {
	k := newKit(t)
	basic := "Basic " + b64std("bob:"+bobPW)
	expect(t, k.do("POST", "/api/me", nil, "Authorization", basic, "Sec-Fetch-Site", "cross-site"), 403, "csrf_failed")
	expect(t, k.do("POST", "/api/me", nil, "Authorization", basic, "Sec-Fetch-Site", "same-origin"), 204, "")
	expect(t, k.do("POST", "/api/me", nil, "Authorization", basic), 204, "") // curl sends no fetch metadata
}

func TestCookieSecureAttribute(t *testing.T) {
	k := newKit(t)
	for _, tt := range []struct {
		name    string
		host    string
		headers []string
		secure  bool
	}{
		{"public host", "api.example.com", nil, true},
		{"plain localhost", "localhost:8080", nil, false},
		{"plain 127.0.0.1", "127.0.0.1:8080", nil, false},
		{"loopback behind a proxy", "127.0.0.1:8080", []string{"X-Forwarded-Proto", "https"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := k.doHost(tt.host, "POST", "/auth/login", `{"username":"bob","password":"`+bobPW+`","cookie":true}`, tt.headers...)
			expect(t, r, 200, "")
			for _, c := range r.Result().Cookies() {
				if c.Secure != tt.secure {
					t.Errorf("cookie %s Secure = %v, want %v", c.Name, c.Secure, tt.secure)
				}
				if strings.HasSuffix(c.Name, "authkit_device") {
					// The device cookie's path is the login endpoint's,
					// which __Host- forbids: __Secure- instead.
					if strings.HasPrefix(c.Name, "__Secure-") != tt.secure || !c.HttpOnly || c.Path != "/auth/login" ||
						c.MaxAge != int(ginauth.DefaultDeviceLifetime.Seconds()) || c.SameSite != http.SameSiteStrictMode {
						t.Errorf("device cookie %s: Path %q, HttpOnly %v, Max-Age %d, SameSite %v", c.Name, c.Path, c.HttpOnly, c.MaxAge, c.SameSite)
					}
					continue
				}
				// Secure cookies carry the __Host- prefix; browsers drop it
				// on plain HTTP, so loopback development keeps plain names.
				if strings.HasPrefix(c.Name, "__Host-") != tt.secure {
					t.Errorf("cookie %s: __Host- prefix = %v, want %v", c.Name, !tt.secure, tt.secure)
				}
				if c.MaxAge != 0 || !c.Expires.IsZero() {
					t.Errorf("cookie %s is persistent (Max-Age %d), want a session cookie", c.Name, c.MaxAge)
				}
			}
		})
	}
}

func TestSessionFixation(t *testing.T) {
	k := newKit(t)
	first := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	old := cookieValue(first, "__Host-authkit_session")
	// Log in again presenting the old cookie (as a planted one would be):
	// the server must not adopt it.
	second := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true},
		"Cookie", "__Host-authkit_session="+old)
	if v := cookieValue(second, "__Host-authkit_session"); v == "" || v == old {
		t.Fatalf("login kept the presented session id")
	}
}

func cookieValue(r resp, name string) string {
	for _, c := range r.Result().Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestLogoutClearsOnlyCookieSessions: logout clears the cookies of a
// cookie session, and sends no Set-Cookie to a Bearer client.
func TestLogoutClearsOnlyCookieSessions(t *testing.T) {
	k := newKit(t)
	tok := k.login("bob", bobPW)
	r := k.do("POST", "/auth/logout", nil, bearer(tok.AccessToken)...)
	expect(t, r, 204, "")
	if sc := r.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("bearer logout sent Set-Cookie %q", sc)
	}
	login := k.do("POST", "/auth/login", map[string]any{"username": "bob", "password": bobPW, "cookie": true})
	r = k.do("POST", "/auth/logout", nil, "Cookie", "__Host-authkit_session="+cookieValue(login, "__Host-authkit_session"),
		"X-CSRF-Token", login.str("csrf_token"))
	expect(t, r, 204, "")
	cleared := 0
	for _, c := range r.Result().Cookies() {
		if c.MaxAge < 0 && c.Value == "" {
			cleared++
		}
	}
	if cleared != 2 {
		t.Errorf("cookie logout cleared %d cookies, want 2: %q", cleared, r.Header().Values("Set-Cookie"))
	}
}
