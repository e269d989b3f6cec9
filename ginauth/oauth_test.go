package ginauth_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/tokens"
)

// form posts an application/x-www-form-urlencoded body.
func (k *kit) form(path string, v url.Values, headers ...string) resp {
	k.t.Helper()
	return k.doCT("POST", path, v.Encode(), "application/x-www-form-urlencoded", headers...)
}

// expectOAuth checks an RFC 6749 §5.2 error: status, error code, a
// description, no-store, and no other member.
func expectOAuth(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.Code != status || r.str("error") != code || r.str("error_description") == "" || len(r.body) != 2 {
		t.Errorf("got %d %s, want %d with error %q and a description only", r.Code, r.Body, status, code)
	}
	if r.Header().Get("Cache-Control") != "no-store" || r.Header().Get("Pragma") != "no-cache" {
		t.Errorf("error response is cacheable: %v", r.Header())
	}
}

func TestTokenEndpoint(t *testing.T) {
	k := newKit(t)
	var tok ginauth.TokenResponse
	t.Run("PasswordGrant", func(t *testing.T) {
		r := k.form("/oauth/token", url.Values{"grant_type": {"password"}, "username": {"Bob"}, "password": {bobPW}, "scope": {"ignored"}})
		expect(t, r, 200, "")
		if r.Header().Get("Cache-Control") != "no-store" || r.str("token_type") != "Bearer" || r.str("refresh_token") == "" {
			t.Fatalf("success is not RFC 6749 §5.1: %v %s", r.Header(), r.Body)
		}
		tok = ginauth.TokenResponse{AccessToken: r.str("access_token"), RefreshToken: r.str("refresh_token")}
		expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
	})
	t.Run("RefreshGrant", func(t *testing.T) {
		r := k.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		expect(t, r, 200, "")
		// The JSON endpoint and the token endpoint share the chain.
		k.clock.Advance(time.Minute)
		expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": r.str("refresh_token")}), 200, "")
		expectOAuth(t, k.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}), 400, "invalid_grant")
		// That was reuse: the session is over.
		expect(t, k.do("GET", "/api/me", nil, bearer(r.str("access_token"))...), 401, "invalid_token")
	})
	for _, tc := range []struct {
		name   string
		form   url.Values
		ct     string
		status int
		code   string
	}{
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}}, "", 400, "invalid_grant"},
		{"unknown user", url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"wrong-password"}}, "", 400, "invalid_grant"},
		{"no password", url.Values{"grant_type": {"password"}, "username": {"alice"}}, "", 400, "invalid_request"},
		{"no grant type", url.Values{"username": {"alice"}}, "", 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"authorization_code"}}, "", 400, "unsupported_grant_type"},
		{"client_credentials without a client", url.Values{"grant_type": {"client_credentials"}}, "", 401, "invalid_client"},
		{"garbage refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt2.x"}}, "", 400, "invalid_grant"},
		{"no refresh token", url.Values{"grant_type": {"refresh_token"}}, "", 400, "invalid_request"},
		{"repeated parameter", url.Values{"grant_type": {"password", "password"}}, "", 400, "invalid_request"},
		{"JSON body", url.Values{"grant_type": {"password"}}, "application/json", 400, "invalid_request"},
		{"over 8 KiB", url.Values{"grant_type": {"password"}, "username": {strings.Repeat("a", 9000)}}, "", 413, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.ct
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			expectOAuth(t, k.doCT("POST", "/oauth/token", tc.form.Encode(), ct, from("203.0.113.50")...), tc.status, tc.code)
		})
	}
	t.Run("Throttled", func(t *testing.T) {
		wrong := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}}
		for range ginauth.DefaultPairLimit {
			expectOAuth(t, k.form("/oauth/token", wrong, from("203.0.113.9")...), 400, "invalid_grant")
		}
		r := k.form("/oauth/token", wrong, from("203.0.113.9")...)
		expectOAuth(t, r, 429, "too_many_attempts")
		if r.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
}

func TestTokenEndpointClients(t *testing.T) {
	k := newKit(t, func(c *kitConfig) {
		c.Clients = []ginauth.Client{{ID: "cli", Secret: "s3cret:+/"}, {ID: "spa"}}
	})
	grant := url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {bobPW}}
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range grant {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	basic := func(id, secret string) []string {
		return []string{"Authorization", "Basic " + b64std(url.QueryEscape(id)+":"+url.QueryEscape(secret))}
	}
	r := k.form("/oauth/token", grant)
	expectOAuth(t, r, 401, "invalid_client")
	if got := r.Header().Get("WWW-Authenticate"); got != `Basic realm="`+testRealm+`", charset="UTF-8"` {
		t.Errorf("invalid_client challenge = %q", got)
	}
	expectOAuth(t, k.form("/oauth/token", grant, basic("cli", "wrong")...), 401, "invalid_client")
	expectOAuth(t, k.form("/oauth/token", grant, basic("other", "s3cret:+/")...), 401, "invalid_client")
	expect(t, k.form("/oauth/token", grant, basic("cli", "s3cret:+/")...), 200, "")
	expect(t, k.form("/oauth/token", with(url.Values{"client_id": {"cli"}, "client_secret": {"s3cret:+/"}})), 200, "")
	expect(t, k.form("/oauth/token", with(url.Values{"client_id": {"spa"}})), 200, "")
	expectOAuth(t, k.form("/oauth/token", with(url.Values{"client_secret": {"s3cret:+/"}}), basic("cli", "s3cret:+/")...), 400, "invalid_request")
	expectOAuth(t, k.form("/oauth/revoke", url.Values{"token": {"x"}}), 401, "invalid_client")
}

