package tokens_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

func TestRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	// A clock with sub-second precision checks that iat is truncated once
	// and exp - iat is exactly the TTL.
	now := testNow.Add(700 * time.Millisecond)
	tests := []struct {
		name string
		key  *tokens.Key
		alg  string
	}{
		{name: "HS256", key: k.hs, alg: "HS256"},
		{name: "EdDSA", key: k.ed, alg: "EdDSA"},
		{name: "ES256", key: k.ec, alg: "ES256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.key.Algorithm(); got != tc.alg {
				t.Fatalf("Algorithm() = %q, want %q", got, tc.alg)
			}
			opts := append(baseOptions(now), tokens.WithTTL(10*time.Minute))
			iss, err := tokens.NewIssuer(tc.key, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if iss.TTL() != 10*time.Minute {
				t.Errorf("TTL() = %v", iss.TTL())
			}
			v, err := tokens.NewVerifier([]*tokens.Key{tc.key}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			roles := []string{"admin", "editor"}
			tok, issued, err := iss.Issue("user-42", "sess-7", roles)
			if err != nil {
				t.Fatal(err)
			}
			roles[0] = "mutated" // the issued claims must not alias the caller's slice

			parsed, _, err := jwt.NewParser().ParseUnverified(tok, &tokens.Claims{})
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Header["kid"] != tc.key.ID() || parsed.Header["typ"] != "at+jwt" || parsed.Header["alg"] != tc.alg {
				t.Errorf("header = %v", parsed.Header)
			}

			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for _, c := range []*tokens.Claims{issued, got} {
				iat := now.Truncate(time.Second)
				switch {
				case c.Subject != "user-42", c.SessionID != "sess-7",
					!slices.Equal(c.Roles, []string{"admin", "editor"}),
					c.Issuer != testIssuer, !slices.Equal(c.Audience, jwt.ClaimStrings{testAudience}),
					c.IssuedAt == nil || !c.IssuedAt.Equal(iat),
					c.NotBefore != nil, // nbf would equal iat: left out
					c.ExpiresAt == nil || !c.ExpiresAt.Equal(iat.Add(10*time.Minute)):
					t.Errorf("claims = %+v", c)
				}
				if id, err := base64.RawURLEncoding.Strict().DecodeString(c.ID); err != nil || len(id) != 12 || len(c.ID) != 16 {
					t.Errorf("jti %q: want 12 random bytes in 16 base64url characters (err %v)", c.ID, err)
				}
			}
			// The wire form is the short one: aud a string, no nbf.
			payload := decodePayload(t, tok)
			if aud, ok := payload["aud"].(string); !ok || aud != testAudience {
				t.Errorf("aud on the wire = %#v, want the string %q", payload["aud"], testAudience)
			}
			if nbf, ok := payload["nbf"]; ok {
				t.Errorf("nbf on the wire = %v, want none", nbf)
			}
			if _, second, _ := iss.Issue("user-42", "sess-7", nil); second.ID == issued.ID {
				t.Errorf("two tokens share jti %q", issued.ID)
			}
		})
	}
}

// TestIssueSignatureMatchesJWT holds the Issuer's own HS256 signing (a
// pooled HMAC state) to golang-jwt's: every token, not only the first of
// a state, carries the signature golang-jwt computes for its signing
// input, and golang-jwt's parser accepts every algorithm's tokens.
func TestIssueSignatureMatchesJWT(t *testing.T) {
	k := newTestKeys(t)
	for _, key := range k.all() {
		t.Run(key.Algorithm(), func(t *testing.T) {
			iss, err := tokens.NewIssuer(key, baseOptions(testNow)...)
			if err != nil {
				t.Fatal(err)
			}
			for n := range 3 {
				tok, _, err := iss.Issue("user-42", "sess-7", []string{"admin"})
				if err != nil {
					t.Fatal(err)
				}
				cut := strings.LastIndexByte(tok, '.')
				sig, err := base64.RawURLEncoding.Strict().DecodeString(tok[cut+1:])
				if err != nil {
					t.Fatalf("token %d: signature: %v", n, err)
				}
				if key.Algorithm() == "HS256" {
					want, err := jwt.SigningMethodHS256.Sign(tok[:cut], k.hmacSecret)
					if err != nil || !bytes.Equal(sig, want) {
						t.Errorf("token %d: signature %x, golang-jwt signs %x (err %v)", n, sig, want, err)
					}
				}
				verify := map[string]any{"HS256": k.hmacSecret, "EdDSA": k.edPriv.Public(), "ES256": &k.ecPriv.PublicKey,
					"RS256": &k.rsaPriv.PublicKey, "PS256": &k.rsaPriv.PublicKey}[key.Algorithm()]
				if _, err := jwt.NewParser(jwt.WithTimeFunc(clockAt(testNow))).Parse(tok, func(*jwt.Token) (any, error) { return verify, nil }); err != nil {
					t.Errorf("token %d: golang-jwt: %v", n, err)
				}
			}
		})
	}
}

