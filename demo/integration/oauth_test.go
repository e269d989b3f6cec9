package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
	"github.com/gin-authkit/authkit/tokens"
)

// TestOAuth2Client drives the demo's token endpoint with golang.org/x/oauth2
// itself: the password grant, then a TokenSource that refreshes once the
// access token has expired, then an oauth2 client calling /api/me.
func TestOAuth2Client(t *testing.T) {
	bin := demotest.Build(t)
	// A one-second access token: x/oauth2 treats it as expired at once
	// (it refreshes 10 s early), so every call below goes through a
	// refresh.
	p := demotest.Start(t, bin, map[string]string{
		"AUTHKIT_SECRET": "0123456789abcdef0123456789abcdef-oauth2", "AUTHKIT_BCRYPT_COST": "4", "AUTHKIT_ACCESS_TTL": "1s",
	})
	pw := p.SeededPasswords(t)
	cfg := &oauth2.Config{ClientID: "demo-cli", Endpoint: oauth2.Endpoint{TokenURL: p.URL + "/oauth/token"}}
	ctx := context.Background()

	tok, err := cfg.PasswordCredentialsToken(ctx, "alice", pw["alice"])
	if err != nil {
		t.Fatalf("PasswordCredentialsToken: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token = %+v", tok)
	}
	if _, err := cfg.PasswordCredentialsToken(ctx, "alice", "wrong-password"); err == nil {
		t.Fatal("a wrong password got a token")
	} else if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
		t.Fatalf("wrong password: %v, want an RFC 6749 invalid_grant", err)
	}

	src := cfg.TokenSource(ctx, tok)
	client := oauth2.NewClient(ctx, src)
	for range 3 {
		resp, err := client.Get(p.URL + "/api/me")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/api/me through the oauth2 client: %d %s", resp.StatusCode, body)
		}
	}
	now, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if now.RefreshToken == tok.RefreshToken {
		t.Error("the TokenSource never refreshed")
	}
	// The refresh token it started from was rotated away long ago:
	// presenting it now is reuse.
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("a rotated refresh token still refreshes")
	}
}

// TestJWKSVerifiesDemoTokens runs the demo with an Ed25519 signing key
// from a PEM file, and verifies one of its access tokens with nothing but
// its published JWKS.
func TestJWKSVerifiesDemoTokens(t *testing.T) {
	bin := demotest.Build(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	p := demotest.Start(t, bin, map[string]string{"AUTHKIT_SIGNING_KEY_FILE": keyFile, "AUTHKIT_BCRYPT_COST": "4"})
	pw := p.SeededPasswords(t)
	cfg := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: p.URL + "/oauth/token"}}
	tok, err := cfg.PasswordCredentialsToken(context.Background(), "bob", pw["bob"])
	if err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(p.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwk-set+json" || resp.Header.Get("Cache-Control") == "" {
		t.Fatalf("jwks: %d %v %s", resp.StatusCode, resp.Header, set)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(set, &doc); err != nil || len(doc.Keys) != 1 || doc.Keys[0]["d"] != nil {
		t.Fatalf("jwks is not one public key: %s", set)
	}
	keys, err := tokens.ParseJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	// Another service: only the JWKS, the issuer and the audience.
	v, err := tokens.NewVerifier(keys, tokens.WithIssuer("authkit-demo"), tokens.WithAudience("authkit-demo-api"))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(tok.AccessToken)
	if err != nil || claims.Subject != "bob" {
		t.Fatalf("Verify with the JWKS alone: %v, %+v", err, claims)
	}
}
