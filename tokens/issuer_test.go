package tokens_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"slices"
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
			if parsed.Header["kid"] != tc.key.ID() || parsed.Header["typ"] != "JWT" || parsed.Header["alg"] != tc.alg {
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
					c.NotBefore == nil || !c.NotBefore.Equal(iat),
					c.ExpiresAt == nil || !c.ExpiresAt.Equal(iat.Add(10*time.Minute)):
					t.Errorf("claims = %+v", c)
				}
				if id, err := base64.RawURLEncoding.Strict().DecodeString(c.ID); err != nil || len(id) != 16 {
					t.Errorf("jti %q: want 16 random bytes in base64url (err %v)", c.ID, err)
				}
			}
			if _, second, _ := iss.Issue("user-42", "sess-7", nil); second.ID == issued.ID {
				t.Errorf("two tokens share jti %q", issued.ID)
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
