package ginauth

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// FuzzTokenResponseJSON holds appendTokenResponse, writeTokenResponse's
// shortcut, to encoding/json: whatever it encodes, it encodes as
// json.Marshal does, and it encodes the responses of a real login. The
// seeds include strings on both sides of the shortcut.
func FuzzTokenResponseJSON(f *testing.F) {
	for _, tc := range []struct {
		r     TokenResponse
		plain bool
	}{
		{TokenResponse{AccessToken: "eyJh.eyJz.c2ln", TokenType: "Bearer", ExpiresIn: 900,
			RefreshToken: "rt3.YWxpY2U.42PxW1UD8A.1.V9KEA65ppk1k-w16bAaM.1-1767322745.fTucY_ztxKH8XN", DeviceToken: "dv1.x_y-z"}, true},
		{TokenResponse{AccessToken: "a", TokenType: "Bearer", ExpiresIn: 3600, Scope: "read write:all ~!#$%'()*+,-./:;=?@[]^_`{|}"}, true},
		{TokenResponse{}, true},
		{TokenResponse{ExpiresIn: -1 << 62}, true},
		{TokenResponse{AccessToken: `a"b`}, false},
		{TokenResponse{AccessToken: `a\b`}, false},
		{TokenResponse{Scope: "<script>"}, false},
		{TokenResponse{Scope: "a&b"}, false},
		{TokenResponse{RefreshToken: "a\nb"}, false},
		{TokenResponse{DeviceToken: "\x7f"}, false},
		{TokenResponse{TokenType: "é"}, false},
		{TokenResponse{Scope: "\u2028"}, false},
		{TokenResponse{Scope: "\xff"}, false},
	} {
		want, err := json.Marshal(tc.r)
		if err != nil {
			f.Fatal(err)
		}
		got, ok := appendTokenResponse(nil, &tc.r)
		if ok != tc.plain || ok && string(got) != string(want) {
			f.Errorf("appendTokenResponse(%+v) = %s, %v; want %s, %v", tc.r, got, ok, want, tc.plain)
		}
		f.Add(tc.r.AccessToken, tc.r.TokenType, tc.r.ExpiresIn, tc.r.RefreshToken, tc.r.Scope, tc.r.DeviceToken)
	}
	f.Fuzz(func(t *testing.T, access, typ string, expires int, refresh, scope, device string) {
		r := TokenResponse{AccessToken: access, TokenType: typ, ExpiresIn: expires, RefreshToken: refresh, Scope: scope, DeviceToken: device}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := appendTokenResponse([]byte("prefix"), &r); ok && string(got) != "prefix"+string(want) {
			t.Fatalf("appendTokenResponse(%+v) = %s, want %s", r, got, want)
		}
		// What the client receives, whichever way it went.
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		writeTokenResponse(c, r)
		c.Writer.WriteHeaderNow()
		if w.Code != 200 || w.Body.String() != string(want) || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("writeTokenResponse(%+v): %d %q %s, want 200 %s", r, w.Code, w.Header(), w.Body, want)
		}
	})
}

// TestTokenResponseHeaders: the response writeTokenResponse writes has
// the status, headers and body of the c.JSON it stands in for.
func TestTokenResponseHeaders(t *testing.T) {
	r := TokenResponse{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 900, RefreshToken: "rt3.x"}
	answer := func(write func(*gin.Context)) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		write(c)
		return w
	}
	got := answer(func(c *gin.Context) { writeTokenResponse(c, r) })
	want := answer(func(c *gin.Context) { c.JSON(200, r) })
	if got.Code != want.Code || got.Body.String() != want.Body.String() || len(got.Header()) != len(want.Header()) {
		t.Fatalf("writeTokenResponse: %d %q %s; c.JSON: %d %q %s", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
	}
	for k, v := range want.Header() {
		if len(got.Header()[k]) != len(v) || got.Header().Get(k) != v[0] {
			t.Errorf("header %s: %q, want %q", k, got.Header()[k], v)
		}
	}
}
