package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"fmt"
	"io"
	"log/slog"

	"github.com/golang-jwt/jwt/v5"
)

// MinHMACKeySize is the shortest HMAC secret accepted by [NewHMACKey], in
// bytes: the output size of SHA-256, as RFC 7518 section 3.2 requires.
const MinHMACKeySize = 32

// Key is a signing or verification key with the identifier that tokens carry
// in their "kid" header. Keys are made by the New…Key constructors and are
// immutable and safe for concurrent use.
//
// A Key formats and logs as its id and algorithm only, so key material never
// reaches a log line or an error message by accident.
type Key struct {
	id     string
	method jwt.SigningMethod
	// material sits behind a pointer because fmt prints nested pointers as
	// addresses: even a dereferenced Key, or a struct holding one, printed
	// with %+v or %x, cannot show the secret.
	material *keyMaterial
}

// Compile-time checks that a Key cannot leak its material when printed.
var (
	_ slog.LogValuer = (*Key)(nil)
	_ fmt.Stringer   = (*Key)(nil)
	_ fmt.Formatter  = (*Key)(nil)
)

// keyMaterial is the key material handed to golang-jwt, and the private
// bytes that [Issuer.DeriveSecret] keys its HMAC with.
type keyMaterial struct {
	sign   any // nil for verify-only keys
	verify any
	// private is the HMAC secret, the Ed25519 seed or the ECDSA private
	// scalar (32 big-endian bytes); nil for verify-only keys.
	private []byte
}

// NewHMACKey returns an HS256 key that both signs and verifies. The secret is
// copied, and must be at least [MinHMACKeySize] bytes long; a shorter one gets
// an error wrapping [ErrWeakKey] and [ErrConfig].
//
// HMAC suits a single service that issues and verifies its own tokens; when
// other services verify, prefer Ed25519 or ECDSA so they never hold a key
// that can sign.
func NewHMACKey(id string, secret []byte) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(secret) < MinHMACKeySize {
		return nil, fmt.Errorf("%w: %w: HMAC secret has %d bytes, need at least %d",
			ErrConfig, ErrWeakKey, len(secret), MinHMACKeySize)
	}
	s := bytes.Clone(secret)
	return &Key{id: id, method: jwt.SigningMethodHS256, material: &keyMaterial{sign: s, verify: s, private: s}}, nil
}

// NewEd25519Key returns an EdDSA key that signs with priv and verifies with
// its public half. The key is rebuilt from its seed, which copies it and
// rejects a private key whose embedded public half does not match.
func NewEd25519Key(id string, priv ed25519.PrivateKey) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 private key has %d bytes, want %d",
			ErrConfig, len(priv), ed25519.PrivateKeySize)
	}
	k := ed25519.NewKeyFromSeed(priv.Seed())
	if !bytes.Equal(k, priv) {
		return nil, fmt.Errorf("%w: Ed25519 private key does not match its public key", ErrConfig)
	}
	pub := k.Public().(ed25519.PublicKey)
	return &Key{id: id, method: jwt.SigningMethodEdDSA, material: &keyMaterial{sign: k, verify: pub, private: k.Seed()}}, nil
}

// NewEd25519PublicKey returns a verify-only EdDSA key, for a verifier that
// must not be able to sign, or for a retired key during rotation. The public
// key is copied. It must encode a point of the curve that is not of small
// order: such a key could verify nothing, or, like the identity point,
// signatures that anybody can make.
func NewEd25519PublicKey(id string, pub ed25519.PublicKey) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key has %d bytes, want %d",
			ErrConfig, len(pub), ed25519.PublicKeySize)
	}
	if err := checkEd25519Point(pub); err != nil {
		return nil, fmt.Errorf("%w: key %q: %w", ErrConfig, id, err)
	}
	return &Key{id: id, method: jwt.SigningMethodEdDSA, material: &keyMaterial{verify: ed25519.PublicKey(bytes.Clone(pub))}}, nil
}

// NewECDSAKey returns an ES256 key that signs with priv and verifies with its
// public half. Only P-256 keys are accepted, because ES256 is defined on that
// curve alone (RFC 7518 section 3.4); the key must be valid and consistent.
// The Key keeps priv, which the caller must not modify afterwards.
func NewECDSAKey(id string, priv *ecdsa.PrivateKey) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if priv == nil || priv.D == nil {
		return nil, fmt.Errorf("%w: ECDSA private key is nil", ErrConfig)
	}
	if err := checkP256(&priv.PublicKey); err != nil {
		return nil, err
	}
	// A private scalar that does not match the public point would sign
	// tokens that no verifier accepts; derive the point to compare.
	d, err := priv.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: invalid ECDSA private key: %w", ErrConfig, err)
	}
	q, err := priv.PublicKey.ECDH()
	if err != nil || !d.PublicKey().Equal(q) {
		return nil, fmt.Errorf("%w: ECDSA private key does not match its public key", ErrConfig)
	}
	return &Key{id: id, method: jwt.SigningMethodES256, material: &keyMaterial{sign: priv, verify: &priv.PublicKey, private: d.Bytes()}}, nil
}

// NewECDSAPublicKey returns a verify-only ES256 key. Like [NewECDSAKey] it
// accepts only valid P-256 keys, and keeps pub.
func NewECDSAPublicKey(id string, pub *ecdsa.PublicKey) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := checkP256(pub); err != nil {
		return nil, err
	}
	return &Key{id: id, method: jwt.SigningMethodES256, material: &keyMaterial{verify: pub}}, nil
}

// ID returns the key identifier, carried in the "kid" header of the tokens
// the key signs.
func (k *Key) ID() string { return k.id }

// Algorithm returns the JWS algorithm of the key: "HS256", "EdDSA" or
// "ES256".
func (k *Key) Algorithm() string {
	if k.method == nil {
		return ""
	}
	return k.method.Alg()
}

// String returns the key's id and algorithm, never its material.
func (k *Key) String() string {
	if k == nil {
		return "tokens.Key(nil)"
	}
	return fmt.Sprintf("tokens.Key{kid=%q alg=%s}", k.id, k.Algorithm())
}

// Format implements [fmt.Formatter] so that every verb, including %#v and
// %x, prints [Key.String] rather than the struct fields.
func (k *Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue implements [slog.LogValuer]: a key logs as its kid and alg only.
func (k *Key) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("kid", k.id), slog.String("alg", k.Algorithm()))
}

// usable reports whether k was made by a constructor rather than being a
// zero Key.
func (k *Key) usable() bool { return k != nil && k.method != nil && k.material != nil }

// canSign reports whether k holds a private or secret key.
func (k *Key) canSign() bool { return k.usable() && k.material.sign != nil }

func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: key id is empty", ErrConfig)
	}
	return nil
}

func checkP256(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.X == nil || pub.Y == nil {
		return fmt.Errorf("%w: ECDSA public key is nil", ErrConfig)
	}
	if pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: ECDSA key is not on P-256, which ES256 requires", ErrConfig)
	}
	// Bytes rejects points that are not on the curve.
	if _, err := pub.Bytes(); err != nil {
		return fmt.Errorf("%w: invalid ECDSA public key: %w", ErrConfig, err)
	}
	return nil
}
