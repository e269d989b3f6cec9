package tokens_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

func TestKeyConstructors(t *testing.T) {
	k := newTestKeys(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub := k.edPriv.Public().(ed25519.PublicKey)
	// An Ed25519 private key whose public half belongs to another seed.
	mismatched := append(bytes.Clone(k.edPriv[:32]), make([]byte, 32)...)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecMismatched := &ecdsa.PrivateKey{PublicKey: other.PublicKey, D: k.ecPriv.D}
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}

	tests := []struct {
		name string
		new  func() (*tokens.Key, error)
		want error
	}{
		{name: "HMAC 32 bytes", new: func() (*tokens.Key, error) { return tokens.NewHMACKey("k", make([]byte, 32)) }},
		{name: "HMAC 31 bytes", new: func() (*tokens.Key, error) { return tokens.NewHMACKey("k", make([]byte, 31)) }, want: tokens.ErrWeakKey},
		{name: "HMAC nil secret", new: func() (*tokens.Key, error) { return tokens.NewHMACKey("k", nil) }, want: tokens.ErrWeakKey},
		{name: "HMAC empty id", new: func() (*tokens.Key, error) { return tokens.NewHMACKey("", make([]byte, 32)) }, want: tokens.ErrConfig},
		{name: "Ed25519", new: func() (*tokens.Key, error) { return tokens.NewEd25519Key("k", k.edPriv) }},
		{name: "Ed25519 short", new: func() (*tokens.Key, error) { return tokens.NewEd25519Key("k", k.edPriv[:32]) }, want: tokens.ErrConfig},
		{name: "Ed25519 mismatched halves", new: func() (*tokens.Key, error) { return tokens.NewEd25519Key("k", mismatched) }, want: tokens.ErrConfig},
		{name: "Ed25519 empty id", new: func() (*tokens.Key, error) { return tokens.NewEd25519Key("", k.edPriv) }, want: tokens.ErrConfig},
		{name: "Ed25519 public", new: func() (*tokens.Key, error) { return tokens.NewEd25519PublicKey("k", edPub) }},
		{name: "Ed25519 public short", new: func() (*tokens.Key, error) { return tokens.NewEd25519PublicKey("k", edPub[:31]) }, want: tokens.ErrConfig},
		{name: "ECDSA P-256", new: func() (*tokens.Key, error) { return tokens.NewECDSAKey("k", k.ecPriv) }},
		{name: "ECDSA P-384 (ES384)", new: func() (*tokens.Key, error) { return tokens.NewECDSAKey("k", p384) }, want: tokens.ErrConfig},
		{name: "ECDSA mismatched halves", new: func() (*tokens.Key, error) { return tokens.NewECDSAKey("k", ecMismatched) }, want: tokens.ErrConfig},
		{name: "ECDSA nil", new: func() (*tokens.Key, error) { return tokens.NewECDSAKey("k", nil) }, want: tokens.ErrConfig},
		{name: "ECDSA zero value", new: func() (*tokens.Key, error) { return tokens.NewECDSAKey("k", &ecdsa.PrivateKey{}) }, want: tokens.ErrConfig},
		{name: "ECDSA empty id", new: func() (*tokens.Key, error) { return tokens.NewECDSAKey("", k.ecPriv) }, want: tokens.ErrConfig},
		{name: "ECDSA public", new: func() (*tokens.Key, error) { return tokens.NewECDSAPublicKey("k", &k.ecPriv.PublicKey) }},
		{name: "ECDSA public P-384", new: func() (*tokens.Key, error) { return tokens.NewECDSAPublicKey("k", &p384.PublicKey) }, want: tokens.ErrConfig},
		{name: "ECDSA public off curve", new: func() (*tokens.Key, error) { return tokens.NewECDSAPublicKey("k", offCurve) }, want: tokens.ErrConfig},
		{name: "ECDSA public nil", new: func() (*tokens.Key, error) { return tokens.NewECDSAPublicKey("k", nil) }, want: tokens.ErrConfig},
		{name: "ECDSA public zero value", new: func() (*tokens.Key, error) { return tokens.NewECDSAPublicKey("k", &ecdsa.PublicKey{}) }, want: tokens.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tc.new()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if key != nil {
					t.Errorf("got key %v along with error", key)
				}
				if !errors.Is(err, tokens.ErrConfig) {
					t.Errorf("error %v does not wrap ErrConfig", err)
				}
			} else if key == nil || key.ID() != "k" {
				t.Errorf("key = %v", key)
			}
		})
	}
}

// TestHMACKeyCopiesSecret checks that changing the caller's slice later does
// not change the key.
func TestHMACKeyCopiesSecret(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	key, err := tokens.NewHMACKey("k", secret)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustIssue(t, mustIssuer(t, key))
	secret[0] = 'x'
	if _, err := mustVerifier(t, []*tokens.Key{key}).Verify(tok); err != nil {
		t.Errorf("Verify after the caller changed its secret: %v", err)
	}
}

// TestKeyRedacted checks that no formatting verb, nor slog, shows key
// material.
func TestKeyRedacted(t *testing.T) {
	secret := []byte("correct-horse-battery-staple-0123456789")
	key, err := tokens.NewHMACKey("hs-9", secret)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("loaded", "key", key)
	if !strings.Contains(logged.String(), `"key":{"kid":"hs-9","alg":"HS256"}`) {
		t.Errorf("slog output %s lacks kid and alg", logged.String())
	}
	outputs := map[string]string{"slog": logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs[verb] = fmt.Sprintf(verb, key)
		outputs[verb+" of *key"] = fmt.Sprintf(verb, *key)
		outputs[verb+" in struct"] = fmt.Sprintf(verb, struct{ K tokens.Key }{*key})
	}
	leaks := []string{string(secret), hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
		fmt.Sprint(secret[:8]), fmt.Sprintf("%d", secret[:8])}
	for name, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("%s output %q contains the secret", name, out)
			}
		}
	}
	if got := key.String(); got != `tokens.Key{kid="hs-9" alg=HS256}` {
		t.Errorf("String() = %s", got)
	}
}