func TestIssueArguments(t *testing.T) {
	k := newTestKeys(t)
	iss := mustIssuer(t, k.hs)
	tests := []struct {
		name             string
		subject, session string
		want             error
	}{
		{name: "ok", subject: "u", session: "s"},
		{name: "empty subject", session: "s", want: tokens.ErrClaims},
		{name: "empty session", subject: "u", want: tokens.ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, claims, err := iss.Issue(tc.subject, tc.session, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Issue: error %v, want %v", err, tc.want)
			}
			if tc.want != nil && (tok != "" || claims != nil) {
				t.Errorf("Issue returned a token along with error %v", err)
			}
			if errors.Is(err, tokens.ErrInvalidToken) {
				t.Errorf("Issue error %v wraps ErrInvalidToken, which is for verification", err)
			}
		})
	}
}

// TestRotation checks that a verifier holding the old and the new key
// accepts tokens from both, including through a verify-only key.
func TestRotation(t *testing.T) {
	k := newTestKeys(t)
	oldPub, err := tokens.NewEd25519PublicKey("ed-1", k.edPriv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := tokens.NewHMACKey("hs-2", []byte("a brand new secret of 32+ bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	verifiers := map[string]*tokens.Verifier{
		"private keys":  mustVerifier(t, []*tokens.Key{k.ed, newKey}),
		"verify-only":   mustVerifier(t, []*tokens.Key{oldPub, newKey}),
		"reverse order": mustVerifier(t, []*tokens.Key{newKey, k.ed}),
	}
	issuers := map[string]*tokens.Issuer{
		"old": mustIssuer(t, k.ed),
		"new": mustIssuer(t, newKey),
	}
	for vn, v := range verifiers {
		for in, iss := range issuers {
			t.Run(vn+"/"+in, func(t *testing.T) {
				if _, err := v.Verify(mustIssue(t, iss)); err != nil {
					t.Errorf("Verify: %v", err)
				}
			})
		}
	}
	// Once the old key is dropped, its tokens fail on the kid.
	if _, err := mustVerifier(t, []*tokens.Key{newKey}).Verify(mustIssue(t, issuers["old"])); !errors.Is(err, tokens.ErrSignature) {
		t.Errorf("Verify after rotation: %v, want ErrSignature", err)
	}
}

func TestDeriveSecret(t *testing.T) {
	k := newTestKeys(t)
	ecScalar, err := k.ecPriv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	otherHS, err := tokens.NewHMACKey("hs-1", bytes.Repeat([]byte("t"), 32))
	if err != nil {
		t.Fatal(err)
	}
	otherEd, err := tokens.NewEd25519Key("ed-1", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	otherECPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, err := tokens.NewECDSAKey("ec-1", otherECPriv)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		key      *tokens.Key
		other    *tokens.Key // same kind and id, other material
		material []byte      // what the HMAC must be keyed with
	}{
		{name: "HS256", key: k.hs, other: otherHS, material: k.hmacSecret},
		{name: "EdDSA", key: k.ed, other: otherEd, material: k.edPriv.Seed()},
		{name: "ES256", key: k.ec, other: otherEC, material: ecScalar},
	}
	seen := make(map[string]string) // secret -> test name, across key types
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := mustIssuer(t, tc.key)
			got := iss.DeriveSecret("refresh")
			if len(got) != 32 {
				t.Fatalf("DeriveSecret: %d bytes, want 32", len(got))
			}
			// The construction is part of the contract: secrets derived by
			// one version must be derived again by the next.
			mac := hmac.New(sha256.New, tc.material)
			mac.Write([]byte("authkit derive v1\x00refresh"))
			if want := mac.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("DeriveSecret = %x, want HMAC-SHA256 of the key material %x", got, want)
			}
			if again := iss.DeriveSecret("refresh"); !bytes.Equal(got, again) {
				t.Errorf("DeriveSecret not deterministic: %x, then %x", got, again)
			}
			if second := mustIssuer(t, tc.key, tokens.WithTTL(time.Hour)).DeriveSecret("refresh"); !bytes.Equal(got, second) {
				t.Errorf("another Issuer with the same key derived %x, want %x", second, got)
			}
			for _, label := range []string{"", "csrf", "Refresh", "refresh\x00", "refres"} {
				if d := iss.DeriveSecret(label); bytes.Equal(d, got) || len(d) != 32 {
					t.Errorf("DeriveSecret(%q) = %x, want 32 bytes other than DeriveSecret(\"refresh\")", label, d)
				}
			}
			if d := mustIssuer(t, tc.other).DeriveSecret("refresh"); bytes.Equal(d, got) {
				t.Errorf("another key derived the same secret %x", d)
			}
			got[0] ^= 0xff // the result is the caller's to keep
			if again := iss.DeriveSecret("refresh"); bytes.Equal(got, again) {
				t.Errorf("DeriveSecret returned a shared slice")
			}
			got[0] ^= 0xff
			if prev, dup := seen[string(got)]; dup {
				t.Errorf("same secret as %s", prev)
			}
			seen[string(got)] = tc.name
		})
	}

	var zero tokens.Issuer
	if d := zero.DeriveSecret("refresh"); d != nil {
		t.Errorf("zero Issuer derived %x, want nil", d)
	}
	if d := (*tokens.Issuer)(nil).DeriveSecret("refresh"); d != nil {
		t.Errorf("nil Issuer derived %x, want nil", d)
	}
}

