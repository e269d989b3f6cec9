package passkey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/gin-authkit/authkit/internal/softauthn"
	"github.com/gin-authkit/authkit/passkey"
	"github.com/gin-authkit/authkit/store/memstore"
)

// Example registers a passkey for alice and signs her in with it, once
// as a second factor and once with the passkey alone. A software
// authenticator stands in for the browser: in an application, the options
// go to the page, which passes them to navigator.credentials.create or
// .get and posts the credential's JSON back.
func Example() {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	key := make([]byte, 32) // in production: a fixed secret from configuration
	rand.Read(key)
	pk, err := passkey.New(passkey.Config{
		RPID:          "example.com",
		Origins:       []string{"https://example.com"},
		Factors:       st,
		Challenges:    st,
		UserHandleKey: key,
	})
	if err != nil {
		log.Fatal(err)
	}
	browser := &softauthn.Authenticator{Origin: "https://example.com"}

	// Registration, for a signed-in user.
	options, ceremony, err := pk.BeginRegistration(ctx, "alice", "Phone")
	if err != nil {
		log.Fatal(err)
	}
	body, _, err := browser.Create(options)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := pk.FinishRegistration(ctx, "alice", ceremony, bytes.NewReader(body)); err != nil {
		log.Fatal(err)
	}

	// Sign-in: "alice" after her password, or "" for a passkey alone.
	for _, username := range []string{"alice", ""} {
		options, ceremony, err := pk.BeginLogin(ctx, username)
		if err != nil {
			log.Fatal(err)
		}
		body, err := browser.Get(options)
		if err != nil {
			log.Fatal(err)
		}
		res, err := pk.FinishLogin(ctx, ceremony, bytes.NewReader(body))
		if err != nil {
			log.Fatal(err) // errors.Is(err, passkey.ErrRejected): answer 401
		}
		fmt.Println(res.Username, res.AMR())
	}

	list, err := pk.List(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(list), list[0].Name)
	// Output:
	// alice [hwk mfa]
	// alice [hwk mfa]
	// 1 Phone
}
