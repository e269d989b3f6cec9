package tokens_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

// pemKeys holds DER encodings of keys in every format LoadKeyPEM meets.
type pemKeys struct {
	*testKeys
	edPKCS8, ecPKCS8, ecSEC1, edPKIX, ecPKIX []byte
	rsaPKCS8, rsaPKCS1, rsaPKIX, rsaPKCS1Pub []byte
	weakRSAPKCS8, weakRSAPKIX                []byte
	p384PKCS8, p384SEC1, p384PKIX            []byte
	x25519PKCS8, smallOrderPKIX              []byte
	secrets                                  [][]byte // private material, which no error may show
}

func newPEMKeys(t *testing.T) *pemKeys {
	t.Helper()
	k := &pemKeys{testKeys: newTestKeys(t)}
	rsaKey := k.rsaPriv
	weakRSA, err := weakRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k.edPKCS8 = der(x509.MarshalPKCS8PrivateKey(k.edPriv))
	k.ecPKCS8 = der(x509.MarshalPKCS8PrivateKey(k.ecPriv))
	k.ecSEC1 = der(x509.MarshalECPrivateKey(k.ecPriv))
	k.edPKIX = der(x509.MarshalPKIXPublicKey(k.edPriv.Public()))
	k.ecPKIX = der(x509.MarshalPKIXPublicKey(&k.ecPriv.PublicKey))
	k.rsaPKCS8 = der(x509.MarshalPKCS8PrivateKey(rsaKey))
	k.rsaPKCS1 = x509.MarshalPKCS1PrivateKey(rsaKey)
	k.rsaPKIX = der(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))
	k.rsaPKCS1Pub = x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)
	k.weakRSAPKCS8 = der(x509.MarshalPKCS8PrivateKey(weakRSA))
	k.weakRSAPKIX = der(x509.MarshalPKIXPublicKey(&weakRSA.PublicKey))
	k.p384PKCS8 = der(x509.MarshalPKCS8PrivateKey(p384))
	k.p384SEC1 = der(x509.MarshalECPrivateKey(p384))
	k.p384PKIX = der(x509.MarshalPKIXPublicKey(&p384.PublicKey))
	k.x25519PKCS8 = der(x509.MarshalPKCS8PrivateKey(x25519))
	// The identity point: x509 encodes it, LoadKeyPEM must refuse it.
	k.smallOrderPKIX = der(x509.MarshalPKIXPublicKey(ed25519.PublicKey(append([]byte{1}, make([]byte, 31)...))))
	k.secrets = [][]byte{k.edPriv.Seed(), k.ecPriv.D.Bytes(), rsaKey.D.Bytes(), rsaKey.Primes[0].Bytes(),
		weakRSA.D.Bytes(), p384.D.Bytes(), x25519.Bytes()}
	return k
}

