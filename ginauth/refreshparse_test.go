package ginauth

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/store"
)

// parseRefreshTokenRef is parseRefreshToken as it was before it stopped
// allocating: the reference FuzzParseRefreshToken holds it to.
func (a *Auth) parseRefreshTokenRef(tok string) (refreshToken, error) {
	rest, ok := strings.CutPrefix(tok, refreshPrefix)
	v2 := false
	if !ok {
		rest, ok = strings.CutPrefix(tok, refreshPrefixV2)
		v2 = true
	}
	parts := strings.Split(rest, ".")
	if !ok || v2 && len(parts) != 5 || !v2 && len(parts) != 6 {
		return refreshToken{}, errBadFormat
	}
	user, err1 := b64.DecodeString(parts[0])
	id, err2 := b64.DecodeString(parts[1])
	seq, err3 := strconv.ParseUint(parts[2], 10, 64)
	secret, err4 := b64.DecodeString(parts[3])
	tag, err5 := b64.DecodeString(parts[len(parts)-1])
	var sid store.Digest
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil || len(id) != len(sid) ||
		len(secret) != secretLen || strconv.FormatUint(seq, 10) != parts[2] ||
		store.ValidateUsername(string(user)) != nil {
		return refreshToken{}, errBadFormat
	}
	copy(sid[:], id)
	t := refreshToken{username: string(user), sid: sid, seq: seq, raw: tok, auth: authContext{methods: amrPwd}}
	var want [tagLen]byte
	if v2 {
		t.linked = len(tok)
		a.refreshTagV2(&want, t.username, sid, seq)
	} else {
		auth, ok := parseAuthContextRef(parts[4])
		if !ok {
			return refreshToken{}, errBadFormat
		}
		t.auth = auth
		t.linked = len(refreshPrefix) + len(parts[0]) + len(parts[1]) + len(parts[2]) + len(parts[3]) + 3
		a.refreshTag(&want, t.username, sid, seq, auth)
	}
	if !hmac.Equal(tag, want[:]) {
		return refreshToken{}, fmt.Errorf("%w: refresh token tag", errBadFormat)
	}
	return t, nil
}

// parseAuthContextRef is parseAuthContext as it was, for the reference.
func parseAuthContextRef(s string) (authContext, bool) {
	m, t, ok := strings.Cut(s, "-")
	mv, err1 := strconv.ParseUint(m, 10, 8)
	tv, err2 := strconv.ParseInt(t, 10, 64)
	c := authContext{methods: amrSet(mv), at: tv}
	if !ok || err1 != nil || err2 != nil || tv < 0 || string(c.appendTo(nil)) != s ||
		mv >= 1<<len(amrNames) {
		return authContext{}, false
	}
	return c, true
}

// checkParse fails t unless parseRefreshToken and the reference agree on
// tok: both accept it with every field equal, or both refuse it with the
// same error.
func checkParse(t *testing.T, a *Auth, tok string) (accepted bool) {
	t.Helper()
	got, err := a.parseRefreshToken(tok)
	want, wantErr := a.parseRefreshTokenRef(tok)
	if got != want || (err == nil) != (wantErr == nil) ||
		err != nil && (err.Error() != wantErr.Error() || !errors.Is(err, errBadFormat)) {
		t.Fatalf("parseRefreshToken(%q)\n = %+v, %v\nwant %+v, %v", tok, got, err, want, wantErr)
	}
	return err == nil
}

// tagged is a token of the given parts whose tag is right whenever the
// parts decode at all, however they are encoded: so that the fuzzer
// reaches the accepting side with parts that are not as the kit writes
// them (a '\n' inside base64, a seq with a leading zero, …).
func (a *Auth) tagged(v2 bool, user, id, seq, secret, auth string) string {
	u, _ := b64.DecodeString(user)
	var sid store.Digest
	d, _ := b64.DecodeString(id)
	copy(sid[:], d)
	n, _ := strconv.ParseUint(seq, 10, 64)
	var tag [tagLen]byte
	prefix := refreshPrefix
	if v2 {
		prefix = refreshPrefixV2
		a.refreshTagV2(&tag, string(u), sid, n)
	} else {
		m, at, _ := strings.Cut(auth, "-")
		mv, _ := strconv.ParseUint(m, 10, 8)
		tv, _ := strconv.ParseInt(at, 10, 64)
		a.refreshTag(&tag, string(u), sid, n, authContext{methods: amrSet(mv), at: tv})
		secret += "." + auth
	}
	return prefix + user + "." + id + "." + seq + "." + secret + "." + b64.EncodeToString(tag[:])
}

// refreshSeeds are tokens the kit writes, rt2 and rt3, to mutate.
func refreshSeeds(a *Auth) []string {
	sid := store.HashSecret([]byte("session"))
	secret := []byte(strings.Repeat("s", secretLen))
	var out []string
	for i, user := range []string{"alice", "b", strings.Repeat("u", store.MaxUsernameLen), "x.y_z@example.org"} {
		for _, seq := range []uint64{0, 1, 99, 100, 1 << 40, math.MaxUint64} {
			auth := authContext{methods: amrPwd | amrSet(i)<<1, at: int64(seq >> 1)}
			out = append(out, a.buildRefreshToken(user, sid, seq, secret, auth).raw,
				a.buildRefreshTokenV2(user, sid, seq, secret))
		}
	}
	return out
}

