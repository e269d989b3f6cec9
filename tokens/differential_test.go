package tokens_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

// The differential tests hold Verify (the lean parser, with and without the
// cache) to VerifyReference (golang-jwt's parser and signature check): for
// every token both must return errors that match the same sentinels below,
// and equal claims, ClientID and Extra (the application claims) included. Both apply the one set of rules of validate.go, so a
// difference is one of parsing or of signature checking; the claim rules are
// held to golang-jwt's Validator by TestClaimRulesMatchValidator.

// verdictErrors are the sentinels whose matches make up a verdict: the
// category, and golang-jwt's own cause.
var verdictErrors = []error{
	tokens.ErrInvalidToken, tokens.ErrMalformed, tokens.ErrSignature, tokens.ErrExpired, tokens.ErrClaims,
	jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenInvalidClaims,
	jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience,
	jwt.ErrTokenInvalidIssuer, jwt.ErrTokenRequiredClaimMissing,
}

// verdict lists the sentinels that err matches, "ok" for nil.
func verdict(err error) string {
	if err == nil {
		return "ok"
	}
	var b strings.Builder
	for _, s := range verdictErrors {
		if errors.Is(err, s) {
			fmt.Fprintf(&b, "[%v]", s)
		}
	}
	return b.String()
}

// diffConfig is one Verifier configuration, as a Verifier without cache
// and one with.
type diffConfig struct {
	name         string
	lean, cached *tokens.Verifier
}

// diffConfigs are verifiers for all three keys at several clocks, around
// the tokens of claimsAt(testNow) and mustIssue (issued at testNow, valid
// for 15 minutes).
func diffConfigs(t testing.TB, k *testKeys) []diffConfig {
	t.Helper()
	var cs []diffConfig
	for _, c := range []struct {
		name  string
		after time.Duration // clock, relative to testNow
		opts  []tokens.Option
	}{
		{name: "now", after: 0},
		{name: "in 15m3s, within leeway", after: tokens.DefaultTTL + 3*time.Second},
		{name: "in 1h, expired", after: time.Hour},
		{name: "4s before", after: -4 * time.Second},
		{name: "1h before", after: -time.Hour},
		{name: "no leeway, 10m, TTL 10m", after: 10 * time.Minute, opts: []tokens.Option{tokens.WithLeeway(0), tokens.WithTTL(10 * time.Minute)}},
	} {
		opts := append([]tokens.Option{tokens.WithClock(clockAt(testNow.Add(c.after)))}, c.opts...)
		cs = append(cs, diffConfig{
			name:   c.name,
			lean:   mustVerifier(t, k.all(), append(opts, tokens.WithCacheSize(0))...),
			cached: mustVerifier(t, k.all(), append(opts, tokens.WithCacheSize(64))...),
		})
	}
	return cs
}

// checkSame verifies token with the reference and with Verify, twice with
// the cache, and fails unless all agree.
func checkSame(t *testing.T, c diffConfig, token string) {
	t.Helper()
	want, wantErr := c.lean.VerifyReference(token)
	got := []struct {
		name   string
		claims *tokens.Claims
		err    error
	}{{name: "lean"}, {name: "cached, first"}, {name: "cached, again"}}
	got[0].claims, got[0].err = c.lean.Verify(token)
	got[1].claims, got[1].err = c.cached.Verify(token)
	got[2].claims, got[2].err = c.cached.Verify(token)
	for _, g := range got {
		if verdict(g.err) != verdict(wantErr) {
			t.Fatalf("%s, %s: %q\nverdict %s: %v\nreference %s: %v", c.name, g.name, token, verdict(g.err), g.err, verdict(wantErr), wantErr)
		}
		if !reflect.DeepEqual(g.claims, want) {
			t.Fatalf("%s, %s: %q\nclaims    %s\nreference %s", c.name, g.name, token, dumpClaims(g.claims), dumpClaims(want))
		}
	}
}

func dumpClaims(c *tokens.Claims) string {
	if c == nil {
		return "nil"
	}
	date := func(d *jwt.NumericDate) string {
		if d == nil {
			return "nil"
		}
		return d.Format(time.RFC3339Nano) + "/" + d.Location().String()
	}
	extra := "nil"
	if c.Extra != nil {
		names := slices.Sorted(maps.Keys(c.Extra))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%q:%q", n, c.Extra[n])
		}
		extra = "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprintf("iss=%q sub=%q aud=%#v exp=%s nbf=%s iat=%s jti=%q sid=%q roles=%#v amr=%#v auth_time=%s acr=%q client_id=%q extra=%s",
		c.Issuer, c.Subject, c.Audience, date(c.ExpiresAt), date(c.NotBefore), date(c.IssuedAt), c.ID, c.SessionID, c.Roles,
		c.AMR, date(c.AuthTime), c.ACR, c.ClientID, extra)
}

