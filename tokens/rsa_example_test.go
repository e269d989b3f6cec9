package tokens_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gin-authkit/authkit/tokens"
)

// An RS256 key, for verifiers such as API gateways that accept only RSA:
// the Issuer signs with it and the JWKS publishes its public half as an
// RSA key. A key read from PEM (LoadKeyFile) works the same; a key under
// 2048 bits is refused.
func ExampleNewRSAKey() {
	priv, err := rsa.GenerateKey(rand.Reader, 2048) // or tokens.LoadKeyFile("2030-01", "signing.pem")
	if err != nil {
		panic(err)
	}
	key, err := tokens.NewRSAKey("2030-01", priv)
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
	token, _, err := issuer.Issue("user-42", "session-7", []string{"admin"})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(token)
	if err != nil {
		panic(err)
	}
	fmt.Println(key.Algorithm(), claims.Subject)

	jwks, err := verifier.JWKS()
	if err != nil {
		panic(err)
	}
	var set struct {
		Keys []struct{ Kty, Kid, Alg, Use, E string }
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", set.Keys[0])

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	_, err = tokens.NewRSAKey("old", weak)
	fmt.Println(errors.Is(err, tokens.ErrWeakKey))
	// Output:
	// RS256 user-42
	// {Kty:RSA Kid:2030-01 Alg:RS256 Use:sig E:AQAB}
	// true
}