// TestIssueAuthnRoundTrip checks that amr, auth_time and acr travel from
// IssueAuthn through Verify (lean, cached and golang-jwt's reference) and
// are left out of the wire form when empty, and that Issue writes none.
func TestIssueAuthnRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	authAt := testNow.Add(-3*time.Minute - 400*time.Millisecond)
	tests := []struct {
		name     string
		authn    tokens.Authn
		wantAMR  []string
		wantTime time.Time // zero: no auth_time
		wantACR  string
		wire     []string // claims expected on the wire among amr, auth_time, acr
	}{
		{name: "password", authn: tokens.Authn{AMR: []string{tokens.AMRPassword}, Time: authAt},
			wantAMR: []string{"pwd"}, wantTime: authAt.Truncate(time.Second), wire: []string{"amr", "auth_time"}},
		{name: "second factor", authn: tokens.Authn{AMR: []string{"pwd", "otp", "mfa"}, Time: testNow, ACR: tokens.ACRMultiFactor},
			wantAMR: []string{"pwd", "otp", "mfa"}, wantTime: testNow, wantACR: "urn:authkit:acr:mfa", wire: []string{"amr", "auth_time", "acr"}},
		{name: "zero", authn: tokens.Authn{}},
		{name: "empty amr", authn: tokens.Authn{AMR: []string{}}},
		{name: "time only", authn: tokens.Authn{Time: authAt}, wantTime: authAt.Truncate(time.Second), wire: []string{"auth_time"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := mustIssuer(t, k.hs)
			amr := slices.Clone(tc.authn.AMR)
			tc.authn.AMR = amr
			tok, issued, err := iss.IssueAuthn("user-1", "sess-1", []string{"user"}, tc.authn)
			if err != nil {
				t.Fatal(err)
			}
			if len(amr) > 0 {
				amr[0] = "mutated" // the claims must not alias the caller's slice
			}
			lean := mustVerifier(t, k.all(), tokens.WithCacheSize(0))
			cached := mustVerifier(t, k.all())
			ref, err := lean.VerifyReference(tok)
			if err != nil {
				t.Fatal(err)
			}
			results := []*tokens.Claims{issued, ref}
			for _, v := range []*tokens.Verifier{lean, cached, cached} {
				got, err := v.Verify(tok)
				if err != nil {
					t.Fatal(err)
				}
				results = append(results, got)
			}
			for i, c := range results {
				gotTime := time.Time{}
				if c.AuthTime != nil {
					gotTime = c.AuthTime.Time
				}
				if !slices.Equal(c.AMR, tc.wantAMR) || !gotTime.Equal(tc.wantTime) || c.ACR != tc.wantACR {
					t.Errorf("claims %d: amr %#v auth_time %v acr %q; want %#v %v %q", i, c.AMR, gotTime, c.ACR, tc.wantAMR, tc.wantTime, tc.wantACR)
				}
			}
			payload := decodePayload(t, tok)
			for _, name := range []string{"amr", "auth_time", "acr"} {
				if _, ok := payload[name]; ok != slices.Contains(tc.wire, name) {
					t.Errorf("%s on the wire: %v, want %v", name, ok, !ok)
				}
			}
		})
	}
	t.Run("Issue writes none", func(t *testing.T) {
		tok, c, err := mustIssuer(t, k.hs).Issue("user-1", "sess-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		payload := decodePayload(t, tok)
		for _, name := range []string{"amr", "auth_time", "acr"} {
			if _, ok := payload[name]; ok {
				t.Errorf("%s on the wire of Issue", name)
			}
		}
		if c.AMR != nil || c.AuthTime != nil || c.ACR != "" {
			t.Errorf("claims of Issue = %+v", c)
		}
	})
}