// rawSigner signs arbitrary header and claims text, bypassing every JSON
// encoder, with the fixed keys of newTestKeys.
type rawSigner struct{ k *testKeys }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func (r rawSigner) hs(header, claims string) string {
	return r.hsInput(b64(header) + "." + b64(claims))
}

// hsInput signs the signing input as it stands, odd bytes and all.
func (r rawSigner) hsInput(input string) string {
	mac := hmac.New(sha256.New, r.k.hmacSecret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (r rawSigner) ed(header, claims string) string {
	input := b64(header) + "." + b64(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(r.k.edPriv, []byte(input)))
}

// rs signs with RSASSA-PKCS1-v1_5 (RS256), or with PSS (PS256, salt as
// long as the hash) when pss is set.
func (r rawSigner) rs(header, claims string, pss bool) string {
	input := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	if pss {
		sig, err = rsa.SignPSS(rand.Reader, r.k.rsaPriv, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(nil, r.k.rsaPriv, crypto.SHA256, digest[:])
	}
	if err != nil {
		panic(err) // the fixed test key always signs
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

const (
	hsHeader = `{"alg":"HS256","kid":"hs-1","typ":"at+jwt"}`
	edHeader = `{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`
	rsHeader = `{"alg":"RS256","kid":"rs-1","typ":"at+jwt"}`
	psHeader = `{"alg":"PS256","kid":"ps-1","typ":"at+jwt"}`
)

// claimsJSON returns a valid claim set for testNow as JSON text, with extra
// appended inside the object.
func claimsJSON(extra string) string {
	iat := testNow.Unix()
	return fmt.Sprintf(`{"iss":%q,"sub":"user-1","aud":%q,"exp":%d,"iat":%d,"jti":"j","sid":"sess-1","roles":["user"]%s}`,
		testIssuer, testAudience, iat+900, iat, extra)
}

// claimsWith returns a valid claim set for testNow as JSON text in which
// the member name (if present) has the raw JSON value, or is left out when
// value is "".
func claimsWith(name, value string) string {
	iat := testNow.Unix()
	members := []struct{ name, value string }{
		{"iss", fmt.Sprintf("%q", testIssuer)}, {"sub", `"user-1"`}, {"aud", fmt.Sprintf("%q", testAudience)},
		{"exp", fmt.Sprint(iat + 900)}, {"iat", fmt.Sprint(iat)}, {"jti", `"j"`}, {"sid", `"sess-1"`}, {"roles", `["user"]`},
	}
	var parts []string
	found := false
	for _, m := range members {
		if m.name == name {
			found = true
			if value == "" {
				continue
			}
			m.value = value
		}
		parts = append(parts, fmt.Sprintf("%q:%s", m.name, m.value))
	}
	if !found && value != "" {
		parts = append(parts, fmt.Sprintf("%q:%s", name, value))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// differentialClaims are claim sets in edge-case JSON, signed as they are.
func differentialClaims() []string {
	iat := testNow.Unix()
	exp := iat + 900
	cs := []string{
		claimsJSON(""),
		// Whole documents.
		"null", " null ", "{}", "[]", `""`, "1", "true", "", " ", "{", "}", "nul", "{}x", "{} {}", "\ufeff{}",
		" \t\r\n" + claimsJSON("") + " \t\r\n",
		claimsJSON("") + "x", claimsJSON("") + ",", claimsJSON(",") /* trailing comma */, strings.Replace(claimsJSON(""), ",", " ", 1),
		strings.ReplaceAll(claimsJSON(""), ":", " : "), strings.ReplaceAll(claimsJSON(""), ",", "\n,\t"),
		claimsJSON(`/* comment */`), claimsJSON(`,"x":1 // comment`),
		// Duplicate members: golang-jwt decides.
		claimsJSON(`,"sub":"other"`), claimsJSON(`,"sub":null`), claimsJSON(`,"SUB":"other"`), claimsJSON(`,"Sub":null`),
		claimsJSON(`,"roles":[null]`), claimsJSON(`,"roles":[null,null,"x"]`), claimsJSON(`,"roles":null`), claimsJSON(`,"roles":[]`),
		claimsJSON(`,"aud":null`), claimsJSON(`,"aud":"other"`), claimsJSON(`,"aud":[]`), claimsJSON(`,"aud":["other"]`),
		claimsJSON(`,"exp":null`), claimsJSON(fmt.Sprintf(`,"exp":%d`, exp+3600)), claimsJSON(`,"iat":null`), claimsJSON(`,"sid":null`),
		claimsJSON(`,"x":1,"x":2`), claimsJSON(`,"sid":1`),
		// Member names: escapes and case folding.
		claimsWith("sub", "") + "", strings.Replace(claimsJSON(""), `"sub"`, `"\u0073ub"`, 1),
		strings.Replace(claimsJSON(""), `"sub"`, `"s\u0075b"`, 1), strings.Replace(claimsJSON(""), `"sub"`, `"SUB"`, 1),
		strings.Replace(claimsJSON(""), `"sub"`, `"Sub"`, 1), strings.Replace(claimsJSON(""), `"sub"`, `"ſub"`, 1),
		strings.Replace(claimsJSON(""), `"sub"`, `"\u017fub"`, 1), strings.Replace(claimsJSON(""), `"sid"`, `"ſid"`, 1),
		strings.Replace(claimsJSON(""), `"roles"`, `"ROLEſ"`, 1), strings.Replace(claimsJSON(""), `"exp"`, `"EXP"`, 1),
		strings.Replace(claimsJSON(""), `"sub"`, `"sub "`, 1), strings.Replace(claimsJSON(""), `"sub"`, `"su\u0062\u0000"`, 1),
		strings.Replace(claimsJSON(""), `"sub"`, `"\u212Aub"`, 1), strings.Replace(claimsJSON(""), `"jti"`, `"JTİ"`, 1),
		strings.Replace(claimsJSON(""), `"iss"`, `"\u0069ss"`, 1), strings.Replace(claimsJSON(""), `"iss"`, "\"i\xffss\"", 1),
		// String values.
		claimsWith("sub", `"\u0061lice"`), claimsWith("sub", `"\ud800"`), claimsWith("sub", `"\ud83d\ude00"`),
		claimsWith("sub", `"\ud83dx"`), claimsWith("sub", `"\ude00\ud83d"`), claimsWith("sub", `"\ud83d\u0041"`),
		claimsWith("sub", "\"\xff\xfe\""), claimsWith("sub", "\"\xed\xa0\x80\""), claimsWith("sub", `"\u0000"`),
		claimsWith("sub", "\"a\x01\""), claimsWith("sub", "\"a\x7f\""), claimsWith("sub", `"\x41"`), claimsWith("sub", `"\'"`),
		claimsWith("sub", `"\u12"`), claimsWith("sub", `"\u12G4"`), claimsWith("sub", `"\/\\\"\b\f\n\r\t"`), claimsWith("sub", `"é"`),
		claimsWith("sub", `"`), claimsWith("sub", `"abc`), claimsWith("sub", `""`), claimsWith("sub", `42`), claimsWith("sub", `true`),
		claimsWith("sub", `["user-1"]`), claimsWith("sub", `{}`), claimsWith("sub", `null`), claimsWith("sid", `null`),
		claimsWith("sid", `""`), claimsWith("iss", `"https:\/\/auth.example.com"`), claimsWith("iss", `null`), claimsWith("iss", `""`),
		claimsWith("iss", `"other"`), claimsWith("jti", `null`), claimsWith("jti", `7`),
		// Times.
		claimsWith("exp", fmt.Sprintf("%d.5", exp)), claimsWith("exp", fmt.Sprintf("%d.0", exp)), claimsWith("exp", fmt.Sprintf("%d.999999999999", exp)),
		claimsWith("exp", fmt.Sprintf("%de0", exp)), claimsWith("exp", fmt.Sprintf("%dE+0", exp)), claimsWith("exp", "1.8935540e9"),
		claimsWith("exp", fmt.Sprintf(`"%d"`, exp)), claimsWith("exp", fmt.Sprintf(`" %d"`, exp)), claimsWith("exp", fmt.Sprintf(`"%d "`, exp)),
		claimsWith("exp", `"\u0031893554405"`), claimsWith("exp", `"1e9"`), claimsWith("exp", `"abc"`), claimsWith("exp", `""`),
		claimsWith("exp", `-1`), claimsWith("exp", `0`), claimsWith("exp", `-0`), claimsWith("exp", `1e400`), claimsWith("exp", `-1e400`),
		claimsWith("exp", `1e-400`), claimsWith("exp", `1e20`), claimsWith("exp", `-1e20`), claimsWith("exp", `9223372036854775807`),
		claimsWith("exp", `9007199254740993`), claimsWith("exp", `123456789012345`), claimsWith("exp", `1234567890123456`),
		claimsWith("exp", `01`), claimsWith("exp", `1.`), claimsWith("exp", `.5`), claimsWith("exp", `+1`), claimsWith("exp", `1e`),
		claimsWith("exp", `true`), claimsWith("exp", `[]`), claimsWith("exp", `{}`), claimsWith("exp", `null`), claimsWith("exp", ""),
		claimsWith("exp", `NaN`), claimsWith("exp", `Infinity`),
		claimsWith("iat", fmt.Sprintf("%d.5", iat)), claimsWith("iat", fmt.Sprintf("%d", iat-1)), claimsWith("iat", fmt.Sprintf("%d", iat+10)),
		claimsWith("iat", fmt.Sprintf(`"%d"`, iat)), claimsWith("iat", `null`), claimsWith("iat", ""), claimsWith("iat", `-1e20`),
		claimsWith("iat", fmt.Sprintf("%d", exp)), claimsWith("iat", fmt.Sprintf("%d.5", exp-1)),
		claimsWith("nbf", fmt.Sprint(iat)), claimsWith("nbf", fmt.Sprint(iat+4)), claimsWith("nbf", fmt.Sprint(iat+6)),
		claimsWith("nbf", fmt.Sprint(exp+1)), claimsWith("nbf", `null`), claimsWith("nbf", `"x"`), claimsWith("nbf", fmt.Sprintf("%d.9", iat+5)),
		// Audience.
		claimsWith("aud", fmt.Sprintf("[%q]", testAudience)), claimsWith("aud", fmt.Sprintf(`["x",%q]`, testAudience)),
		claimsWith("aud", fmt.Sprintf(`["",%q]`, testAudience)), claimsWith("aud", `[]`), claimsWith("aud", `[""]`), claimsWith("aud", `""`),
		claimsWith("aud", `null`), claimsWith("aud", ""), claimsWith("aud", `[null]`), claimsWith("aud", fmt.Sprintf(`[%q,null]`, testAudience)),
		claimsWith("aud", `[1]`), claimsWith("aud", `1`), claimsWith("aud", `{}`), claimsWith("aud", `[[]]`), claimsWith("aud", `"other"`),
		claimsWith("aud", fmt.Sprintf(`[%q,]`, testAudience)), claimsWith("aud", fmt.Sprintf(` [ %q ] `, testAudience)),
		claimsWith("aud", `"api.example.co\u006d"`), claimsWith("aud", `["a","b","c","d","e","api.example.com"]`),
		// Roles.
		claimsWith("roles", `[]`), claimsWith("roles", `null`), claimsWith("roles", ""), claimsWith("roles", `["a",null]`),
		claimsWith("roles", `[null]`), claimsWith("roles", `[1]`), claimsWith("roles", `"admin"`), claimsWith("roles", `[["a"]]`),
		claimsWith("roles", `{}`), claimsWith("roles", `["a","b","c","d","e","f"]`), claimsWith("roles", `["a\u0000","\ud800"]`),
		claimsWith("roles", `["a",]`), claimsWith("roles", `[,]`), claimsWith("roles", `[true]`),
		// Authentication: amr, auth_time, acr.
		claimsJSON(`,"amr":["pwd"],"auth_time":` + fmt.Sprint(iat-60) + `,"acr":"urn:authkit:acr:mfa"`),
		claimsJSON(`,"amr":["pwd","otp","mfa"],"auth_time":` + fmt.Sprint(iat)),
		claimsJSON(`,"amr":["pwd"],"amr":["mfa"]`), claimsJSON(`,"amr":["pwd"],"AMR":null`), claimsJSON(`,"amr":["mfa"],"amr":[null]`),
		claimsJSON(`,"auth_time":1,"auth_time":2`), claimsJSON(`,"auth_time":1,"Auth_Time":null`), claimsJSON(`,"acr":"a","ACR":"b"`),
		claimsJSON(`,"AMR":["mfa"]`), claimsJSON(`,"Amr":["mfa"]`), claimsJSON(`,"AUTH_TIME":1`), claimsJSON(`,"auth_tIme":1`),
		claimsJSON(`,"authtime":1`), claimsJSON(`,"auth-time":"x"`), claimsJSON(`,"Acr":"x"`), claimsJSON(`,"\u0061mr":["mfa"]`),
		claimsJSON(`,"amr":["pwd","otp","mfa"],"roles":["a","b","c","d"]`), claimsJSON(`,"amr":["a","b","c","d","e","f","g"]`),
		claimsWith("amr", `["mfa"]`), claimsWith("amr", `[]`), claimsWith("amr", `["mfa",null]`), claimsWith("amr", `[null]`),
		claimsWith("amr", `"mfa"`), claimsWith("amr", `[1]`), claimsWith("amr", `[["mfa"]]`), claimsWith("amr", `["m\u0066a"]`),
		claimsWith("amr", `["mfa",]`), claimsWith("amr", `{"0":"mfa"}`), claimsWith("amr", `["\ud800"]`),
		claimsWith("auth_time", fmt.Sprint(iat)), claimsWith("auth_time", fmt.Sprintf("%d.5", iat)), claimsWith("auth_time", fmt.Sprintf(`"%d"`, iat)),
		claimsWith("auth_time", `-1`), claimsWith("auth_time", `0`), claimsWith("auth_time", `1e400`), claimsWith("auth_time", `-1e20`),
		claimsWith("auth_time", `1e20`), claimsWith("auth_time", `"abc"`), claimsWith("auth_time", `""`), claimsWith("auth_time", `[1]`),
		claimsWith("auth_time", fmt.Sprint(exp+3600)), claimsWith("auth_time", `9007199254740993`), claimsWith("auth_time", `01`),
		claimsWith("acr", `"urn:authkit:acr:mfa"`), claimsWith("acr", `""`), claimsWith("acr", `1`), claimsWith("acr", `["a"]`),
		claimsWith("acr", `"\u00e9"`),
		// Other members.
		claimsJSON(`,"pad":{"a":[1,2,{"b":null}],"c":"d"}`), claimsJSON(`,"big":1e400`), claimsJSON(`,"x":[1,{"y":[]}]`),
		claimsJSON(`,"x":{}`), claimsJSON(`,"x":[]`), claimsJSON(`,"x":{"a":1,}`), claimsJSON(`,"x":[1,]`), claimsJSON(`,"x":{"a"}`),
		claimsJSON(`,"x":{1:2}`), claimsJSON(`,"x":tru`), claimsJSON(`,"x":-`), claimsJSON(`,"x":"\u00"`), claimsJSON(`,"x":[}`),
		claimsJSON(`,"nbf":null,"x":true,"y":false`),
		claimsJSON(`,"deep":` + strings.Repeat("[", 500) + strings.Repeat("]", 500)),
		claimsJSON(`,"deep":` + strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300)),
		claimsJSON(`,"deep":` + strings.Repeat("[", 300) + strings.Repeat("]", 299)),
		// Application claims (Extra): kept as their JSON text, from the
		// first byte of the value to its last.
		claimsJSON(`,"tenant":"acme","email":"alice@example.com"`),
		claimsJSON(`,"org":{"id":7,"name":"Acme","tags":["a","b"],"parent":null}`),
		claimsJSON(`,"perms":["read","write",{"x":[1,2.5,-3e2]}],"n":0,"f":-1.25e-3,"big":1e400,"t":true,"z":null`),
		claimsJSON(`,"u":"caf\u00e9 \ud83d\ude00 \ud800","\u0074enant":"x","e\u0301":"y","名前":"値"`),
		claimsJSON(` , "sp" : [ 1 , { "a" : "b" } ] , "s2" : "x" `), claimsJSON(`,"raw":"\u0000\n\"\/"`),
		claimsJSON(",\"bad\":\"\xff\xfe\",\"k\xff\":1,\"k\xfe\":2"), claimsJSON(`,"":"empty name"`), claimsJSON(`,"x":{"":1}`),
		// Duplicate application claims: the last wins, as in a map.
		claimsJSON(`,"tenant":"a","tenant":"b"`), claimsJSON(`,"tenant":"a","Tenant":"b"`), claimsJSON(`,"t":{"a":1},"t":null`),
		claimsJSON(`,"t":1,"x":2,"t":[3]`), claimsJSON(`,"tenant":"a","sub":"other","tenant":"b"`),
		// Reserved names: never in Extra, whatever their value or case;
		// fields of the wrong type fail.
		claimsJSON(`,"scope":"read write","cnf":{"jkt":"abc"},"typ":"x","azp":"c","groups":["g"],"entitlements":[1],"act":{"sub":"s"},"may_act":null`),
		claimsJSON(`,"scope":1,"cnf":[],"typ":{},"azp":true,"tenant":"acme"`), claimsJSON(`,"SCOPE":"x","Cnf":1,"ſcope":2,"Typ":3`),
		claimsJSON(`,"client_id":"svc-1"`), claimsJSON(`,"client_id":7`), claimsJSON(`,"client_id":["svc"]`), claimsJSON(`,"client_id":null`),
		claimsJSON(`,"Client_ID":"svc","tenant":"acme"`), claimsJSON(`,"client_id":"a","client_id":"b"`), claimsJSON(`,"client_id":"\u0061"`),
		claimsJSON(`,"ROLES":"admin"`), claimsJSON(`,"sid2":"x","sub_":1,"auth time":2`),
		// A client's token: client_id instead of sid.
		claimsWith("sid", "") + "", strings.Replace(claimsWith("sid", ""), "}", `,"client_id":"svc-1"}`, 1),
		strings.Replace(claimsWith("sid", ""), "}", `,"client_id":""}`, 1), strings.Replace(claimsWith("sid", `""`), "}", `,"client_id":"svc"}`, 1),
	}
	// Every member left out, null, and of each wrong type in turn.
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "amr", "auth_time", "acr", "client_id", "scope", "tenant"} {
		for _, value := range []string{"", "null", "1", "true", "false", `"x"`, "[]", `["x"]`, "{}", `{"x":1}`, "nul", "tru", "[", "{"} {
			cs = append(cs, claimsWith(name, value))
		}
	}
	return cs
}

// differentialHeaders are headers in edge-case JSON, with the verdict
// mattering in combination with differentialSignatures.
func differentialHeaders() []string {
	return []string{
		hsHeader, edHeader, rsHeader, psHeader,
		`{"alg":"PS256","kid":"rs-1","typ":"at+jwt"}`, `{"alg":"RS256","kid":"ps-1","typ":"at+jwt"}`,
		`{"alg":"RS384","kid":"rs-1","typ":"at+jwt"}`, `{"alg":"HS256","kid":"rs-1","typ":"at+jwt"}`,
		`{"typ":"at+jwt","kid":"hs-1","alg":"HS256"}`, ` { "alg" : "HS256" , "kid" : "hs-1" , "typ" : "at+jwt" } `,
		`{"\u0061lg":"HS256","kid":"hs-1","typ":"at+jwt"}`, `{"alg":"HS\u0032\u0035\u0036","kid":"hs\u002d1","typ":"at\u002bjwt"}`,
		`{"alg":"none","alg":"HS256","kid":"hs-1","typ":"at+jwt"}`, `{"alg":"HS256","alg":null,"kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"nope","kid":"hs-1","typ":"at+jwt"}`, `{"alg":"HS256","kid":"hs-1","kid":1,"typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"hs-1","typ":"JWT","typ":"at+jwt"}`, `{"alg":"HS256","kid":"hs-1","typ":"at+jwt","typ":null}`,
		`{"alg":"HS256","kid":"hs-1","typ":"at+jwt","crit":null}`, `{"crit":[],"alg":"HS256","kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"hs-1","typ":"AT+JWT"}`, `{"alg":"HS256","kid":"hs-1","typ":"Application/At+Jwt"}`,
		`{"alg":"HS256","kid":"hs-1","typ":"at+jwt","x":1e400}`, `{"alg":"HS256","kid":"hs-1","typ":"at+jwt","x":[1e400]}`,
		`{"alg":"HS256","kid":"hs-1","typ":"at+jwt","x":{"y":[1,-1e308,null]}}`, `{"alg":1e400,"kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"hs-1","typ":"at+jwt","Alg":"none","KID":"x","CRIT":1}`,
		"{\"alg\":\"HS256\",\"kid\":\"hs-1\xff\",\"typ\":\"at+jwt\"}", `{"alg":"HS256","kid":"hs-1","typ":"at+jwt",}`,
		`null`, ` null `, `[]`, `"x"`, `{}`, ``, `{"alg":1,"kid":"hs-1","typ":"at+jwt"}`, `{"kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"none","kid":"hs-1","typ":"at+jwt"}`, `{"alg":"HS512","kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"RS256","kid":"hs-1","typ":"at+jwt"}`, `{"alg":"XX","kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"ES256","kid":"hs-1","typ":"at+jwt"}`, `{"alg":"EdDSA","kid":"hs-1","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"","typ":"at+jwt"}`, `{"alg":"HS256","typ":"at+jwt"}`, `{"alg":"HS256","kid":"hs-1"}`,
		`{"alg":"HS256","kid":"hs-1","typ":["at+jwt"]}`, `{"alg":"hs256","kid":"hs-1","typ":"at+jwt"}`,
	}
}

// differentialTokens returns tokens for the tests and the fuzz seeds:
// issued ones, raw-signed edge cases, and mutations.
func differentialTokens(t testing.TB, k *testKeys) []string {
	t.Helper()
	r := rawSigner{k}
	var toks []string
	issued := []string{
		mustIssue(t, mustIssuer(t, k.hs)), mustIssue(t, mustIssuer(t, k.ed)), mustIssue(t, mustIssuer(t, k.ec)),
		mustIssue(t, mustIssuer(t, k.hs, tokens.WithTTL(time.Hour))),
		mustIssue(t, mustIssuer(t, k.rs)), mustIssue(t, mustIssuer(t, k.ps)),
	}
	for _, authn := range []tokens.Authn{
		{AMR: []string{tokens.AMRPassword}, Time: testNow.Add(-time.Hour)},
		{AMR: []string{tokens.AMRPassword, tokens.AMROTP, tokens.AMRMultiFactor}, Time: testNow, ACR: tokens.ACRMultiFactor},
		{AMR: []string{"a", "b", "c", "d", "e"}, Time: testNow.Add(time.Hour + 500*time.Millisecond)},
		{}, {AMR: []string{}}, {Time: time.Unix(0, 0)},
	} {
		tok, _, err := mustIssuer(t, k.hs).IssueAuthn("user-1", "sess-1", []string{"user", "admin"}, authn)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok)
	}
	toks = append(toks, issued...)
	for _, g := range []tokens.Grant{
		{Subject: "user-1", SessionID: "sess-1", Roles: []string{"user"}, Extra: map[string]any{"tenant": "acme", "email": "alice@example.com"}},
		{Subject: "user-1", SessionID: "sess-1", Extra: map[string]any{"org": map[string]any{"id": 7, "tags": []string{"a"}}, "n": 1.5, "<&>": "\u2028", "nil": nil}},
		{Subject: "svc-1", ClientID: "svc-1", Roles: []string{"reports"}},
		{Subject: "svc-1", ClientID: "svc-1", SessionID: "sess-1", Extra: map[string]any{"tenant": "acme"}},
	} {
		tok, _, err := mustIssuer(t, k.hs).IssueGrant(g)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for _, roles := range [][]string{nil, {}, {"a", "b", "c", "d", "e"}, {"<&>", "é", "\u2028"}} {
		tok, _, err := mustIssuer(t, k.hs).Issue("user-1", "sess-1", roles)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for _, c := range differentialClaims() {
		toks = append(toks, r.hs(hsHeader, c))
	}
	for _, c := range differentialClaims()[:12] {
		toks = append(toks, r.ed(edHeader, c), r.rs(rsHeader, c, false), r.rs(psHeader, c, true))
	}
	// RSA signatures of the other scheme, of the wrong length, and of a
	// salt other than the hash's length (which PS256 verification allows).
	valid := claimsJSON("")
	rsTok, psTok := r.rs(rsHeader, valid, false), r.rs(psHeader, valid, true)
	rsSig, psSig := rsTok[strings.LastIndexByte(rsTok, '.'):], psTok[strings.LastIndexByte(psTok, '.'):]
	input := b64(psHeader) + "." + b64(valid)
	digest := sha256.Sum256([]byte(input))
	for _, salt := range []int{0, 20, rsa.PSSSaltLengthAuto} {
		sig, err := rsa.SignPSS(rand.Reader, k.rsaPriv, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, input+"."+base64.RawURLEncoding.EncodeToString(sig))
	}
	toks = append(toks,
		b64(rsHeader)+"."+b64(valid)+psSig, input+rsSig,
		rsTok[:len(rsTok)-4], rsTok+"AAAA", rsTok[:len(rsTok)-342]+strings.Repeat("A", 342),
		rsTok[:len(rsTok)-342]+strings.Repeat("_", 683), rsTok[:len(rsTok)-342]+strings.Repeat("A", 1366),
	)
	for _, h := range differentialHeaders() {
		signed := r.hs(h, valid)
		toks = append(toks, signed, r.hs(h, "x"), flipLastChar(signed, 4), flipLastChar(signed, 1),
			signed[:strings.LastIndexByte(signed, '.')+1]+"!!", signed+"=")
	}
	// Segments and base64.
	hs := issued[0]
	d1, d2 := strings.IndexByte(hs, '.'), strings.LastIndexByte(hs, '.')
	toks = append(toks,
		"", ".", "..", "...", "a.b", "a.b.c", "not a token", "e30.e30.", "e30.e30.e30", "bnVsbA.bnVsbA.",
		hs+".", hs+"x", "."+hs, hs[:d2], hs[:d2+1], hs[:d1]+"."+hs[d1+1:d2]+"="+hs[d2:], hs[:d1]+"="+hs[d1:],
		hs[:d1]+"\n"+hs[d1:], hs[:d1+5]+"\r\n"+hs[d1+5:], hs[:d2+3]+"\n"+hs[d2+3:], strings.ReplaceAll(hs, "-", "+"),
		r.hsInput(hs[:d1+9]+"\n"+hs[d1+9:d2]), r.hsInput(hs[:4]+"\r"+hs[4:d2]), r.hsInput(hs[:d2]+"\n"),
		r.hsInput(b64(hsHeader)+"."+b64(valid)[:len(b64(valid))-1]),
		r.hsInput(b64(hsHeader)+"."+b64(valid)+"A"),
		r.hsInput(b64(hsHeader)+"."+base64.URLEncoding.EncodeToString([]byte(valid))),
		r.hsInput(b64(hsHeader)+"."+base64.StdEncoding.EncodeToString([]byte(valid))),
		strings.Repeat("a", tokens.MaxTokenSize+1), r.hs(hsHeader, claimsJSON(`,"pad":"`+strings.Repeat("x", 6000)+`"`)),
	)
	// Mutations of issued tokens: each character replaced, and removed.
	for _, tok := range []string{issued[0], issued[1], issued[4]} {
		for i := 0; i < len(tok); i += 3 {
			for _, c := range []string{"A", "_", ".", "=", "\n"} {
				toks = append(toks, tok[:i]+c+tok[i+1:])
			}
			toks = append(toks, tok[:i]+tok[i+1:])
		}
	}
	return toks
}

// TestVerifyDifferential checks that the lean parser, with and without
// cache, and golang-jwt agree on a few thousand tokens at several clocks.
func TestVerifyDifferential(t *testing.T) {
	k := newTestKeys(t)
	toks := differentialTokens(t, k)
	for _, c := range diffConfigs(t, k) {
		t.Run(c.name, func(t *testing.T) {
			for _, tok := range toks {
				checkSame(t, c, tok)
			}
		})
	}
}

// FuzzVerifyDifferential holds Verify to golang-jwt on any input. Each run
// checks the raw token, and the header and claims texts signed as they
// stand (with HS256, with EdDSA when mode is odd, with RS256 when bit 2 is
// set, or PS256 when bits 2 and 1 are), so that the fuzzer reaches the
// claim rules past a valid signature; mode also picks the verifier's
// clock, and with bit 3 set the Issuer's exact header replaces the header
// text (the lean parser's shortcut).
//
// Besides the seeds added here, testdata/fuzz/FuzzVerifyDifferential holds
// a committed corpus of such inputs (whose keys are fixed in newTestKeys).
func FuzzVerifyDifferential(f *testing.F) {
	k := newTestKeys(f)
	r := rawSigner{k}
	configs := diffConfigs(f, k)
	for _, tok := range differentialTokens(f, k)[:40] {
		f.Add(tok, "", "", byte(0))
	}
	for i, c := range differentialClaims() {
		f.Add("", hsHeader, c, byte(i))
	}
	for i, h := range differentialHeaders() {
		f.Add("", h, claimsJSON(""), byte(i))
	}
	f.Add("", rsHeader, claimsJSON(""), byte(4))
	f.Add("", psHeader, claimsJSON(""), byte(6))
	f.Add("", "", claimsJSON(`,"x":1`), byte(4|8))
	f.Add("", "", claimsJSON(`,"x":1`), byte(6|8))
	f.Add("", "", claimsJSON(`,"tenant":"acme","email":"alice@example.com"`), byte(8))
	f.Add("", "", claimsJSON(`,"t":{"a":[1,"\u00e9"]},"t":2,"scope":"x"`), byte(9))
	f.Fuzz(func(t *testing.T, token, header, claims string, mode byte) {
		c := configs[int(mode>>4)%len(configs)]
		checkSame(t, c, token)
		rsa, pss := mode&4 != 0, mode&6 == 6
		if mode&8 != 0 {
			switch {
			case pss:
				header = psHeader
			case rsa:
				header = rsHeader
			case mode&1 != 0:
				header = edHeader
			default:
				header = hsHeader
			}
		}
		switch {
		case rsa:
			checkSame(t, c, r.rs(header, claims, pss))
		case mode&1 != 0:
			checkSame(t, c, r.ed(header, claims))
		default:
			checkSame(t, c, r.hs(header, claims))
		}
	})
}

// FuzzDecodeSegment checks the lean base64 decoding against
// encoding/base64, as golang-jwt uses it with WithStrictDecoding, through
// the verdicts of whole tokens whose payload segment is s.
func FuzzDecodeSegment(f *testing.F) {
	k := newTestKeys(f)
	c := diffConfigs(f, k)[0]
	r := rawSigner{k}
	payload := b64(claimsJSON(""))
	for _, s := range []string{payload, payload + "A", payload[:len(payload)-1], payload + "=", "\n" + payload, payload[:7] + "\r\n" + payload[7:], "e30", "e31", "", "A", "AA", "AAA", "AB", "ABC", "AAB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, ".") {
			return
		}
		checkSame(t, c, r.hsInput(b64(hsHeader)+"."+s))
	})
}
