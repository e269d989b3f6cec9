package tokens_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "api.example.com"
)

// testNow is the fixed "current time" of the tests.
var testNow = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// testKeys holds one key of each algorithm, plus the raw material so that
// tests can forge tokens. rs and ps are the RS256 and PS256 keys of the
// one RSA key of testdata/rsa2048.pem.
type testKeys struct {
	hmacSecret []byte
	edPriv     ed25519.PrivateKey
	ecPriv     *ecdsa.PrivateKey
	rsaPriv    *rsa.PrivateKey

	hs, ed, ec, rs, ps *tokens.Key
}

// testRSAKey is the fixed 2048-bit key of testdata/rsa2048.pem (made by
// "openssl genpkey -algorithm RSA"): fixed so that the committed fuzz
// corpora stay valid, and read once since every test needs it.
var testRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	data, err := os.ReadFile("testdata/rsa2048.pem")
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return priv.(*rsa.PrivateKey), nil
})

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	k := &testKeys{
		hmacSecret: bytes.Repeat([]byte("s"), 32),
		edPriv:     ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)),
	}
	var err error
	if k.ecPriv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.hs, err = tokens.NewHMACKey("hs-1", k.hmacSecret); err != nil {
		t.Fatal(err)
	}
	if k.ed, err = tokens.NewEd25519Key("ed-1", k.edPriv); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = tokens.NewECDSAKey("ec-1", k.ecPriv); err != nil {
		t.Fatal(err)
	}
	if k.rsaPriv, err = testRSAKey(); err != nil {
		t.Fatal(err)
	}
	if k.rs, err = tokens.NewRSAKey("rs-1", k.rsaPriv); err != nil {
		t.Fatal(err)
	}
	if k.ps, err = tokens.NewRSAPSSKey("ps-1", k.rsaPriv); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *testKeys) all() []*tokens.Key { return []*tokens.Key{k.hs, k.ed, k.ec, k.rs, k.ps} }

func baseOptions(now time.Time) []tokens.Option {
	return []tokens.Option{
		tokens.WithIssuer(testIssuer),
		tokens.WithAudience(testAudience),
		tokens.WithClock(clockAt(now)),
	}
}

func mustIssuer(t testing.TB, key *tokens.Key, opts ...tokens.Option) *tokens.Issuer {
	t.Helper()
	iss, err := tokens.NewIssuer(key, append(baseOptions(testNow), opts...)...)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

func mustVerifier(t testing.TB, keys []*tokens.Key, opts ...tokens.Option) *tokens.Verifier {
	t.Helper()
	v, err := tokens.NewVerifier(keys, append(baseOptions(testNow), opts...)...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mustIssue(t testing.TB, iss *tokens.Issuer) string {
	t.Helper()
	tok, _, err := iss.Issue("user-1", "sess-1", []string{"admin"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

// claimsAt returns a valid claim set issued at now, as a map that tests can
// spoil with with.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss":   testIssuer,
		"aud":   []string{testAudience},
		"sub":   "user-1",
		"sid":   "sess-1",
		"roles": []string{"user"},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(15 * time.Minute).Unix(),
		"jti":   "test-jti",
	}
}

// with returns a copy of m in which each pair of kv sets a key, or deletes
// it when the value is nil.
func with(m map[string]any, kv ...any) map[string]any {
	m = maps.Clone(m)
	if m == nil {
		m = make(map[string]any)
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
		} else {
			m[k] = kv[i+1]
		}
	}
	return m
}

// forge signs claims with any method and key, bypassing the Issuer. header
// entries are added to the default header (alg, and typ "at+jwt" as the
// Issuer sets it); a nil value deletes one.
func forge(t testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	tok.Header["typ"] = "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("forge: %v", err)
	}
	return s
}

// handBuilt assembles a compact token from raw parts, for tokens that no
// library would sign, such as alg=none.
func handBuilt(t testing.TB, header, claims map[string]any, sig string) string {
	t.Helper()
	return segment(t, header) + "." + segment(t, claims) + "." + sig
}

func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// replacePayload swaps the payload of a signed token, keeping its header
// and signature.
func replacePayload(t testing.TB, tok string, claims map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	parts[1] = segment(t, claims)
	return strings.Join(parts, ".")
}

// decodePayload returns the payload of tok as a map.
func decodePayload(t testing.TB, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// flipLastChar XORs the 6-bit value of the token's last character with
// mask. For an HS256 signature (43 characters, 2 padding bits) mask 1 sets a
// padding bit, which lenient base64 decoding ignores, and mask 4 changes a
// signature bit.
func flipLastChar(tok string, mask byte) string {
	i := strings.IndexByte(b64url, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(b64url[byte(i)^mask])
}