func TestRevokeEndpoint(t *testing.T) {
	k := newKit(t)
	for name, which := range map[string]func(ginauth.TokenResponse) string{
		"refresh token": func(t ginauth.TokenResponse) string { return t.RefreshToken },
		"access token":  func(t ginauth.TokenResponse) string { return t.AccessToken },
	} {
		t.Run(name, func(t *testing.T) {
			tok := k.login("bob", bobPW)
			r := k.form("/oauth/revoke", url.Values{"token": {which(tok)}, "token_type_hint": {"refresh_token"}})
			if r.Code != 200 || r.Body.Len() != 0 {
				t.Fatalf("revoke: %d %s", r.Code, r.Body)
			}
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
			expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 401, "invalid_grant")
			// Again, and for tokens that mean nothing: 200 (RFC 7009 §2.2).
			for _, again := range []string{which(tok), "garbage", "rt2.a.b.c.d.e"} {
				if r := k.form("/oauth/revoke", url.Values{"token": {again}}); r.Code != 200 {
					t.Errorf("revoke %.12q: %d %s", again, r.Code, r.Body)
				}
			}
		})
	}
	expectOAuth(t, k.form("/oauth/revoke", url.Values{}), 400, "invalid_request")
}

// TestAuthenticateThenEnforce: Authenticate never answers; a public page
// sees who is logged in, and the checks after it answer from what it
// found, without checking the credential twice.
func TestAuthenticateThenEnforce(t *testing.T) {
	k := newKit(t)
	tok := k.login("alice", alicePW)
	for _, tc := range []struct {
		name    string
		headers []string
		want    any
	}{
		{"anonymous", nil, nil},
		{"logged in", bearer(tok.AccessToken), "alice"},
		{"invalid token", bearer("a.b.c"), nil},
		{"malformed header", []string{"Authorization", "Bearer a b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := k.do("GET", "/whoami", nil, tc.headers...)
			expect(t, r, 200, "")
			if r.body["username"] != tc.want {
				t.Errorf("whoami = %v, want %v", r.body["username"], tc.want)
			}
		})
	}
	before := k.trips.n.Load()
	expect(t, k.do("GET", "/api/admin/stats", nil, bearer(tok.AccessToken)...), 200, "")
	if n := k.trips.n.Load() - before; n != 1 {
		t.Errorf("%d store round trips through Authenticate, Required and RequireRoles, want 1", n)
	}
	expect(t, k.do("GET", "/api/me", nil, bearer("a.b.c")...), 401, "invalid_token")
	expect(t, k.do("GET", "/api/me", nil), 401, "authentication_required")
}

// TestOAuthCrossSite: a form post needs no CORS preflight, so the token
// and revocation endpoints refuse what a browser marks cross-site, as the
// JSON endpoints do; every other Fetch Metadata value, or none, passes.
func TestOAuthCrossSite(t *testing.T) { forEachKit(t, testOAuthCrossSite) }

func testOAuthCrossSite(t *testing.T, newK kitMaker) {
	k := newK(t)
	for _, tc := range []struct {
		name   string
		site   []string // the Sec-Fetch-Site header, if any
		status int
	}{
		{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, 400},
		{"same-site", []string{"Sec-Fetch-Site", "same-site"}, 200},
		{"same-origin", []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"none", []string{"Sec-Fetch-Site", "none"}, 200},
		{"absent", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := k.form("/oauth/token", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {bobPW}}, tc.site...)
			if tc.status == 400 {
				expectOAuth(t, r, 400, "invalid_request")
			} else {
				expect(t, r, 200, "")
			}

			tok := k.login("bob", bobPW)
			r = k.form("/oauth/revoke", url.Values{"token": {tok.RefreshToken}}, tc.site...)
			if tc.status == 400 {
				expectOAuth(t, r, 400, "invalid_request")
				// Nothing was revoked.
				expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
				return
			}
			expect(t, r, 200, "")
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 401, "invalid_token")
		})
	}
}

// TestRevokeExpiredTokenWindow: revocation by access token follows the
// rule of /auth/logout. Within Refresh.ExpiredTokenWindow of its expiry the token
// still ends its session; past it (a token found in a log, say) the
// answer is 200 (RFC 7009 §2.2) and the session lives on.
func TestRevokeExpiredTokenWindow(t *testing.T) { forEachKit(t, testRevokeExpiredTokenWindow) }

func testRevokeExpiredTokenWindow(t *testing.T, newK kitMaker) {
	for _, tc := range []struct {
		name    string
		age     time.Duration // how long after the login the token is revoked
		revoked bool
	}{
		{"within the window", tokens.DefaultTTL + time.Minute, true},
		{"past the window", tokens.DefaultTTL + ginauth.DefaultExpiredTokenWindow + time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newK(t)
			tok := k.login("bob", bobPW)
			k.clock.Advance(tc.age)
			r := k.form("/oauth/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
			if r.Code != 200 || r.Body.Len() != 0 {
				t.Fatalf("revoke: %d %s", r.Code, r.Body)
			}
			refresh := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
			if tc.revoked {
				expect(t, refresh, 401, "invalid_grant")
			} else {
				expect(t, refresh, 200, "")
			}
		})
	}
}
