package ginauth_test

import (
	"strings"
	"testing"
)

// TestStrictLoginBody: member names are exact and sent once, so the
// login cannot be steered by encoding/json's case folding or its
// last-one-wins rule; other members are ignored.
func TestStrictLoginBody(t *testing.T) { forEachKit(t, testStrictLoginBody) }

func testStrictLoginBody(t *testing.T, newK kitMaker) {
	k := newK(t)
	pw := `"password":"` + bobPW + `"`
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"exact", `{"username":"bob",` + pw + `}`, 200, ""},
		{"unknown member ignored", `{"grant_type":"password","username":"bob",` + pw + `,"scope":["a"]}`, 200, ""},
		{"escaped exact name", `{"\u0075sername":"bob",` + pw + `}`, 200, ""},
		{"duplicate only nested", `{"username":"bob",` + pw + `,"extra":{"a":1,"a":2}}`, 200, ""},
		{"repeated username", `{"username":"nobody","username":"bob",` + pw + `}`, 400, "invalid_request"},
		{"repeated password", `{"username":"bob","password":"wrong",` + pw + `}`, 400, "invalid_request"},
		{"repeated unknown member", `{"username":"bob",` + pw + `,"x":1,"x":1}`, 400, "invalid_request"},
		{"repeated escaped", `{"username":"nobody","\u0075sername":"bob",` + pw + `}`, 400, "invalid_request"},
		{"upper case", `{"USERNAME":"bob",` + pw + `}`, 400, "invalid_request"},
		{"title case beside exact", `{"username":"nobody","Username":"bob",` + pw + `}`, 400, "invalid_request"},
		{"Unicode fold", `{"uſername":"bob",` + pw + `}`, 400, "invalid_request"},
		{"case variant password", `{"username":"bob","Password":"` + bobPW + `"}`, 400, "invalid_request"},
		{"case variant cookie", `{"username":"bob",` + pw + `,"Cookie":true}`, 400, "invalid_request"},
		{"two objects", `{"username":"bob",` + pw + `}{}`, 400, "invalid_request"},
		{"null", `null`, 400, "invalid_request"},
		{"unterminated", `{"username":"bob",` + pw, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, k.doRaw("POST", "/auth/login", tc.body), tc.status, tc.code)
		})
	}
}

// TestStrictRefreshBody: "refresh_token" exactly and once.
func TestStrictRefreshBody(t *testing.T) { forEachKit(t, testStrictRefreshBody) }

func testStrictRefreshBody(t *testing.T, newK kitMaker) {
	k := newK(t)
	for _, tc := range []struct {
		name   string
		body   string // $RT stands for a live refresh token
		status int
		code   string
	}{
		{"exact", `{"refresh_token":"$RT"}`, 200, ""},
		{"unknown member ignored", `{"grant_type":"refresh_token","refresh_token":"$RT"}`, 200, ""},
		{"repeated", `{"refresh_token":"rt2.a.b.c.d.e","refresh_token":"$RT"}`, 400, "invalid_request"},
		{"repeated same value", `{"refresh_token":"$RT","refresh_token":"$RT"}`, 400, "invalid_request"},
		{"case variant", `{"Refresh_Token":"$RT"}`, 400, "invalid_request"},
		{"case variant beside exact", `{"refresh_token":"$RT","REFRESH_TOKEN":"x"}`, 400, "invalid_request"},
		{"not an object", `["$RT"]`, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := k.login("bob", bobPW)
			r := k.doRaw("POST", "/auth/refresh", strings.ReplaceAll(tc.body, "$RT", tok.RefreshToken))
			expect(t, r, tc.status, tc.code)
			if tc.status != 200 {
				// The refused body rotated nothing: the token still works.
				expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 200, "")
			}
		})
	}
}
