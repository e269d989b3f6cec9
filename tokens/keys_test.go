package tokens_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
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
	weak, err := weakRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := &k.rsaPriv.PublicKey
	rsaWithE := func(e int) *rsa.PublicKey { return &rsa.PublicKey{N: rsaPub.N, E: e} }
	// A private key whose exponent D belongs to another key.
	rsaMismatched := &rsa.PrivateKey{PublicKey: *rsaPub, D: new(big.Int).Add(k.rsaPriv.D, big.NewInt(2)), Primes: k.rsaPriv.Primes}

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
		{name: "RSA 2048 bits", new: func() (*tokens.Key, error) { return tokens.NewRSAKey("k", k.rsaPriv) }},
		{name: "RSA-PSS 2048 bits", new: func() (*tokens.Key, error) { return tokens.NewRSAPSSKey("k", k.rsaPriv) }},
		{name: "RSA 1024 bits", new: func() (*tokens.Key, error) { return tokens.NewRSAKey("k", weak) }, want: tokens.ErrWeakKey},
		{name: "RSA-PSS 1024 bits", new: func() (*tokens.Key, error) { return tokens.NewRSAPSSKey("k", weak) }, want: tokens.ErrWeakKey},
		{name: "RSA mismatched D", new: func() (*tokens.Key, error) { return tokens.NewRSAKey("k", rsaMismatched) }, want: tokens.ErrConfig},
		{name: "RSA nil", new: func() (*tokens.Key, error) { return tokens.NewRSAKey("k", nil) }, want: tokens.ErrConfig},
		{name: "RSA zero value", new: func() (*tokens.Key, error) { return tokens.NewRSAKey("k", &rsa.PrivateKey{}) }, want: tokens.ErrConfig},
		{name: "RSA no primes", new: func() (*tokens.Key, error) {
			return tokens.NewRSAKey("k", &rsa.PrivateKey{PublicKey: *rsaPub, D: k.rsaPriv.D})
		}, want: tokens.ErrConfig},
		{name: "RSA empty id", new: func() (*tokens.Key, error) { return tokens.NewRSAKey("", k.rsaPriv) }, want: tokens.ErrConfig},
		{name: "RSA public", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", rsaPub) }},
		{name: "RSA-PSS public", new: func() (*tokens.Key, error) { return tokens.NewRSAPSSPublicKey("k", rsaPub) }},
		{name: "RSA public 1024 bits", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", &weak.PublicKey) }, want: tokens.ErrWeakKey},
		{name: "RSA public 2047 bits", new: func() (*tokens.Key, error) {
			return tokens.NewRSAPublicKey("k", &rsa.PublicKey{N: new(big.Int).Rsh(rsaPub.N, 1), E: 65537})
		}, want: tokens.ErrWeakKey},
		{name: "RSA public 8200 bits", new: func() (*tokens.Key, error) {
			return tokens.NewRSAPublicKey("k", &rsa.PublicKey{N: new(big.Int).Lsh(rsaPub.N, 6152), E: 65537})
		}, want: tokens.ErrConfig},
		{name: "RSA public e 1", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", rsaWithE(1)) }, want: tokens.ErrConfig},
		{name: "RSA public e 65536", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", rsaWithE(65536)) }, want: tokens.ErrConfig},
		{name: "RSA public e 2^31", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", rsaWithE(1<<31)) }, want: tokens.ErrConfig},
		{name: "RSA public nil", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", nil) }, want: tokens.ErrConfig},
		{name: "RSA public zero value", new: func() (*tokens.Key, error) { return tokens.NewRSAPublicKey("k", &rsa.PublicKey{}) }, want: tokens.ErrConfig},
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

// TestRSAKeyCopies checks that NewRSAKey neither writes to the caller's key
// (Precompute) nor follows later changes to it, and that an RSA Issuer
// derives the same secrets from the same key.
func TestRSAKeyCopies(t *testing.T) {
	k := newTestKeys(t)
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Set(k.rsaPriv.N), E: k.rsaPriv.E},
		D:         new(big.Int).Set(k.rsaPriv.D),
		Primes:    []*big.Int{new(big.Int).Set(k.rsaPriv.Primes[0]), new(big.Int).Set(k.rsaPriv.Primes[1])},
	}
	key, err := tokens.NewRSAKey("rs-1", priv)
	if err != nil {
		t.Fatal(err)
	}
	if priv.Precomputed.Dp != nil {
		t.Error("NewRSAKey precomputed the caller's key")
	}
	priv.D.SetInt64(3)
	priv.N.SetInt64(5)
	if _, err := mustVerifier(t, []*tokens.Key{k.rs}).Verify(mustIssue(t, mustIssuer(t, key))); err != nil {
		t.Errorf("a token of the key after the caller changed its copy: %v", err)
	}
	a, b := mustIssuer(t, key).DeriveSecret("label"), mustIssuer(t, k.rs).DeriveSecret("label")
	if len(a) != 32 || !bytes.Equal(a, b) {
		t.Errorf("DeriveSecret of the same RSA key: %x and %x", a, b)
	}
}