// FuzzParseRefreshToken holds parseRefreshToken to the reference on
// arbitrary strings, on tokens the kit writes with a span replaced, and
// on tokens built of arbitrary parts with a tag that matches them.
func FuzzParseRefreshToken(f *testing.F) {
	a := testTokenAuth()
	seeds := refreshSeeds(a)
	for i, s := range seeds {
		f.Add(s, uint8(i), uint16(0), uint8(0), "", false, "", "", "", "", "")
	}
	b := strings.Repeat("A", 43)
	for _, ins := range []string{"\n", "\r", "\r\n", ".", "0", "+", "-", "=", "A", "AA", "\x00", "é"} {
		for at := range uint16(12) {
			f.Add("", uint8(at), 4+at*7, uint8(at%3), ins, at%2 == 0, "YWxpY2U", b, "7", b, "1-100")
		}
	}
	f.Add("", uint8(0), uint16(0), uint8(0), "", false, "YWxp\nY2U", b[:20]+"\r\n"+b[20:], "0", b+"\n", "1-0")
	f.Add("", uint8(0), uint16(0), uint8(0), "", true, "YWxpY2U\n", b, "18446744073709551615", "\r"+b, "")
	f.Add("", uint8(0), uint16(0), uint8(0), "", false, "YWxpY2U", b, "07", b, "1-100")
	f.Fuzz(func(t *testing.T, tok string, pick uint8, at uint16, cut uint8, ins string,
		v2 bool, user, id, seq, secret, auth string) {
		checkParse(t, a, tok)
		s := seeds[int(pick)%len(seeds)]
		i := min(int(at), len(s))
		j := min(i+int(cut), len(s))
		checkParse(t, a, s[:i]+ins+s[j:])
		built := a.tagged(v2, user, id, seq, secret, auth)
		checkParse(t, a, built)
		checkParse(t, a, built[:min(int(at), len(built))]+ins+built[min(int(at)+int(cut), len(built)):])
	})
}

// TestParseRefreshTokenOddEncodings pins cases the reference accepts
// although the kit never writes them: base64 skips '\r' and '\n', so a
// token with them inside its parts reads as the token without.
func TestParseRefreshTokenOddEncodings(t *testing.T) {
	a := testTokenAuth()
	b := strings.Repeat("A", 43)
	for _, tc := range []struct {
		name   string
		tok    string
		accept bool
	}{
		{"Plain", a.tagged(false, "YWxpY2U", b, "7", b, "1-100"), true},
		{"NewlineInUser", a.tagged(false, "YWxp\nY2U", b, "7", b, "1-100"), true},
		{"CRLFInID", a.tagged(false, "YWxpY2U", b[:20]+"\r\n"+b[20:], "7", b, "1-100"), true},
		{"NewlineAfterSecret", a.tagged(true, "YWxpY2U", b, "7", b+"\n", ""), true},
		{"ShortID", a.tagged(false, "YWxpY2U", b[:42], "7", b, "1-100"), false},
		{"LongSecret", a.tagged(false, "YWxpY2U", b, "7", b+"A", "1-100"), false},
		{"LeadingZeroSeq", a.tagged(false, "YWxpY2U", b, "07", b, "1-100"), false},
		{"PlusSeq", a.tagged(false, "YWxpY2U", b, "+7", b, "1-100"), false},
		{"MaxSeq", a.tagged(false, "YWxpY2U", b, "18446744073709551615", b, "1-100"), true},
		{"OverflowSeq", a.tagged(false, "YWxpY2U", b, "18446744073709551616", b, "1-100"), false},
		{"LongUser", a.tagged(false, b64.EncodeToString([]byte(strings.Repeat("u", store.MaxUsernameLen+1))), b, "7", b, "1-100"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkParse(t, a, tc.tok); got != tc.accept {
				t.Fatalf("accepted = %v, want %v", got, tc.accept)
			}
		})
	}
}

func BenchmarkParseRefreshToken(b *testing.B) {
	a := testTokenAuth()
	tok := a.buildRefreshToken("alice", store.HashSecret([]byte("session")), 1234,
		[]byte(strings.Repeat("s", secretLen)), authContext{methods: amrPwd, at: 1767322800}).raw
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.parseRefreshToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStackEncodings holds sessionClaim and sessionPrefix, which encode
// into arrays, to the encoders' own strings.
func TestStackEncodings(t *testing.T) {
	for _, id := range []store.Digest{{}, store.HashSecret([]byte("session")), {0xff, 0xfe, 0xfd, 0xfc}} {
		if got, want := sessionClaim(id), b64.EncodeToString(id[:]); got != want {
			t.Errorf("sessionClaim = %q, want %q", got, want)
		}
		if got, want := sessionPrefix(id), hex.EncodeToString(id[:4]); got != want {
			t.Errorf("sessionPrefix = %q, want %q", got, want)
		}
	}
}
