package tokens_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/gin-authkit/authkit/tokens"
)

func ExampleIssuer_Issue() {
	// In production the key comes from a secret store; here it is made on
	// the spot.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	key, err := tokens.NewEd25519Key("2030-01", priv)
	if err != nil {
		panic(err)
	}
	issuer, err := tokens.NewIssuer(key,
		tokens.WithIssuer("https://auth.example.com"),
		tokens.WithAudience("api.example.com"),
		tokens.WithTTL(10*time.Minute),
	)
	if err != nil {
		panic(err)
	}

	token, claims, err := issuer.Issue("user-42", "session-7", []string{"admin"})
	if err != nil {
		panic(err)
	}
	fmt.Println(token != "")
	fmt.Println(claims.Subject, claims.SessionID, claims.Roles)
	fmt.Println(claims.ExpiresAt.Sub(claims.IssuedAt.Time))
	// Output:
	// true
	// user-42 session-7 [admin]
	// 10m0s
}

func ExampleVerifier_Verify() {
	key, err := tokens.NewHMACKey("k1", []byte("an example secret of 32 bytes..."))
	if err != nil {
		panic(err)
	}
	// One slice of options serves both sides.
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

	token, _, err := issuer.Issue("user-42", "session-7", []string{"admin", "editor"})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(token)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println(claims.Subject, claims.Roles)

	_, err = verifier.Verify(token + "x")
	fmt.Println(errors.Is(err, tokens.ErrInvalidToken))
	// Output:
	// user-42 [admin editor]
	// true
}

// A token whose only fault is expiry comes back with its claims, so the
// session it belongs to can be checked before refreshing.
func ExampleVerifier_Verify_expired() {
	key, err := tokens.NewHMACKey("k1", []byte("an example secret of 32 bytes..."))
	if err != nil {
		panic(err)
	}
	now := time.Date(2030, time.January, 1, 12, 0, 0, 0, time.UTC)
	opts := []tokens.Option{
		tokens.WithIssuer("https://auth.example.com"),
		tokens.WithAudience("api.example.com"),
		tokens.WithClock(func() time.Time { return now }),
	}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		panic(err)
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		panic(err)
	}
	token, _, err := issuer.Issue("user-42", "session-7", nil)
	if err != nil {
		panic(err)
	}

	now = now.Add(time.Hour) // the clock moves on; no sleeping
	claims, err := verifier.Verify(token)
	switch {
	case errors.Is(err, tokens.ErrExpired):
		fmt.Println("expired; session", claims.SessionID)
	case err != nil:
		fmt.Println("rejected:", err)
	default:
		fmt.Println("valid")
	}
	// Output:
	// expired; session session-7
}