// weakRSAKey is a 1024-bit RSA key, which every RSA constructor refuses.
var weakRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 1024) })

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadKeyPEM(t *testing.T) {
	k := newPEMKeys(t)
	edPEM := pemOf("PRIVATE KEY", k.edPKCS8)
	corrupt := bytes.Clone(k.ecPKCS8)
	corrupt[len(corrupt)/2] ^= 0xff
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k.ecSEC1,
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}})

	tests := []struct {
		name    string
		id      string
		data    []byte
		alg     string      // of the key, when it loads
		signer  *tokens.Key // for a verify-only key: the key whose tokens it must verify
		wantErr error
	}{
		{name: "PKCS #8 Ed25519", data: edPEM, alg: "EdDSA"},
		{name: "PKCS #8 P-256", data: pemOf("PRIVATE KEY", k.ecPKCS8), alg: "ES256"},
		{name: "SEC 1 P-256", data: pemOf("EC PRIVATE KEY", k.ecSEC1), alg: "ES256"},
		{name: "PKIX Ed25519", data: pemOf("PUBLIC KEY", k.edPKIX), alg: "EdDSA", signer: k.ed},
		{name: "PKIX P-256", data: pemOf("PUBLIC KEY", k.ecPKIX), alg: "ES256", signer: k.ec},
		{name: "white space around", data: append(append([]byte("\n\r\n"), edPEM...), "\n\t\n  "...), alg: "EdDSA"},

		{name: "empty id", id: "-", data: edPEM, wantErr: tokens.ErrConfig},
		{name: "PKCS #8 RSA", data: pemOf("PRIVATE KEY", k.rsaPKCS8), alg: "RS256"},
		{name: "PKCS #1 RSA", data: pemOf("RSA PRIVATE KEY", k.rsaPKCS1), alg: "RS256"},
		{name: "PKIX RSA", data: pemOf("PUBLIC KEY", k.rsaPKIX), alg: "RS256", signer: k.rs},
		{name: "PKCS #1 RSA public", data: pemOf("RSA PUBLIC KEY", k.rsaPKCS1Pub), alg: "RS256", signer: k.rs},
		{name: "the RSA file of testdata", data: mustRead(t, "testdata/rsa2048.pem"), alg: "RS256"},
		{name: "PKCS #8 RSA of 1024 bits", data: pemOf("PRIVATE KEY", k.weakRSAPKCS8), wantErr: tokens.ErrWeakKey},
		{name: "PKIX RSA of 1024 bits", data: pemOf("PUBLIC KEY", k.weakRSAPKIX), wantErr: tokens.ErrWeakKey},
		{name: "PKCS #1 RSA labelled PKCS #8", data: pemOf("PRIVATE KEY", k.rsaPKCS1), wantErr: tokens.ErrConfig},
		{name: "PKCS #1 RSA public labelled PKIX", data: pemOf("PUBLIC KEY", k.rsaPKCS1Pub), wantErr: tokens.ErrConfig},
		{name: "RSA private key labelled public", data: pemOf("RSA PUBLIC KEY", k.rsaPKCS1), wantErr: tokens.ErrConfig},
		{name: "PKCS #8 P-384", data: pemOf("PRIVATE KEY", k.p384PKCS8), wantErr: tokens.ErrConfig},
		{name: "SEC 1 P-384", data: pemOf("EC PRIVATE KEY", k.p384SEC1), wantErr: tokens.ErrConfig},
		{name: "PKIX P-384", data: pemOf("PUBLIC KEY", k.p384PKIX), wantErr: tokens.ErrConfig},
		{name: "PKCS #8 X25519", data: pemOf("PRIVATE KEY", k.x25519PKCS8), wantErr: tokens.ErrConfig},
		{name: "PKIX Ed25519 of small order", data: pemOf("PUBLIC KEY", k.smallOrderPKIX), wantErr: tokens.ErrConfig},
		{name: "PKCS #8 encrypted", data: pemOf("ENCRYPTED PRIVATE KEY", k.ecPKCS8), wantErr: tokens.ErrConfig},
		{name: "legacy encrypted", data: legacyEncrypted, wantErr: tokens.ErrConfig},
		{name: "other headers", data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k.edPKCS8,
			Headers: map[string]string{"Comment": "mine"}}), wantErr: tokens.ErrConfig},
		{name: "certificate", data: pemOf("CERTIFICATE", k.edPKIX), wantErr: tokens.ErrConfig},
		{name: "SEC 1 labelled PKCS #8", data: pemOf("PRIVATE KEY", k.ecSEC1), wantErr: tokens.ErrConfig},
		{name: "private key labelled public", data: pemOf("PUBLIC KEY", k.edPKCS8), wantErr: tokens.ErrConfig},
		{name: "corrupt DER", data: pemOf("PRIVATE KEY", corrupt), wantErr: tokens.ErrConfig},
		{name: "trailing garbage", data: append(bytes.Clone(edPEM), "garbage"...), wantErr: tokens.ErrConfig},
		{name: "leading text", data: append([]byte("Bag Attributes\n"), edPEM...), wantErr: tokens.ErrConfig},
		{name: "two blocks", data: append(bytes.Clone(edPEM), pemOf("PUBLIC KEY", k.edPKIX)...), wantErr: tokens.ErrConfig},
		{name: "a broken block, then a key", data: append([]byte("-----BEGIN PRIVATE KEY-----\n!!\n"), edPEM...), wantErr: tokens.ErrConfig},
		{name: "empty", data: nil, wantErr: tokens.ErrConfig},
		{name: "bare DER", data: k.edPKCS8, wantErr: tokens.ErrConfig},
		{name: "an HMAC secret", data: bytes.Repeat([]byte("s"), 64), wantErr: tokens.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := "pem-1"
			if tc.id == "-" {
				id = ""
			}
			key, err := tokens.LoadKeyPEM(id, tc.data)
			if !errors.Is(err, tc.wantErr) || (err != nil && !errors.Is(err, tokens.ErrConfig)) {
				t.Fatalf("LoadKeyPEM: %v, want %v and ErrConfig", err, tc.wantErr)
			}
			if err != nil {
				if key != nil {
					t.Errorf("got key %v along with the error", key)
				}
				checkNoLeak(t, err, tc.data, k.secrets)
				return
			}
			if key.ID() != id || key.Algorithm() != tc.alg {
				t.Errorf("key %v, want kid %q alg %s", key, id, tc.alg)
			}
			signer := tc.signer
			if signer == nil {
				signer = key // a signing key signs for itself
			} else if _, err := tokens.NewIssuer(key, baseOptions(testNow)...); !errors.Is(err, tokens.ErrConfig) {
				t.Errorf("NewIssuer with a public key: %v, want ErrConfig", err)
			}
			// The loaded key verifies the tokens of its signer, which
			// carry the signer's kid.
			verifier, err := tokens.LoadKeyPEM(signer.ID(), tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mustVerifier(t, []*tokens.Key{verifier}).Verify(mustIssue(t, mustIssuer(t, signer))); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNoLeak fails if err shows any run of 12 characters of the PEM body
// of data, or any encoding of a secret.
func checkNoLeak(t *testing.T, err error, data []byte, secrets [][]byte) {
	t.Helper()
	msg := err.Error()
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "-----") || strings.Contains(line, ":") {
			continue
		}
		for i := 0; i+12 <= len(line); i++ {
			if strings.Contains(msg, line[i:i+12]) {
				t.Errorf("error %q shows the PEM body", msg)
				return
			}
		}
	}
	for _, s := range secrets {
		for _, enc := range []string{hex.EncodeToString(s[:8]), base64.StdEncoding.EncodeToString(s)[:12], base64.RawURLEncoding.EncodeToString(s)[:12]} {
			if strings.Contains(strings.ToLower(msg), strings.ToLower(enc)) {
				t.Errorf("error %q shows a secret", msg)
			}
		}
	}
}

