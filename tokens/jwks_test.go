package tokens_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

var b64u = base64.RawURLEncoding.EncodeToString

// publicJWKs returns the JWKs that JWKS should write for k's Ed25519 and
// ECDSA keys, built from the raw material.
func publicJWKs(t *testing.T, k *testKeys) (ed, ec map[string]any) {
	t.Helper()
	p, err := k.ecPriv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ed = map[string]any{"kty": "OKP", "kid": "ed-1", "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
		"x": b64u(k.edPriv.Public().(ed25519.PublicKey))}
	ec = map[string]any{"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
		"x": b64u(p[1:33]), "y": b64u(p[33:])}
	return ed, ec
}

// publicRSAJWK is the JWK of k.rs as JWKS writes it.
func publicRSAJWK(k *testKeys) map[string]any {
	return map[string]any{"kty": "RSA", "kid": "rs-1", "use": "sig", "alg": "RS256",
		"n": b64u(k.rsaPriv.N.Bytes()), "e": "AQAB"}
}

// jwksOf encodes keys, each a JWK as a map, as a JWKS.
func jwksOf(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifierJWKS(t *testing.T) {
	k := newTestKeys(t)
	got, err := mustVerifier(t, k.all()).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.ecPriv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	n := b64u(k.rsaPriv.N.Bytes())
	want := fmt.Sprintf(`{"keys":[`+
		`{"kty":"EC","kid":"ec-1","use":"sig","alg":"ES256","crv":"P-256","x":%q,"y":%q},`+
		`{"kty":"OKP","kid":"ed-1","use":"sig","alg":"EdDSA","crv":"Ed25519","x":%q},`+
		`{"kty":"RSA","kid":"ps-1","use":"sig","alg":"PS256","n":%q,"e":"AQAB"},`+
		`{"kty":"RSA","kid":"rs-1","use":"sig","alg":"RS256","n":%q,"e":"AQAB"}]}`,
		b64u(p[1:33]), b64u(p[33:]), b64u(k.edPriv.Public().(ed25519.PublicKey)), n, n)
	if string(got) != want {
		t.Errorf("JWKS =\n%s\nwant\n%s", got, want)
	}

	// No form of any secret or private part appears.
	for name, secret := range map[string][]byte{
		"HMAC secret":   k.hmacSecret,
		"Ed25519 seed":  k.edPriv.Seed(),
		"ECDSA scalar":  k.ecPriv.D.FillBytes(make([]byte, 32)),
		"Ed25519 whole": k.edPriv,
		"RSA d":         k.rsaPriv.D.Bytes(),
		"RSA p":         k.rsaPriv.Primes[0].Bytes(),
		"RSA q":         k.rsaPriv.Primes[1].Bytes(),
	} {
		for _, enc := range []string{string(secret), b64u(secret), base64.StdEncoding.EncodeToString(secret), hex.EncodeToString(secret)} {
			if bytes.Contains(got, []byte(enc)) {
				t.Errorf("JWKS contains the %s", name)
			}
		}
	}

	// The package function gives the same set, whatever the order of keys.
	again, err := tokens.JWKS(k.rs, k.ec, k.hs, k.ps, k.ed)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("JWKS(rs, ec, hs, ps, ed) = %s, %v; want the Verifier's set", again, err)
	}
}

