package tokens_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/gin-authkit/authkit/tokens"
)

// An auth service publishes the JWKS of its verifier; another service
// verifies its tokens with that alone, and cannot sign any.
func ExampleVerifier_JWKS() {
	// The auth service.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	key, err := tokens.NewEd25519Key("2030-01", priv)
	if err != nil {
		panic(err)
	}
	opts := []tokens.Option{
		tokens.WithIssuer("https://auth.example.com"),
		tokens.WithAudience("api.example.com"),
	}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		panic(err)
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		panic(err)
	}
	jwks, err := verifier.JWKS() // served at /.well-known/jwks.json
	if err != nil {
		panic(err)
	}
	token, _, err := issuer.Issue("user-42", "session-7", []string{"admin"})
	if err != nil {
		panic(err)
	}

	// Another service, which has fetched jwks.
	keys, err := tokens.ParseJWKS(jwks)
	if err != nil {
		panic(err)
	}
	api, err := tokens.NewVerifier(keys, opts...)
	if err != nil {
		panic(err)
	}
	claims, err := api.Verify(token)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println(keys, claims.Subject, claims.Roles)

	_, err = tokens.NewIssuer(keys[0], opts...)
	fmt.Println("can sign:", !errors.Is(err, tokens.ErrConfig))
	// Output:
	// [tokens.Key{kid="2030-01" alg=EdDSA}] user-42 [admin]
	// can sign: false
}
