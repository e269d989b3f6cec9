package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// MinHMACKeySize is the shortest HMAC secret accepted by [NewHMACKey], in
// bytes: the output size of SHA-256, as RFC 7518 section 3.2 requires.
const MinHMACKeySize = 32

// MinRSAKeySize is the smallest RSA modulus accepted by [NewRSAKey] and
// the other RSA constructors, in bits: what RFC 7518 section 3.3 requires
// and NIST SP 800-131A allows until 2030. maxRSAKeySize bounds the other
// side, so that a published key cannot make every verification slow.
const (
	MinRSAKeySize = 2048
	maxRSAKeySize = 8192
)

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
	// private is the HMAC secret, the Ed25519 seed, the ECDSA private
	// scalar (32 big-endian bytes) or the RSA private exponent (big-endian);
	// nil for verify-only keys.
	private []byte
}

// NewHMACKey returns an HS256 key that both signs and verifies. The secret is
// copied, and must be at least [MinHMACKeySize] bytes long; a shorter one gets
// an error wrapping [ErrWeakKey] and [ErrConfig].
//
// HMAC suits a single service that issues and verifies its own tokens; when
// other services verify, prefer Ed25519, ECDSA or RSA so they never hold a
// key that can sign.
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

// NewRSAKey returns an RS256 key (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518
// section 3.3) that signs with priv and verifies with its public half.
// RS256 is the algorithm that every JWT library, gateway and identity
// provider verifies; choose it when the tokens go to a verifier that
// accepts nothing else. Otherwise prefer Ed25519 or ECDSA: their keys and
// signatures are smaller (an RS256 signature of a 2048-bit key is 256
// bytes, 342 characters in the token, against 86 for EdDSA and ES256) and
// signing is much faster.
//
// The modulus must have at least [MinRSAKeySize] bits; a smaller one gets
// an error wrapping [ErrWeakKey] and [ErrConfig]. Moduli over 8192 bits,
// an even or too small public exponent and a key that fails
// [rsa.PrivateKey.Validate] are refused with [ErrConfig]. The Key keeps a
// copy of priv, with its CRT values precomputed.
func NewRSAKey(id string, priv *rsa.PrivateKey) (*Key, error) {
	return newRSAKey(id, priv, jwt.SigningMethodRS256)
}

// NewRSAPSSKey is [NewRSAKey] for PS256 (RSASSA-PSS with SHA-256, RFC 7518
// section 3.5): the same keys, a signature scheme with a security proof,
// but fewer verifiers accept it. Signatures use a salt as long as the
// hash (32 bytes), as RFC 7518 requires; verification accepts any salt
// length, as golang-jwt's does. An RSA key is RS256 or PS256, never both:
// a Verifier refuses a token whose alg is not its key's.
func NewRSAPSSKey(id string, priv *rsa.PrivateKey) (*Key, error) {
	return newRSAKey(id, priv, jwt.SigningMethodPS256)
}

// NewRSAPublicKey returns a verify-only RS256 key. Like [NewRSAKey] it
// refuses moduli under [MinRSAKeySize] bits with [ErrWeakKey]. The Key
// keeps a copy of pub.
func NewRSAPublicKey(id string, pub *rsa.PublicKey) (*Key, error) {
	return newRSAPublicKey(id, pub, jwt.SigningMethodRS256)
}

// NewRSAPSSPublicKey returns a verify-only PS256 key, as
// [NewRSAPublicKey] does for RS256.
func NewRSAPSSPublicKey(id string, pub *rsa.PublicKey) (*Key, error) {
	return newRSAPublicKey(id, pub, jwt.SigningMethodPS256)
}

func newRSAKey(id string, priv *rsa.PrivateKey, method jwt.SigningMethod) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if priv == nil || priv.D == nil || len(priv.Primes) < 2 {
		return nil, fmt.Errorf("%w: RSA private key is nil or incomplete", ErrConfig)
	}
	if err := checkRSA(&priv.PublicKey); err != nil {
		return nil, err
	}
	// A copy, so that Precompute does not write to the caller's key and
	// the caller cannot change the Key's.
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Set(priv.N), E: priv.E},
		D:         new(big.Int).Set(priv.D),
	}
	for _, p := range priv.Primes {
		k.Primes = append(k.Primes, new(big.Int).Set(p))
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("%w: invalid RSA private key: %w", ErrConfig, err)
	}
	k.Precompute()
	return &Key{id: id, method: method, material: &keyMaterial{sign: k, verify: &k.PublicKey, private: k.D.Bytes()}}, nil
}

func newRSAPublicKey(id string, pub *rsa.PublicKey, method jwt.SigningMethod) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := checkRSA(pub); err != nil {
		return nil, err
	}
	k := &rsa.PublicKey{N: new(big.Int).Set(pub.N), E: pub.E}
	return &Key{id: id, method: method, material: &keyMaterial{verify: k}}, nil
}

// checkRSA refuses a public key that is missing, too small or too large,
// or whose exponent crypto/rsa would refuse, with an error wrapping
// ErrConfig.
func checkRSA(pub *rsa.PublicKey) error {
	if err := rsaKeyError(pub); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// rsaKeyError is checkRSA's verdict without the ErrConfig prefix.
func rsaKeyError(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil || pub.N.Sign() <= 0 {
		return errors.New("RSA public key is nil")
	}
	switch bits := pub.N.BitLen(); {
	case bits < MinRSAKeySize:
		return fmt.Errorf("%w: RSA key has %d bits, need at least %d", ErrWeakKey, bits, MinRSAKeySize)
	case bits > maxRSAKeySize:
		return fmt.Errorf("RSA key has %d bits, at most %d are supported", bits, maxRSAKeySize)
	case pub.N.Bit(0) == 0:
		return errors.New("RSA modulus is even")
	}
	if pub.E < 3 || pub.E&1 == 0 || pub.E > 1<<31-1 {
		return fmt.Errorf("RSA public exponent %d is not an odd number from 3 to 2^31-1", pub.E)
	}
	return nil
}

// ID returns the key identifier, carried in the "kid" header of the tokens
// the key signs.
func (k *Key) ID() string { return k.id }

// Algorithm returns the JWS algorithm of the key: "HS256", "EdDSA",
// "ES256", "RS256" or "PS256".
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
