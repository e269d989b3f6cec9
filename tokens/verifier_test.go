package tokens_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

// causes are the specific errors of which exactly one must accompany
// ErrInvalidToken.
var causes = []error{tokens.ErrMalformed, tokens.ErrSignature, tokens.ErrExpired, tokens.ErrClaims}

// checkVerifyResult checks the contract of Verify for one result.
func checkVerifyResult(t *testing.T, claims *tokens.Claims, err, want error) {
	t.Helper()
	if err != nil {
		t.Logf("Verify: %v", err)
	}
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: unexpected error %v", err)
		}
		if claims == nil || claims.Subject == "" || claims.SessionID == "" {
			t.Fatalf("Verify: accepted token with claims %+v", claims)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify: error %v, want %v", err, want)
	}
	if !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("Verify: error %v does not wrap ErrInvalidToken", err)
	}
	n := 0
	for _, c := range causes {
		if errors.Is(err, c) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Verify: error %v wraps %d causes, want exactly 1", err, n)
	}
	if want == tokens.ErrClaims && !errors.Is(err, jwt.ErrTokenInvalidClaims) {
		t.Errorf("Verify: error %v does not wrap jwt.ErrTokenInvalidClaims", err)
	}
	if want != tokens.ErrExpired && errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Verify: error %v matches jwt.ErrTokenExpired but not ErrExpired", err)
	}
	if want == tokens.ErrExpired {
		if !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("Verify: error %v does not wrap jwt.ErrTokenExpired", err)
		}
		if claims == nil || claims.Subject != "user-1" || claims.SessionID != "sess-1" {
			t.Errorf("Verify: expired token gave claims %+v, want decoded claims", claims)
		}
	} else if claims != nil {
		t.Errorf("Verify: got claims %+v with error %v, want nil", claims, err)
	}
}

// TestMaxLifetime checks that WithTTL and WithLeeway set the longest
// lifetime (exp - iat) a Verifier accepts, and that the Issuer's tokens fit
// when both share one option list.
func TestMaxLifetime(t *testing.T) {
	k := newTestKeys(t)
	tests := []struct {
		name     string
		ttl      time.Duration // given to the Verifier
		leeway   time.Duration
		lifetime time.Duration // exp - iat of the token
		want     error
	}{
		{name: "default, TTL", ttl: tokens.DefaultTTL, leeway: tokens.DefaultLeeway, lifetime: tokens.DefaultTTL},
		{name: "default, TTL+leeway", ttl: tokens.DefaultTTL, leeway: tokens.DefaultLeeway, lifetime: tokens.DefaultTTL + tokens.DefaultLeeway},
		{name: "default, TTL+leeway+1s", ttl: tokens.DefaultTTL, leeway: tokens.DefaultLeeway, lifetime: tokens.DefaultTTL + tokens.DefaultLeeway + time.Second, want: tokens.ErrClaims},
		{name: "1m no leeway, 1m", ttl: time.Minute, lifetime: time.Minute},
		{name: "1m no leeway, 1m1s", ttl: time.Minute, lifetime: time.Minute + time.Second, want: tokens.ErrClaims},
		{name: "1h with 1m leeway, 1h1m", ttl: time.Hour, leeway: time.Minute, lifetime: time.Hour + time.Minute},
		{name: "1h with 1m leeway, 1h1m1s", ttl: time.Hour, leeway: time.Minute, lifetime: time.Hour + time.Minute + time.Second, want: tokens.ErrClaims},
		{name: "1s no leeway, 1s", ttl: time.Second, lifetime: time.Second},
		{name: "1s no leeway, 2s", ttl: time.Second, lifetime: 2 * time.Second, want: tokens.ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, k.all(), tokens.WithTTL(tc.ttl), tokens.WithLeeway(tc.leeway))
			tok := forge(t, jwt.SigningMethodHS256, k.hmacSecret, map[string]any{"kid": "hs-1"},
				with(claimsAt(testNow), "exp", testNow.Add(tc.lifetime).Unix()))
			claims, err := v.Verify(tok)
			checkVerifyResult(t, claims, err, tc.want)
		})
	}

	// Issuer and Verifier built from one option list always agree.
	for _, ttl := range []time.Duration{time.Second, time.Minute, tokens.DefaultTTL, 24 * time.Hour} {
		for _, key := range k.all() {
			t.Run("issued/"+ttl.String()+"/"+key.Algorithm(), func(t *testing.T) {
				opts := []tokens.Option{tokens.WithTTL(ttl), tokens.WithLeeway(0)}
				claims, err := mustVerifier(t, k.all(), opts...).Verify(mustIssue(t, mustIssuer(t, key, opts...)))
				checkVerifyResult(t, claims, err, nil)
			})
		}
	}

	// A Verifier left at the default TTL refuses an Issuer's longer tokens.
	t.Run("issuer TTL longer than verifier's", func(t *testing.T) {
		tok := mustIssue(t, mustIssuer(t, k.ed, tokens.WithTTL(time.Hour)))
		claims, err := mustVerifier(t, k.all()).Verify(tok)
		checkVerifyResult(t, claims, err, tokens.ErrClaims)
	})
}

