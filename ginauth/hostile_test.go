package ginauth_test

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
)

// hostileRequest is one request an attacker might send, with the answer
// the status contract gives it.
type hostileRequest struct {
	name         string
	method, path string
	body         string
	headers      []string
	status       int
	code         string
}

// hostileRequests builds the table against a kit with live sessions, so
// that forged variants of real credentials are among the rows.
func hostileRequests(k *kit) []hostileRequest {
	tok := k.login("bob", bobPW)
	parts := strings.Split(tok.AccessToken, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	rt := strings.Split(tok.RefreshToken, ".")
	enc := base64.RawURLEncoding.EncodeToString
	noneAlg := enc([]byte(`{"alg":"none","typ":"at+jwt","kid":"k1"}`)) + "." + parts[1] + "."
	critHeader := enc([]byte(strings.Replace(string(header), `{`, `{"crit":["exp"],`, 1))) + "." + parts[1] + "." + parts[2]
	longLived := k.foreignToken(testSecret, "k1", "authkit-test", "api", tokens.WithTTL(10*365*24*time.Hour))
	big := strings.Repeat("A", 9<<10)
	bearerOf := func(s string) []string { return []string{"Authorization", "Bearer " + s} }
	basicOf := func(s string) []string { return []string{"Authorization", "Basic " + s} }
	login := func(body string) hostileRequest {
		return hostileRequest{method: "POST", path: "/auth/login", body: body}
	}
	refresh := func(body string) hostileRequest {
		return hostileRequest{method: "POST", path: "/auth/refresh", body: body}
	}
	me := func(h ...string) hostileRequest { return hostileRequest{method: "GET", path: "/api/me", headers: h} }
	rows := []struct {
		name string
		req  hostileRequest
		st   int
		code string
	}{
		// Authorization headers.
		{"no credentials", me(), 401, "authentication_required"},
		{"empty Authorization", me("Authorization", ""), 400, "invalid_request"},
		{"spaces only", me("Authorization", "   "), 400, "invalid_request"},
		{"unknown scheme", me("Authorization", "Digest foo=bar"), 401, "authentication_required"},
		{"scheme only", me("Authorization", "Bearer"), 400, "invalid_request"},
		{"bearer empty", me("Authorization", "Bearer "), 400, "invalid_request"},
		{"bearer two tokens", me("Authorization", "Bearer a b"), 400, "invalid_request"},
		{"bearer lower-case scheme", me("Authorization", "bearer "+tok.AccessToken), 200, ""},
		{"bearer garbage", me(bearerOf("garbage")...), 401, "invalid_token"},
		{"bearer three dots", me(bearerOf("a.b.c")...), 401, "invalid_token"},
		{"bearer four parts", me(bearerOf(tok.AccessToken + ".x")...), 401, "invalid_token"},
		{"bearer bad characters", me(bearerOf("a.b.c!")...), 400, "invalid_request"},
		{"bearer non-UTF-8", me("Authorization", "Bearer \xff\xfe"), 400, "invalid_request"},
		{"bearer control character", me("Authorization", "Bearer a\x01b"), 400, "invalid_request"},
		{"bearer over the cap", me(bearerOf(big)...), 400, "invalid_request"},
		{"two Authorization headers", me("Authorization", "Bearer "+tok.AccessToken, "Authorization", "Bearer "+tok.AccessToken), 400, "invalid_request"},
		{"alg none", me(bearerOf(noneAlg)...), 401, "invalid_token"},
		{"signature stripped", me(bearerOf(parts[0] + "." + parts[1] + ".")...), 401, "invalid_token"},
		{"signature of another token", me(bearerOf(parts[0] + "." + enc([]byte(`{"sub":"alice"}`)) + "." + parts[2])...), 401, "invalid_token"},
		{"crit header", me(bearerOf(critHeader)...), 401, "invalid_token"},
		{"ten-year lifetime", me(bearerOf(longLived)...), 401, "invalid_token"},
		{"foreign secret", me(bearerOf(k.foreignToken(strings.Repeat("x", 40), "k1", "authkit-test", "api"))...), 401, "invalid_token"},
		{"foreign issuer", me(bearerOf(k.foreignToken(testSecret, "k1", "evil", "api"))...), 401, "invalid_token"},
		{"foreign audience", me(bearerOf(k.foreignToken(testSecret, "k1", "authkit-test", "other"))...), 401, "invalid_token"},
		{"unknown kid", me(bearerOf(k.foreignToken(testSecret, "k9", "authkit-test", "api"))...), 401, "invalid_token"},
		{"refresh token as bearer", me(bearerOf(tok.RefreshToken)...), 401, "invalid_token"},
		{"basic not base64", me(basicOf("!!!")...), 400, "invalid_request"},
		{"basic no colon", me(basicOf(b64std("bob"))...), 400, "invalid_request"},
		{"basic empty user", me(basicOf(b64std(":" + bobPW))...), 400, "invalid_request"},
		{"basic non-UTF-8", me(basicOf(base64.StdEncoding.EncodeToString([]byte("bob:\xff")))...), 400, "invalid_request"},
		{"basic wrong password", me(basicOf(b64std("bob:wrong-password"))...), 401, "invalid_credentials"},
		{"basic unknown user", me(basicOf(b64std("nobody:wrong-password"))...), 401, "invalid_credentials"},
		{"basic braces in name", me(basicOf(b64std("{u:bob}:x"))...), 401, "invalid_credentials"},
		{"basic 1 KiB name", me(basicOf(b64std(strings.Repeat("b", 1024) + ":x"))...), 401, "invalid_credentials"},
		{"basic over the cap", me(basicOf(big)...), 400, "invalid_request"},
		{"cookie garbage", me("Cookie", "__Host-authkit_session=garbage"), 401, "invalid_token"},
		{"cookie forged secret", me("Cookie", "__Host-authkit_session="+enc([]byte("bob"))+"."+enc(make([]byte, 32))), 401, "invalid_token"},
		{"cookie other user's name", me("Cookie", "__Host-authkit_session="+enc([]byte("alice"))+"."+enc(make([]byte, 32))), 401, "invalid_token"},
		{"cookie unsafe without CSRF", hostileRequest{method: "POST", path: "/api/me", headers: []string{"Cookie", "__Host-authkit_session=" + enc([]byte("bob")) + "." + enc(make([]byte, 32))}}, 403, "csrf_failed"},
		{"cross-site basic", hostileRequest{method: "POST", path: "/api/me", headers: append(basicOf(b64std("bob:"+bobPW)), "Sec-Fetch-Site", "cross-site")}, 403, "csrf_failed"},
		{"role escalation", hostileRequest{method: "GET", path: "/api/admin/stats", headers: bearerOf(tok.AccessToken)}, 403, "forbidden"},
		{"all-roles escalation", hostileRequest{method: "GET", path: "/api/both", headers: bearerOf(tok.AccessToken)}, 403, "forbidden"},
		// Login bodies.
		{"login empty body", login(""), 400, "invalid_request"},
		{"login null", login("null"), 400, "invalid_request"},
		{"login array", login(`[]`), 400, "invalid_request"},
		{"login string", login(`"bob"`), 400, "invalid_request"},
		{"login two objects", login(`{"username":"bob","password":"x"}{}`), 400, "invalid_request"},
		{"login truncated", login(`{"username":"bob"`), 400, "invalid_request"},
		{"login missing password", login(`{"username":"bob"}`), 400, "invalid_request"},
		{"login empty username", login(`{"username":"","password":"x"}`), 400, "invalid_request"},
		{"login number password", login(`{"username":"bob","password":12345678}`), 400, "invalid_request"},
		{"login object username", login(`{"username":{"$ne":null},"password":"x"}`), 400, "invalid_request"},
		{"login null password", login(`{"username":"bob","password":null}`), 400, "invalid_request"},
		{"login 9 KiB", login(`{"username":"` + big + `","password":"x"}`), 413, "invalid_request"},
		{"login wrong password", login(`{"username":"bob","password":"wrong-password"}`), 401, "invalid_credentials"},
		{"login empty password", login(`{"username":"bob","password":""}`), 401, "invalid_credentials"},
		{"login 73-byte password", login(`{"username":"bob","password":"` + strings.Repeat("p", 73) + `"}`), 401, "invalid_credentials"},
		{"login NUL in name", login(`{"username":"bob\u0000","password":"` + bobPW + `"}`), 401, "invalid_credentials"},
		{"login hash tag in name", login(`{"username":"{u:bob}","password":"` + bobPW + `"}`), 401, "invalid_credentials"},
		{"login invalid UTF-8", login("{\"username\":\"bob\",\"password\":\"\xff\xfe\"}"), 401, "invalid_credentials"},
		{"login text/plain", hostileRequest{method: "POST", path: "/auth/login", body: `{"username":"bob","password":"x"}`, headers: []string{"Content-Type", "text/plain"}}, 400, "invalid_request"},
		{"login form", hostileRequest{method: "POST", path: "/auth/login", body: "username=bob&password=x", headers: []string{"Content-Type", "application/x-www-form-urlencoded"}}, 400, "invalid_request"},
		{"login cross-site", hostileRequest{method: "POST", path: "/auth/login", body: `{"username":"bob","password":"` + bobPW + `"}`, headers: []string{"Sec-Fetch-Site", "cross-site"}}, 400, "invalid_request"},
		// Refresh bodies.
		{"refresh empty body", refresh(""), 400, "invalid_request"},
		{"refresh missing token", refresh(`{}`), 400, "invalid_request"},
		{"refresh number", refresh(`{"refresh_token":1}`), 400, "invalid_request"},
		{"refresh garbage", refresh(`{"refresh_token":"garbage"}`), 401, "invalid_grant"},
		{"refresh old format", refresh(`{"refresh_token":"rt1.Ym9i.AAAA.AAAA"}`), 401, "invalid_grant"},
		{"refresh access token", refresh(`{"refresh_token":"` + tok.AccessToken + `"}`), 401, "invalid_grant"},
		{"refresh forged seq", refresh(`{"refresh_token":"` + strings.Join([]string{rt[0], rt[1], rt[2], "7", rt[4], rt[5]}, ".") + `"}`), 401, "invalid_grant"},
		{"refresh huge seq", refresh(`{"refresh_token":"` + strings.Join([]string{rt[0], rt[1], rt[2], "99999999999999999999999", rt[4], rt[5]}, ".") + `"}`), 401, "invalid_grant"},
		{"refresh negative seq", refresh(`{"refresh_token":"` + strings.Join([]string{rt[0], rt[1], rt[2], "-1", rt[4], rt[5]}, ".") + `"}`), 401, "invalid_grant"},
		{"refresh 9 KiB", refresh(`{"refresh_token":"` + big + `"}`), 413, "invalid_request"},
		// Logout.
		{"logout garbage token", hostileRequest{method: "POST", path: "/auth/logout", headers: bearerOf("a.b.c")}, 401, "invalid_token"},
		{"logout forged token", hostileRequest{method: "POST", path: "/auth/logout", headers: bearerOf(noneAlg)}, 401, "invalid_token"},
		{"logout-all no credentials", hostileRequest{method: "POST", path: "/auth/logout-all"}, 401, "authentication_required"},
	}
	out := make([]hostileRequest, len(rows))
	for i, r := range rows {
		out[i] = r.req
		out[i].name, out[i].status, out[i].code = r.name, r.st, r.code
	}
	return out
}

// TestHostileRequests sends each row and checks its answer against the
// status contract: no panic, no 5xx, and 200 only for the one row that
// carries a valid credential.
func TestHostileRequests(t *testing.T) {
	k := newKit(t)
	rows := hostileRequests(k)
	if len(rows) < 60 {
		t.Fatalf("%d hostile requests, want at least 60", len(rows))
	}
	for i, h := range rows {
		t.Run(h.name, func(t *testing.T) {
			// Each row from its own address: the throttle must not decide
			// the answers of later rows.
			headers := append(from("10.0."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250+1)), h.headers...)
			r := k.doHost("example.com", h.method, h.path, h.body, headers...)
			if r.Code >= 500 {
				t.Fatalf("%d %s: a hostile request must never get a 5xx", r.Code, r.Body)
			}
			if r.Code == 200 && h.status != 200 {
				t.Fatalf("200 for a hostile request: %s", r.Body)
			}
			expect(t, r, h.status, h.code)
		})
	}
}