func TestJWKSErrors(t *testing.T) {
	k := newTestKeys(t)
	hmacOnly, err := mustVerifier(t, []*tokens.Key{k.hs}).JWKS()
	if err != nil || string(hmacOnly) != `{"keys":[]}` {
		t.Errorf("JWKS of an HMAC-only Verifier = %s, %v; want {\"keys\":[]}", hmacOnly, err)
	}
	if b, err := tokens.JWKS(); err != nil || string(b) != `{"keys":[]}` {
		t.Errorf("JWKS() = %s, %v; want {\"keys\":[]}", b, err)
	}
	dup, err := tokens.NewEd25519PublicKey("ec-1", k.edPriv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		jwks func() ([]byte, error)
	}{
		{"nil key", func() ([]byte, error) { return tokens.JWKS(k.ed, nil) }},
		{"zero key", func() ([]byte, error) { return tokens.JWKS(&tokens.Key{}) }},
		{"duplicate kid", func() ([]byte, error) { return tokens.JWKS(k.ec, dup) }},
		{"nil Verifier", func() ([]byte, error) { return (*tokens.Verifier)(nil).JWKS() }},
		{"zero Verifier", func() ([]byte, error) { return new(tokens.Verifier).JWKS() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.jwks()
			if !errors.Is(err, tokens.ErrConfig) || b != nil {
				t.Errorf("got %s, %v; want an error wrapping ErrConfig", b, err)
			}
		})
	}
}