var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func TestVerify(t *testing.T) {
	k := newTestKeys(t)
	v := mustVerifier(t, k.all())
	onlyEC := mustVerifier(t, []*tokens.Key{k.ec})
	onlyEd := mustVerifier(t, []*tokens.Key{k.ed})

	ecPubDER, err := x509.MarshalPKIXPublicKey(&k.ecPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER})
	edPubRaw := []byte(k.edPriv.Public().(ed25519.PublicKey))
	rsaPriv, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}

	now := testNow
	valid := claimsAt(now)
	hs := func(header, claims map[string]any) string {
		h := map[string]any{"kid": "hs-1"}
		maps.Copy(h, header)
		return forge(t, jwt.SigningMethodHS256, k.hmacSecret, h, claims)
	}
	hsToken := mustIssue(t, mustIssuer(t, k.hs))
	edToken := mustIssue(t, mustIssuer(t, k.ed))
	// issuedFor returns valid claims that expire at exp, issued one default
	// TTL before.
	issuedFor := func(exp time.Time) map[string]any {
		iat := exp.Add(-tokens.DefaultTTL)
		return with(valid, "iat", iat.Unix(), "nbf", iat.Unix(), "exp", exp.Unix())
	}
	expired := issuedFor(now.Add(-5 * time.Minute))

	tests := []struct {
		name     string
		verifier *tokens.Verifier // v when nil
		token    string
		want     error
	}{
		// Accepted.
		{name: "issued HS256", token: hsToken},
		{name: "issued EdDSA", token: edToken},
		{name: "issued ES256", token: mustIssue(t, mustIssuer(t, k.ec))},
		{name: "forged with valid claims", token: hs(nil, valid)},
		{name: "aud as a single string", token: hs(nil, with(valid, "aud", testAudience))},
		{name: "aud list containing ours", token: hs(nil, with(valid, "aud", []string{"other", testAudience}))},
		{name: "no nbf", token: hs(nil, with(valid, "nbf", nil))},
		{name: "no roles", token: hs(nil, with(valid, "roles", nil))},
		{name: "expired within leeway", token: hs(nil, issuedFor(now.Add(-3*time.Second)))},
		{name: "iat ahead within leeway", token: hs(nil, with(valid, "iat", now.Add(3*time.Second).Unix(), "nbf", nil))},

		// Malformed input.
		{name: "empty string", token: "", want: tokens.ErrMalformed},
		{name: "garbage", token: "not a token", want: tokens.ErrMalformed},
		{name: "one dot", token: "a.b", want: tokens.ErrMalformed},
		{name: "two dots only", token: "..", want: tokens.ErrMalformed},
		{name: "four segments", token: hsToken + ".x", want: tokens.ErrMalformed},
		{name: "bad base64 header", token: "!!!." + strings.SplitN(hsToken, ".", 2)[1], want: tokens.ErrMalformed},
		{name: "bad base64 payload", token: strings.Replace(hsToken, ".", ".*", 1), want: tokens.ErrMalformed},
		{name: "padded signature", token: hsToken + "=", want: tokens.ErrMalformed},
		{name: "header not JSON", token: "bm90IGpzb24." + strings.SplitN(hsToken, ".", 2)[1], want: tokens.ErrMalformed},
		{name: "exp of wrong type", token: hs(nil, with(valid, "exp", "tomorrow")), want: tokens.ErrMalformed},
		{name: "sub of wrong type", token: hs(nil, with(valid, "sub", 42)), want: tokens.ErrMalformed},
		{name: "oversized", token: strings.Repeat("a", tokens.MaxTokenSize+1), want: tokens.ErrMalformed},
		{name: "oversized but well formed", token: hs(nil, with(valid, "pad", strings.Repeat("x", tokens.MaxTokenSize))), want: tokens.ErrMalformed},
		{name: "signature with non-canonical base64", token: flipLastChar(hsToken, 1), want: tokens.ErrMalformed},

		// Signature and key selection.
		{name: "signature altered", token: flipLastChar(hsToken, 4), want: tokens.ErrSignature},
		{name: "signature removed", token: hsToken[:strings.LastIndexByte(hsToken, '.')+1], want: tokens.ErrSignature},
		{name: "payload tampered (roles)", token: replacePayload(t, hsToken, with(decodePayload(t, hsToken), "roles", []string{"admin", "root"})), want: tokens.ErrSignature},
		{name: "payload of one token, signature of another", token: replacePayload(t, edToken, decodePayload(t, hsToken)), want: tokens.ErrSignature},
		{name: "wrong HMAC secret", token: forge(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), map[string]any{"kid": "hs-1"}, valid), want: tokens.ErrSignature},
		{name: "unknown kid", token: hs(map[string]any{"kid": "nope"}, valid), want: tokens.ErrSignature},
		{name: "missing kid", token: forge(t, jwt.SigningMethodHS256, k.hmacSecret, nil, valid), want: tokens.ErrSignature},
		{name: "kid not a string", token: hs(map[string]any{"kid": 1}, valid), want: tokens.ErrSignature},
		{name: "alg none", token: handBuilt(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "hs-1"}, valid, ""), want: tokens.ErrSignature},
		{name: "alg None", token: handBuilt(t, map[string]any{"alg": "None", "typ": "at+jwt", "kid": "hs-1"}, valid, ""), want: tokens.ErrSignature},
		{name: "alg missing", token: handBuilt(t, map[string]any{"typ": "at+jwt", "kid": "hs-1"}, valid, "c2ln"), want: tokens.ErrSignature},
		{name: "alg HS512 not allowed", token: forge(t, jwt.SigningMethodHS512, k.hmacSecret, map[string]any{"kid": "hs-1"}, valid), want: tokens.ErrSignature},
		{name: "RS256", token: forge(t, jwt.SigningMethodRS256, rsaPriv, map[string]any{"kid": "hs-1"}, valid), want: tokens.ErrSignature},
		{name: "RS256 with RSA kid", token: forge(t, jwt.SigningMethodRS256, rsaPriv, map[string]any{"kid": "rsa-1"}, valid), want: tokens.ErrSignature},
		{name: "EdDSA token naming the ES256 key", token: forge(t, jwt.SigningMethodEdDSA, k.edPriv, map[string]any{"kid": "ec-1"}, valid), want: tokens.ErrSignature},
		{name: "HS/ES confusion, PEM", token: forge(t, jwt.SigningMethodHS256, ecPubPEM, map[string]any{"kid": "ec-1"}, valid), want: tokens.ErrSignature},
		{name: "HS/ES confusion, DER", token: forge(t, jwt.SigningMethodHS256, ecPubDER, map[string]any{"kid": "ec-1"}, valid), want: tokens.ErrSignature},
		{name: "HS/EdDSA confusion", token: forge(t, jwt.SigningMethodHS256, edPubRaw, map[string]any{"kid": "ed-1"}, valid), want: tokens.ErrSignature},
		{name: "HS/ES confusion, ES-only verifier", verifier: onlyEC, token: forge(t, jwt.SigningMethodHS256, ecPubPEM, map[string]any{"kid": "ec-1"}, valid), want: tokens.ErrSignature},
		{name: "HS/EdDSA confusion, EdDSA-only verifier", verifier: onlyEd, token: forge(t, jwt.SigningMethodHS256, edPubRaw, map[string]any{"kid": "ed-1"}, valid), want: tokens.ErrSignature},
		{name: "HS256 token, ES-only verifier", verifier: onlyEC, token: hsToken, want: tokens.ErrSignature},
		{name: "bad signature and bad claims", token: flipLastChar(hs(nil, with(valid, "iss", "evil")), 4), want: tokens.ErrSignature},

		// Header: typ must be at+jwt (RFC 9068), crit must be absent.
		{name: "typ at+jwt", token: hs(map[string]any{"typ": "at+jwt"}, valid)},
		{name: "typ AT+JWT", token: hs(map[string]any{"typ": "AT+JWT"}, valid)},
		{name: "typ application/at+jwt", token: hs(map[string]any{"typ": "application/at+jwt"}, valid)},
		{name: "typ Application/At+Jwt", token: hs(map[string]any{"typ": "Application/At+Jwt"}, valid)},
		{name: "typ missing", token: hs(map[string]any{"typ": nil}, valid), want: tokens.ErrSignature},
		{name: "typ JWT", token: hs(map[string]any{"typ": "JWT"}, valid), want: tokens.ErrSignature},
		{name: "typ application/jwt", token: hs(map[string]any{"typ": "application/jwt"}, valid), want: tokens.ErrSignature},
		{name: "typ empty", token: hs(map[string]any{"typ": ""}, valid), want: tokens.ErrSignature},
		{name: "typ null", token: hs(map[string]any{"typ": json.RawMessage("null")}, valid), want: tokens.ErrSignature},
		{name: "typ not a string", token: hs(map[string]any{"typ": 1}, valid), want: tokens.ErrSignature},
		{name: "typ list", token: hs(map[string]any{"typ": []string{"at+jwt"}}, valid), want: tokens.ErrSignature},
		{name: "typ with trailing space", token: hs(map[string]any{"typ": "at+jwt "}, valid), want: tokens.ErrSignature},
		{name: "typ with parameter", token: hs(map[string]any{"typ": "application/at+jwt; charset=utf-8"}, valid), want: tokens.ErrSignature},
		{name: "typ with double prefix", token: hs(map[string]any{"typ": "application/application/at+jwt"}, valid), want: tokens.ErrSignature},
		{name: "typ other prefix", token: hs(map[string]any{"typ": "text/at+jwt"}, valid), want: tokens.ErrSignature},
		{name: "typ JWT, EdDSA", token: forge(t, jwt.SigningMethodEdDSA, k.edPriv, map[string]any{"kid": "ed-1", "typ": "JWT"}, valid), want: tokens.ErrSignature},
		{name: "typ JWT and expired", token: hs(map[string]any{"typ": "JWT"}, expired), want: tokens.ErrSignature},
		{name: "typ missing and expired", token: hs(map[string]any{"typ": nil}, expired), want: tokens.ErrSignature},
		{name: "crit with a claim name", token: hs(map[string]any{"crit": []string{"exp"}, "exp": 1}, valid), want: tokens.ErrSignature},
		{name: "crit b64", token: hs(map[string]any{"crit": []string{"b64"}, "b64": false}, valid), want: tokens.ErrSignature},
		{name: "crit empty list", token: hs(map[string]any{"crit": []string{}}, valid), want: tokens.ErrSignature},
		{name: "crit null", token: hs(map[string]any{"crit": json.RawMessage("null")}, valid), want: tokens.ErrSignature},
		{name: "crit and expired", token: hs(map[string]any{"crit": []string{"x"}, "x": 1}, expired), want: tokens.ErrSignature},

		// Lifetime: exp - iat at most the TTL plus the leeway (15m5s here).
		{name: "lifetime TTL+leeway", token: hs(nil, with(valid, "exp", now.Add(tokens.DefaultTTL+tokens.DefaultLeeway).Unix()))},
		{name: "lifetime TTL+leeway+1s", token: hs(nil, with(valid, "exp", now.Add(tokens.DefaultTTL+tokens.DefaultLeeway+time.Second).Unix())), want: tokens.ErrClaims},
		{name: "lifetime of years", token: hs(nil, with(valid, "exp", now.AddDate(10, 0, 0).Unix())), want: tokens.ErrClaims},
		{name: "iat long ago, exp soon", token: hs(nil, with(valid, "iat", now.Add(-time.Hour).Unix(), "nbf", nil, "exp", now.Add(time.Minute).Unix())), want: tokens.ErrClaims},
		{name: "lifetime too long and wrong audience", token: hs(nil, with(valid, "aud", "other", "exp", now.Add(time.Hour).Unix())), want: tokens.ErrClaims},

		// Claims.
		{name: "wrong issuer", token: hs(nil, with(valid, "iss", "https://evil.example.com")), want: tokens.ErrClaims},
		{name: "missing issuer", token: hs(nil, with(valid, "iss", nil)), want: tokens.ErrClaims},
		{name: "wrong audience", token: hs(nil, with(valid, "aud", []string{"other"})), want: tokens.ErrClaims},
		{name: "missing audience", token: hs(nil, with(valid, "aud", nil)), want: tokens.ErrClaims},
		{name: "empty audience", token: hs(nil, with(valid, "aud", []string{})), want: tokens.ErrClaims},
		{name: "missing exp", token: hs(nil, with(valid, "exp", nil)), want: tokens.ErrClaims},
		{name: "exp 0", token: hs(nil, with(valid, "exp", 0)), want: tokens.ErrClaims},
		{name: "missing iat", token: hs(nil, with(valid, "iat", nil)), want: tokens.ErrClaims},
		{name: "future iat", token: hs(nil, with(valid, "iat", now.Add(time.Hour).Unix(), "nbf", nil, "exp", now.Add(time.Hour+time.Minute).Unix())), want: tokens.ErrClaims},
		{name: "nbf in future", token: hs(nil, with(valid, "nbf", now.Add(time.Minute).Unix())), want: tokens.ErrClaims},
		{name: "missing sub", token: hs(nil, with(valid, "sub", nil)), want: tokens.ErrClaims},
		{name: "empty sub", token: hs(nil, with(valid, "sub", "")), want: tokens.ErrClaims},
		{name: "missing sid", token: hs(nil, with(valid, "sid", nil)), want: tokens.ErrClaims},
		{name: "exp not after iat", token: hs(nil, with(valid, "exp", now.Unix())), want: tokens.ErrClaims},

		// Expiry.
		{name: "expired", token: hs(nil, expired), want: tokens.ErrExpired},
		{name: "expired at leeway's end", token: hs(nil, issuedFor(now.Add(-5*time.Second))), want: tokens.ErrExpired},
		{name: "expired by a second past leeway", token: hs(nil, issuedFor(now.Add(-6*time.Second))), want: tokens.ErrExpired},
		{name: "expired and wrong audience", token: hs(nil, with(expired, "aud", []string{"other"})), want: tokens.ErrClaims},
		{name: "expired and wrong issuer", token: hs(nil, with(expired, "iss", "evil")), want: tokens.ErrClaims},
		{name: "expired and missing sid", token: hs(nil, with(expired, "sid", nil)), want: tokens.ErrClaims},
		{name: "expired and missing iat", token: hs(nil, with(expired, "iat", nil)), want: tokens.ErrClaims},
		{name: "expired, never valid (nbf after exp)", token: hs(nil, with(expired, "nbf", now.Add(-time.Minute).Unix())), want: tokens.ErrClaims},
		{name: "expired, never valid (iat after exp)", token: hs(nil, with(expired, "iat", now.Add(-time.Minute).Unix(), "nbf", nil)), want: tokens.ErrClaims},
		{name: "expired, signature altered", token: flipLastChar(hs(nil, expired), 4), want: tokens.ErrSignature},
		{name: "expired, lifetime TTL+leeway", token: hs(nil, with(expired, "iat", now.Add(-20*time.Minute-5*time.Second).Unix(), "nbf", nil)), want: tokens.ErrExpired},
		{name: "expired, lifetime TTL+leeway+1s", token: hs(nil, with(expired, "iat", now.Add(-20*time.Minute-6*time.Second).Unix(), "nbf", nil)), want: tokens.ErrClaims},
		{name: "expired, lifetime of days", token: hs(nil, with(expired, "iat", now.AddDate(0, 0, -3).Unix(), "nbf", nil)), want: tokens.ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			verifier := tc.verifier
			if verifier == nil {
				verifier = v
			}
			claims, err := verifier.Verify(tc.token)
			checkVerifyResult(t, claims, err, tc.want)
		})
	}
}