func TestLoadKeyFile(t *testing.T) {
	k := newPEMKeys(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("ed25519.pem", pemOf("PRIVATE KEY", k.edPKCS8))
	content := "correct horse battery staple, not a key"
	notPEM := write("secret.txt", []byte(content))
	large := write("large.pem", append(pemOf("PRIVATE KEY", k.edPKCS8), bytes.Repeat([]byte("\n"), tokens.MaxKeyFileSize)...))
	missing := filepath.Join(dir, "missing.pem")

	key, err := tokens.LoadKeyFile("ed-1", good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustVerifier(t, []*tokens.Key{k.ed}).Verify(mustIssue(t, mustIssuer(t, key))); err != nil {
		t.Errorf("a token signed with the loaded key: %v", err)
	}

	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing", missing, fs.ErrNotExist},
		{"directory", dir, tokens.ErrConfig},
		{"not PEM", notPEM, tokens.ErrConfig},
		{"too large", large, tokens.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tokens.LoadKeyFile("k", tc.path)
			if !errors.Is(err, tc.want) || !errors.Is(err, tokens.ErrConfig) || key != nil {
				t.Fatalf("LoadKeyFile = %v, %v; want an error wrapping %v and ErrConfig", key, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the path", err)
			}
			if strings.Contains(err.Error(), "horse") {
				t.Errorf("error %q shows the content", err)
			}
		})
	}
}