// TestJWKSRoundTrip checks that a service holding only the JWKS verifies
// the tokens of both public-key algorithms, and nothing signed with HMAC.
func TestJWKSRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	set, err := mustVerifier(t, k.all()).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tokens.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, key := range keys {
		names = append(names, key.String())
	}
	if got, want := strings.Join(names, " "), `tokens.Key{kid="ec-1" alg=ES256} tokens.Key{kid="ed-1" alg=EdDSA} tokens.Key{kid="ps-1" alg=PS256} tokens.Key{kid="rs-1" alg=RS256}`; got != want {
		t.Errorf("ParseJWKS gave %s, want %s", got, want)
	}
	v := mustVerifier(t, keys)

	tests := []struct {
		name string
		key  *tokens.Key
		want error
	}{
		{"EdDSA", k.ed, nil},
		{"ES256", k.ec, nil},
		{"RS256", k.rs, nil},
		{"PS256", k.ps, nil},
		{"HS256", k.hs, tokens.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := v.Verify(mustIssue(t, mustIssuer(t, tc.key)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want == nil && claims.Subject != "user-1" {
				t.Errorf("subject %q", claims.Subject)
			}
			if tc.want != nil && !errors.Is(err, tokens.ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
		})
	}
	for _, key := range keys {
		if _, err := tokens.NewIssuer(key, baseOptions(testNow)...); !errors.Is(err, tokens.ErrConfig) {
			t.Errorf("NewIssuer(%v) = %v, want ErrConfig: JWKS keys must not sign", key, err)
		}
	}
}

// TestJWKSShortCoordinate checks that an ECDSA coordinate with a leading
// zero byte still takes 32 bytes (RFC 7518 section 6.2.1.2) and survives the
// round trip.
func TestJWKSShortCoordinate(t *testing.T) {
	var priv *ecdsa.PrivateKey
	for range 1 << 14 {
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if p.X.BitLen() <= 248 || p.Y.BitLen() <= 248 {
			priv = p
			break
		}
	}
	if priv == nil {
		t.Fatal("no coordinate with a leading zero byte in 16384 keys")
	}
	key, err := tokens.NewECDSAKey("short", priv)
	if err != nil {
		t.Fatal(err)
	}
	set, err := tokens.JWKS(key)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct{ Keys []struct{ X, Y string } }
	if err := json.Unmarshal(set, &parsed); err != nil || len(parsed.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", set, err)
	}
	if x, y := parsed.Keys[0].X, parsed.Keys[0].Y; len(x) != 43 || len(y) != 43 {
		t.Errorf("coordinates %q, %q; want 43 characters each", x, y)
	}
	keys, err := tokens.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, keys).Verify(mustIssue(t, mustIssuer(t, key))); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// RFC 8037 appendix A.1 and A.2: an Ed25519 private key (d) and its public
// key (x).
const (
	rfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
)

func TestParseJWKSRFC8037(t *testing.T) {
	// The public JWK of appendix A.2, which has no kid.
	published := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": rfc8037X}
	if _, err := tokens.ParseJWKS(jwksOf(t, published)); !errors.Is(err, tokens.ErrConfig) {
		t.Errorf("without a kid: %v, want ErrConfig", err)
	}
	keys, err := tokens.ParseJWKS(jwksOf(t, with(published, "kid", "rfc8037")))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID() != "rfc8037" || keys[0].Algorithm() != "EdDSA" {
		t.Fatalf("keys = %v", keys)
	}
	set, err := tokens.JWKS(keys...)
	if err != nil || !bytes.Contains(set, []byte(`"x":"`+rfc8037X+`"`)) {
		t.Errorf("JWKS of the parsed key = %s, %v; want x %s", set, err, rfc8037X)
	}

	// A token signed with the private key of appendix A.1 verifies.
	seed, err := base64.RawURLEncoding.DecodeString(rfc8037D)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tokens.NewEd25519Key("rfc8037", ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, keys).Verify(mustIssue(t, mustIssuer(t, signer))); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// RFC 7517 appendix A.1 (public) and A.2 (private): a P-256 key.
const (
	rfc7517X = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"
	rfc7517Y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
	rfc7517D = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"
)

func TestParseJWKSRFC7517(t *testing.T) {
	// As published, the key is for encryption ("use":"enc"), which a
	// verifier must refuse.
	published := map[string]any{"kty": "EC", "crv": "P-256", "x": rfc7517X, "y": rfc7517Y, "use": "enc", "kid": "1"}
	if _, err := tokens.ParseJWKS(jwksOf(t, published)); !errors.Is(err, tokens.ErrConfig) {
		t.Errorf(`"use":"enc": %v, want ErrConfig`, err)
	}
	keys, err := tokens.ParseJWKS(jwksOf(t, with(published, "use", "sig")))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID() != "1" || keys[0].Algorithm() != "ES256" {
		t.Fatalf("keys = %v", keys)
	}
	set, err := tokens.JWKS(keys...)
	if err != nil || !bytes.Contains(set, []byte(`"x":"`+rfc7517X+`","y":"`+rfc7517Y+`"`)) {
		t.Errorf("JWKS of the parsed key = %s, %v; want x and y of the RFC", set, err)
	}

	d, err := base64.RawURLEncoding.DecodeString(rfc7517D)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tokens.NewECDSAKey("1", priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, keys).Verify(mustIssue(t, mustIssuer(t, signer))); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestParseJWKSAccepts(t *testing.T) {
	k := newTestKeys(t)
	ed, ec := publicJWKs(t, k)
	tests := []struct {
		name string
		data []byte
		want []string // kid/alg of each key
	}{
		{"empty set", []byte(`{"keys":[]}`), nil},
		{"both", jwksOf(t, ed, ec), []string{"ed-1/EdDSA", "ec-1/ES256"}},
		{"no alg, no use", jwksOf(t, with(ed, "alg", nil, "use", nil), with(ec, "alg", nil, "use", nil)),
			[]string{"ed-1/EdDSA", "ec-1/ES256"}},
		{"unknown members", jwksOf(t, with(ed, "x5t#S256", "abc", "ext", true, "n", 1)),
			[]string{"ed-1/EdDSA"}},
		{"unknown top-level member", []byte(`{"note":"hi","keys":[]}`), nil},
		{"key_ops verify", jwksOf(t, with(ec, "key_ops", []string{"verify"})), []string{"ec-1/ES256"}},
		{"RSA", jwksOf(t, publicRSAJWK(k), with(publicRSAJWK(k), "kid", "ps-1", "alg", "PS256")),
			[]string{"rs-1/RS256", "ps-1/PS256"}},
		{"RSA without alg is RS256", jwksOf(t, with(publicRSAJWK(k), "alg", nil, "use", nil)), []string{"rs-1/RS256"}},
		{"duplicate member, last wins", []byte(`{"keys":[{"kid":"x","kid":"ed-9","kty":"OKP","crv":"Ed25519","x":"` + ed["x"].(string) + `"}]}`),
			[]string{"ed-9/EdDSA"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := tokens.ParseJWKS(tc.data)
			if err != nil {
				t.Fatalf("ParseJWKS: %v", err)
			}
			var got []string
			for _, key := range keys {
				got = append(got, key.ID()+"/"+key.Algorithm())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("keys %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseJWKSRefuses(t *testing.T) {
	k := newTestKeys(t)
	ed, ec := publicJWKs(t, k)
	edX, ecX, ecY := ed["x"].(string), ec["x"].(string), ec["y"].(string)
	seed := b64u(k.edPriv.Seed())
	// A y one higher than the key's is off the curve.
	yBytes, _ := base64.RawURLEncoding.DecodeString(ecY)
	yBytes[31]++
	offCurveY := b64u(yBytes)
	// The last of 43 characters carries two unused bits; "B" sets one.
	strayBits := edX[:42] + string(b64url[strings.IndexByte(b64url, edX[42])|1])
	// 32 bytes whose standard base64 has "+" and "/", not base64url.
	stdB64 := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xef, 0xff}, 11)[:32])
	ff := b64u(bytes.Repeat([]byte{0xff}, 32))
	rs := publicRSAJWK(k)
	n := k.rsaPriv.N.Bytes()
	evenN := bytes.Clone(n)
	evenN[len(evenN)-1] &^= 1
	weak, err := weakRSAKey()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"not JSON", []byte(`nope`)},
		{"empty", nil},
		{"null", []byte(`null`)},
		{"array", []byte(`[]`)},
		{"no keys", []byte(`{}`)},
		{"keys capitalised", []byte(`{"Keys":[]}`)},
		{"keys null", []byte(`{"keys":null}`)},
		{"keys an object", []byte(`{"keys":{}}`)},
		{"key a number", []byte(`{"keys":[1]}`)},
		{"key null", []byte(`{"keys":[null]}`)},

		{"missing kid", jwksOf(t, with(ed, "kid", nil))},
		{"kid capitalised", jwksOf(t, with(ed, "kid", nil, "KID", "ed-1"))},
		{"empty kid", jwksOf(t, with(ed, "kid", ""))},
		{"kid a number", jwksOf(t, with(ed, "kid", 1))},
		{"duplicate kid", jwksOf(t, ed, with(ec, "kid", "ed-1"))},

		{"missing kty", jwksOf(t, with(ed, "kty", nil))},
		{"kty RSA", jwksOf(t, map[string]any{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB", "alg": "RS256"})},
		{"kty oct", jwksOf(t, map[string]any{"kty": "oct", "kid": "h", "alg": "HS256"})},
		{"kty lower case", jwksOf(t, with(ed, "kty", "okp"))},
		{"kty null", jwksOf(t, with(ed, "kty", json.RawMessage("null")))},
		{"crv Ed448", jwksOf(t, with(ed, "crv", "Ed448", "alg", nil))},
		{"crv X25519", jwksOf(t, with(ed, "crv", "X25519", "alg", nil))},
		{"crv P-384", jwksOf(t, with(ec, "crv", "P-384", "alg", "ES384"))},
		{"crv P-384, no alg", jwksOf(t, with(ec, "crv", "P-384", "alg", nil))},
		{"missing crv", jwksOf(t, with(ec, "crv", nil))},
		{"crv of the other kty", jwksOf(t, with(ec, "crv", "Ed25519"))},

		{"alg RS256", jwksOf(t, with(ec, "alg", "RS256"))},
		{"alg ES384", jwksOf(t, with(ec, "alg", "ES384"))},
		{"alg HS256", jwksOf(t, with(ed, "alg", "HS256"))},
		{"alg none", jwksOf(t, with(ed, "alg", "none"))},
		{"alg empty", jwksOf(t, with(ed, "alg", ""))},
		{"alg a list", jwksOf(t, with(ed, "alg", []string{"EdDSA"}))},
		{"OKP key with ES256", jwksOf(t, with(ed, "alg", "ES256"))},
		{"EC key with EdDSA", jwksOf(t, with(ec, "alg", "EdDSA"))},

		{"use enc", jwksOf(t, with(ed, "use", "enc"))},
		{"use empty", jwksOf(t, with(ed, "use", ""))},
		{"use SIG", jwksOf(t, with(ed, "use", "SIG"))},
		{"key_ops without verify", jwksOf(t, with(ed, "key_ops", []string{"encrypt"}))},
		{"key_ops a string", jwksOf(t, with(ed, "key_ops", "verify"))},

		{"Ed25519 private d", jwksOf(t, with(ed, "d", seed))},
		{"EC private d", jwksOf(t, with(ec, "d", b64u(k.ecPriv.D.FillBytes(make([]byte, 32)))))},
		{"d null", jwksOf(t, with(ed, "d", json.RawMessage("null")))},
		{"oct secret k", jwksOf(t, with(ed, "k", b64u(k.hmacSecret)))},
		{"private key among public ones", jwksOf(t, ec, with(ed, "d", seed))},

		{"missing x", jwksOf(t, with(ed, "x", nil))},
		{"x a number", jwksOf(t, with(ed, "x", 7))},
		{"x 31 bytes", jwksOf(t, with(ed, "x", b64u(make([]byte, 31))))},
		{"x 33 bytes", jwksOf(t, with(ed, "x", b64u(make([]byte, 33))))},
		{"x padded", jwksOf(t, with(ed, "x", edX+"="))},
		{"x standard base64", jwksOf(t, with(ed, "x", stdB64))},
		{"x not base64", jwksOf(t, with(ed, "x", edX[:42]+"!"))},
		{"x with a line break", jwksOf(t, with(ed, "x", edX[:21]+"\n"+edX[21:42]))},
		{"x with stray bits", jwksOf(t, with(ed, "x", strayBits))},
		{"Ed25519 x off the curve", jwksOf(t, with(ed, "x", b64u(append([]byte{2}, make([]byte, 31)...))))},
		{"Ed25519 identity point", jwksOf(t, with(ed, "x", b64u(append([]byte{1}, make([]byte, 31)...))))},
		{"Ed25519 x not canonical", jwksOf(t, with(ed, "x", b64u(append([]byte{0xed}, append(bytes.Repeat([]byte{0xff}, 30), 0x7f)...))))},
		{"EC missing y", jwksOf(t, with(ec, "y", nil))},
		{"EC y 31 bytes", jwksOf(t, with(ec, "y", b64u(make([]byte, 31))))},
		{"EC x 48 bytes", jwksOf(t, with(ec, "x", b64u(make([]byte, 48))))},
		{"EC point off the curve", jwksOf(t, with(ec, "y", offCurveY))},
		{"EC coordinates 2^256-1", jwksOf(t, with(ec, "x", ff, "y", ff))},
		{"EC zero point", jwksOf(t, with(ec, "x", b64u(make([]byte, 32)), "y", b64u(make([]byte, 32))))},
		{"EC x and y swapped", jwksOf(t, with(ec, "x", ecY, "y", ecX))},

		{"RSA of 1024 bits", jwksOf(t, with(rs, "n", b64u(weak.N.Bytes())))},
		{"RSA of 8200 bits", jwksOf(t, with(rs, "n", b64u(append([]byte{1}, bytes.Repeat([]byte{0xff}, 1024)...))))},
		{"RSA missing n", jwksOf(t, with(rs, "n", nil))},
		{"RSA missing e", jwksOf(t, with(rs, "e", nil))},
		{"RSA n empty", jwksOf(t, with(rs, "n", ""))},
		{"RSA n a number", jwksOf(t, with(rs, "n", 7))},
		{"RSA n with a leading zero", jwksOf(t, with(rs, "n", b64u(append([]byte{0}, n...))))},
		{"RSA n padded", jwksOf(t, with(rs, "n", base64.URLEncoding.EncodeToString(append([]byte{1}, n...))))},
		{"RSA n standard base64", jwksOf(t, with(rs, "n", base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xef, 0xff}, 100))))},
		{"RSA n with a line break", jwksOf(t, with(rs, "n", rs["n"].(string)[:100]+"\n"+rs["n"].(string)[100:]))},
		{"RSA n even", jwksOf(t, with(rs, "n", b64u(evenN)))},
		{"RSA e 1", jwksOf(t, with(rs, "e", "AQ"))},
		{"RSA e 2", jwksOf(t, with(rs, "e", "Ag"))},
		{"RSA e with a leading zero", jwksOf(t, with(rs, "e", "AAEAAQ"))},
		{"RSA e 2^32+1", jwksOf(t, with(rs, "e", b64u([]byte{1, 0, 0, 0, 1})))},
		{"RSA e 2^31+1", jwksOf(t, with(rs, "e", b64u([]byte{0x80, 0, 0, 1})))},
		{"RSA with crv", jwksOf(t, with(rs, "crv", "P-256"))},
		{"RSA with alg ES256", jwksOf(t, with(rs, "alg", "ES256"))},
		{"RSA with alg RS384", jwksOf(t, with(rs, "alg", "RS384"))},
		{"RSA with alg RSA-OAEP", jwksOf(t, with(rs, "alg", "RSA-OAEP"))},
		{"RSA use enc", jwksOf(t, with(rs, "use", "enc"))},
		{"RSA private d", jwksOf(t, with(rs, "d", b64u(k.rsaPriv.D.Bytes())))},
		{"RSA private p", jwksOf(t, with(rs, "p", b64u(k.rsaPriv.Primes[0].Bytes())))},
		{"RSA private qi", jwksOf(t, with(rs, "qi", "AQAB"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := tokens.ParseJWKS(tc.data)
			if !errors.Is(err, tokens.ErrConfig) {
				t.Fatalf("ParseJWKS(%s) = %v, %v; want an error wrapping ErrConfig", tc.data, keys, err)
			}
			if keys != nil {
				t.Errorf("got keys %v along with the error", keys)
			}
			// Private members are refused without repeating them.
			if strings.Contains(err.Error(), seed) || strings.Contains(err.Error(), b64u(k.hmacSecret)) ||
				strings.Contains(err.Error(), b64u(k.rsaPriv.D.Bytes())[:16]) {
				t.Errorf("error %q repeats private material", err)
			}
		})
	}
}

// FuzzParseJWKS checks that ParseJWKS never panics, fails only with
// ErrConfig, and that a set it accepts comes back the same through JWKS.
func FuzzParseJWKS(f *testing.F) {
	k := newTestKeys(f)
	set, err := tokens.JWKS(k.all()...)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(set)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + rfc8037X + `"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"1","use":"sig","x":"` + rfc7517X + `","y":"` + rfc7517Y + `"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"` + b64u(k.rsaPriv.N.Bytes()) + `","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := tokens.ParseJWKS(data)
		if err != nil {
			if !errors.Is(err, tokens.ErrConfig) || keys != nil {
				t.Fatalf("ParseJWKS = %v, %v", keys, err)
			}
			return
		}
		out, err := tokens.JWKS(keys...)
		if err != nil {
			t.Fatalf("JWKS of parsed keys: %v", err)
		}
		again, err := tokens.ParseJWKS(out)
		if err != nil {
			t.Fatalf("ParseJWKS(%s): %v", out, err)
		}
		if out2, err := tokens.JWKS(again...); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed %s into %s (%v)", out, out2, err)
		}
	})
}
