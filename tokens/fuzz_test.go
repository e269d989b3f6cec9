package tokens_test

import (
	"errors"
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

// FuzzVerify checks that Verify never panics and keeps its contract on any
// input: accepted tokens have a subject and a session, claims come with an
// error only for expiry, and every error is an ErrInvalidToken.
func FuzzVerify(f *testing.F) {
	k := newTestKeys(f)
	v := mustVerifier(f, k.all())
	f.Add(mustIssue(f, mustIssuer(f, k.hs)))
	f.Add(mustIssue(f, mustIssuer(f, k.ed)))
	f.Add(mustIssue(f, mustIssuer(f, k.ec)))
	f.Add(handBuilt(f, map[string]any{"alg": "none", "kid": "hs-1"}, claimsAt(testNow), ""))
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "not a token", "eyJ.eyJ.", "\x00\xff.\x80.", "e30.e30.e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(token)
		switch {
		case err == nil:
			if claims == nil || claims.Subject == "" || claims.SessionID == "" {
				t.Fatalf("accepted %q with claims %+v", token, claims)
			}
		case !errors.Is(err, tokens.ErrInvalidToken):
			t.Fatalf("error %v does not wrap ErrInvalidToken", err)
		case claims != nil && !errors.Is(err, tokens.ErrExpired):
			t.Fatalf("claims returned with error %v", err)
		}
	})
}
