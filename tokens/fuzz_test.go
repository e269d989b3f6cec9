package tokens_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that Verify never panics and keeps its contract on any
// input: accepted tokens have a subject and a session (or a client), a typ
// of at+jwt, no crit header and a lifetime within the TTL plus the leeway;
// claims come with an error only for expiry; and every error is an
// ErrInvalidToken.
//
// Besides the seeds added here, testdata/fuzz/FuzzVerify holds a committed
// corpus of HS256 and EdDSA tokens (whose keys are fixed in newTestKeys).
func FuzzVerify(f *testing.F) {
	k := newTestKeys(f)
	v := mustVerifier(f, k.all())
	f.Add(mustIssue(f, mustIssuer(f, k.hs)))
	f.Add(mustIssue(f, mustIssuer(f, k.ed)))
	f.Add(mustIssue(f, mustIssuer(f, k.ec)))
	f.Add(mustIssue(f, mustIssuer(f, k.rs)))
	f.Add(mustIssue(f, mustIssuer(f, k.ps)))
	for _, g := range []tokens.Grant{
		{Subject: "user-1", SessionID: "sess-1", Extra: map[string]any{"tenant": "acme", "email": "alice@example.com"}},
		{Subject: "svc-1", ClientID: "svc-1", Extra: map[string]any{"org": map[string]any{"id": 7}}},
	} {
		tok, _, err := mustIssuer(f, k.hs).IssueGrant(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add(handBuilt(f, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "hs-1"}, claimsAt(testNow), ""))
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "not a token", "eyJ.eyJ.", "\x00\xff.\x80.", "e30.e30.e30"} {
		f.Add(s)
	}

	// Seeds for the header and lifetime rules.
	valid := claimsAt(testNow)
	expired := with(valid, "iat", testNow.Add(-time.Hour).Unix(), "nbf", nil, "exp", testNow.Add(-time.Hour+tokens.DefaultTTL).Unix())
	for _, h := range []map[string]any{
		{"typ": nil}, {"typ": "JWT"}, {"typ": "AT+JWT"}, {"typ": "application/at+jwt"}, {"typ": "application/jwt"},
		{"crit": []string{"exp"}}, {"crit": []string{}}, {"crit": []string{"b64"}, "b64": false},
	} {
		h["kid"] = "hs-1"
		f.Add(forge(f, jwt.SigningMethodHS256, k.hmacSecret, h, valid))
		f.Add(forge(f, jwt.SigningMethodHS256, k.hmacSecret, h, expired))
	}
	hs := map[string]any{"kid": "hs-1"}
	for _, life := range []time.Duration{tokens.DefaultTTL + tokens.DefaultLeeway, tokens.DefaultTTL + tokens.DefaultLeeway + time.Second, 24 * time.Hour} {
		f.Add(forge(f, jwt.SigningMethodHS256, k.hmacSecret, hs, with(valid, "exp", testNow.Add(life).Unix())))
		f.Add(forge(f, jwt.SigningMethodHS256, k.hmacSecret, hs, with(expired, "exp", testNow.Add(-time.Hour+life).Unix())))
	}

	maxLifetime := tokens.DefaultTTL + tokens.DefaultLeeway
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(token)
		switch {
		case err == nil:
			if claims == nil || claims.Subject == "" || claims.SessionID == "" && claims.ClientID == "" {
				t.Fatalf("accepted %q with claims %+v", token, claims)
			}
			checkAccepted(t, token, claims, maxLifetime)
		case !errors.Is(err, tokens.ErrInvalidToken):
			t.Fatalf("error %v does not wrap ErrInvalidToken", err)
		case claims != nil && !errors.Is(err, tokens.ErrExpired):
			t.Fatalf("claims returned with error %v", err)
		case claims != nil:
			checkAccepted(t, token, claims, maxLifetime)
		}
	})
}

// checkAccepted checks the header and lifetime rules on a token that Verify
// accepted, or refused as merely expired.
func checkAccepted(t *testing.T, token string, claims *tokens.Claims, maxLifetime time.Duration) {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &tokens.Claims{})
	if err != nil {
		t.Fatalf("accepted %q, which golang-jwt cannot parse: %v", token, err)
	}
	typ, _ := parsed.Header["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		t.Fatalf("accepted %q with typ %v", token, parsed.Header["typ"])
	}
	if _, ok := parsed.Header["crit"]; ok {
		t.Fatalf("accepted %q with crit %v", token, parsed.Header["crit"])
	}
	if claims.ExpiresAt == nil || claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxLifetime {
		t.Fatalf("accepted %q with iat %v and exp %v", token, claims.IssuedAt, claims.ExpiresAt)
	}
}
