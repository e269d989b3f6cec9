package tokens

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzAppendClaims holds appendClaims, marshalClaims' shortcut, to
// json.Marshal: whatever it encodes, it encodes as json.Marshal does,
// and it encodes the claims of a typical token. The seeds include claims
// on both sides of the shortcut.
func FuzzAppendClaims(f *testing.F) {
	type seed struct {
		iss, sub, aud, jti, sid, role, amr, acr, client string
		exp, iat, authTime, nanos                       int64
		plain                                           bool
	}
	for _, s := range []seed{
		{"authkit", "alice", "api", "AAAAAAAAAAAAAAAA", "c2lk", "admin", "pwd", "", "", 1767322745, 1767321845, 1767321000, 0, true},
		{"i", "client-1", "a", "j", "", "", "", "", "client-1", 2, 1, 0, 5e8, true},
		{"i", "s", "a", "j", "sid", "", "", "mfa", "", -62135596800, -1, -5, 999999999, true},
		{"i", "s", "a", "j", "sid", "<admin>", "pwd", "", "", 2, 1, 0, 0, false},
		{"i", "s\n", "a", "j", "sid", "", "", "", "", 2, 1, 0, 0, false},
		{"i", "s", "a", "j", "sid", "", "otp", "é", "", 2, 1, 0, 0, false},
		{`"`, "s", "a", "j", "sid", "", "", "", "", 2, 1, 0, 0, false},
	} {
		w := fuzzClaims(s.iss, s.sub, s.aud, s.jti, s.sid, s.role, s.amr, s.acr, s.client, s.exp, s.iat, s.authTime, s.nanos)
		if _, ok := appendClaims(nil, w); ok != s.plain {
			f.Errorf("appendClaims(%+v): ok %v, want %v", w, ok, s.plain)
		}
		f.Add(s.iss, s.sub, s.aud, s.jti, s.sid, s.role, s.amr, s.acr, s.client, s.exp, s.iat, s.authTime, s.nanos)
	}
	f.Fuzz(func(t *testing.T, iss, sub, aud, jti, sid, role, amr, acr, client string, exp, iat, authTime, nanos int64) {
		w := fuzzClaims(iss, sub, aud, jti, sid, role, amr, acr, client, exp, iat, authTime, nanos)
		want, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := appendClaims([]byte("x"), w); ok && string(got) != "x"+string(want) {
			t.Fatalf("appendClaims(%+v) = %s, want %s", w, got[1:], want)
		}
		if got, err := marshalClaims(w); err != nil || string(got) != string(want) {
			t.Fatalf("marshalClaims(%+v) = %s, %v; want %s", w, got, err, want)
		}
	})
}

// fuzzClaims builds wireClaims from fuzzed values: an empty role or amr
// is no list, a zero authTime no auth_time, and nanos (mod a second) the
// fraction of every time, which golang-jwt drops.
func fuzzClaims(iss, sub, aud, jti, sid, role, amr, acr, client string, exp, iat, authTime, nanos int64) *wireClaims {
	nanos %= int64(time.Second)
	w := &wireClaims{
		Issuer: iss, Subject: sub, Audience: aud, ID: jti, SessionID: sid, ACR: acr, ClientID: client,
		ExpiresAt: &jwt.NumericDate{Time: time.Unix(exp, nanos)},
		IssuedAt:  &jwt.NumericDate{Time: time.Unix(iat, nanos)},
	}
	if role != "" {
		w.Roles = []string{role, "user"}
	}
	if amr != "" {
		w.AMR = []string{amr}
	}
	if authTime != 0 {
		w.AuthTime = &jwt.NumericDate{Time: time.Unix(authTime, nanos)}
	}
	return w
}
