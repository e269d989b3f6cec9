package interop_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gin-authkit/authkit/tokens"
)

const (
	issuer   = "https://auth.example.com"
	audience = "api.example.com"
)

var now = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

var opts = []tokens.Option{tokens.WithIssuer(issuer), tokens.WithAudience(audience), tokens.WithClock(func() time.Time { return now })}

var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// signer is one authkit key with the private key that go-jose signs with.
type signer struct {
	key  *tokens.Key
	priv any
	alg  jose.SignatureAlgorithm
}

func signers(t *testing.T) []signer {
	t.Helper()
	rsaPriv, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	must := func(k *tokens.Key, err error) *tokens.Key {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return []signer{
		{must(tokens.NewRSAKey("rs-1", rsaPriv)), rsaPriv, jose.RS256},
		{must(tokens.NewRSAPSSKey("ps-1", rsaPriv)), rsaPriv, jose.PS256},
		{must(tokens.NewECDSAKey("ec-1", ecPriv)), ecPriv, jose.ES256},
		{must(tokens.NewEd25519Key("ed-1", edPriv)), edPriv, jose.EdDSA},
	}
}

// claims are the members of an authkit access token that go-jose's
// standard claims leave out.
type claims struct {
	SessionID string   `json:"sid"`
	Roles     []string `json:"roles"`
}

// TestAuthkitTokensVerifyInJose: go-jose, given only the JWKS that an
// authkit Verifier publishes, finds each token's key by kid, verifies its
// signature under the key's alg, and validates its claims.
func TestAuthkitTokensVerifyInJose(t *testing.T) {
	ss := signers(t)
	keys := make([]*tokens.Key, len(ss))
	for i, s := range ss {
		keys[i] = s.key
	}
	verifier, err := tokens.NewVerifier(keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	published, err := verifier.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(published, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v\n%s", err, published)
	}
	for _, s := range ss {
		t.Run(string(s.alg), func(t *testing.T) {
			iss, err := tokens.NewIssuer(s.key, opts...)
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := iss.Issue("user-42", "sess-7", []string{"admin"})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{s.alg})
			if err != nil {
				t.Fatalf("go-jose cannot parse the token: %v", err)
			}
			h := parsed.Headers[0]
			if h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
				t.Errorf("typ %v", h.ExtraHeaders[jose.HeaderType])
			}
			found := set.Key(h.KeyID)
			if len(found) != 1 || !found[0].Valid() || found[0].Algorithm != string(s.alg) || found[0].Use != "sig" || !found[0].IsPublic() {
				t.Fatalf("JWKS key for kid %q: %+v", h.KeyID, found)
			}
			var std josejwt.Claims
			var own claims
			if err := parsed.Claims(found[0], &std, &own); err != nil {
				t.Fatalf("go-jose does not verify the token with the published key: %v", err)
			}
			if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: issuer, AnyAudience: josejwt.Audience{audience}, Time: now}, 0); err != nil {
				t.Errorf("go-jose refuses the claims: %v", err)
			}
			if std.Subject != "user-42" || own.SessionID != "sess-7" || len(own.Roles) != 1 || own.Roles[0] != "admin" {
				t.Errorf("claims %+v %+v", std, own)
			}

			// A token changed after signing fails in go-jose too.
			tampered := token[:len(token)-6] + "AAAAAA"
			if tampered == token {
				tampered = token[:len(token)-6] + "BBBBBB"
			}
			if p, err := josejwt.ParseSigned(tampered, []jose.SignatureAlgorithm{s.alg}); err == nil {
				if err := p.Claims(found[0], &std); err == nil {
					t.Error("go-jose verifies a tampered token")
				}
			}
		})
	}
}

// TestJoseTokensVerifyInAuthkit: a token that go-jose signs, with the typ
// and kid headers and the claims of an authkit access token, verifies in
// an authkit Verifier with the same key; one from a Verifier built from
// the JWKS alone too.
func TestJoseTokensVerifyInAuthkit(t *testing.T) {
	for _, s := range signers(t) {
		t.Run(string(s.alg), func(t *testing.T) {
			sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.priv},
				(&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), s.key.ID()))
			if err != nil {
				t.Fatal(err)
			}
			std := josejwt.Claims{
				Issuer: issuer, Subject: "user-42", Audience: josejwt.Audience{audience},
				IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(tokens.DefaultTTL)),
				ID: "jose-1",
			}
			token, err := josejwt.Signed(sig).Claims(std).Claims(claims{SessionID: "sess-7", Roles: []string{"admin"}}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			set, err := tokens.JWKS(s.key)
			if err != nil {
				t.Fatal(err)
			}
			fromJWKS, err := tokens.ParseJWKS(set)
			if err != nil {
				t.Fatal(err)
			}
			for name, key := range map[string]*tokens.Key{"same key": s.key, "key from the JWKS": fromJWKS[0]} {
				v, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
				if err != nil {
					t.Fatal(err)
				}
				got, err := v.Verify(token)
				if err != nil {
					t.Fatalf("%s: authkit refuses go-jose's token: %v", name, err)
				}
				if got.Subject != "user-42" || got.SessionID != "sess-7" || len(got.Roles) != 1 || got.Roles[0] != "admin" {
					t.Errorf("%s: claims %+v", name, got)
				}
			}

			// Signed by go-jose with another key under the same kid, it fails.
			other := otherKey(t, s.alg)
			forged, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: other},
				(&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), s.key.ID()))
			if err != nil {
				t.Fatal(err)
			}
			bad, err := josejwt.Signed(forged).Claims(std).Claims(claims{SessionID: "sess-7"}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			v, err := tokens.NewVerifier([]*tokens.Key{s.key}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(bad); !errors.Is(err, tokens.ErrSignature) {
				t.Errorf("a token of another key: %v, want ErrSignature", err)
			}
		})
	}
}

// otherKey returns a fresh private key for alg.
func otherKey(t *testing.T, alg jose.SignatureAlgorithm) any {
	t.Helper()
	var k any
	var err error
	switch alg {
	case jose.RS256, jose.PS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}
