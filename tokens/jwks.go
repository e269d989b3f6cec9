package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// coordSize is the size of an Ed25519 public key and of each P-256
// coordinate in a JWK, in bytes (RFC 8037 section 2, RFC 7518 section
// 6.2.1.2); coordLen is its length in unpadded base64url.
const (
	coordSize = 32
	coordLen  = 43
)

// jwkSet is a JSON Web Key Set as JWKS writes it (RFC 7517 section 5).
type jwkSet struct {
	Keys []publicJWK `json:"keys"`
}

// publicJWK is the public half of an EdDSA key, as an RFC 8037 OKP key, of
// an ES256 key, as an RFC 7518 EC key, or of an RS256 or PS256 key, as an
// RFC 7518 RSA key. It has no member for private material.
type publicJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// JWKS returns the JSON Web Key Set (RFC 7517) of the Verifier's public
// keys, for other services to verify its tokens with [ParseJWKS] or any
// JOSE library: EdDSA keys as OKP keys (RFC 8037), ES256 keys as EC P-256
// keys and RS256 and PS256 keys as RSA keys with "n" and "e" (RFC 7518),
// each with its "kid", "alg" and "use":"sig", ordered by kid. HMAC keys are left out,
// since their secret is all there is to them; a Verifier with only HMAC keys
// gives {"keys":[]}. Private material is never written.
//
// Serve the set where the other services fetch it, conventionally at
// /.well-known/jwks.json with the type application/jwk-set+json, and let
// them cache it for a stated time (Cache-Control max-age). Because a
// Verifier holds the keys that are being rotated in as well as those being
// rotated out, its set is the one to publish. To rotate to a new key:
//
//  1. Add the new key to the Verifier (a new Verifier, from the old keys
//     and the new one) and publish its JWKS, while the Issuer still signs
//     with the old key.
//  2. Once every consumer has the new set, that is after the longest time
//     they may cache it, make a new Issuer that signs with the new key.
//  3. Once the tokens of the old key have expired, that is the access-token
//     TTL ([WithTTL]) plus the leeway after the switch, drop the old key
//     from the Verifier and publish the set again.
//
// Switching the Issuer before step 2 completes makes services with a stale
// set refuse the new tokens; dropping the old key before step 3 refuses
// tokens that are still valid.
func (v *Verifier) JWKS() ([]byte, error) {
	if v == nil || v.keys == nil {
		return nil, fmt.Errorf("%w: Verifier not made by NewVerifier", ErrConfig)
	}
	keys := make([]*Key, len(v.keyList))
	for i, vk := range v.keyList {
		keys[i] = vk.key
	}
	return JWKS(keys...)
}

// JWKS returns the JSON Web Key Set of the public halves of keys, as
// [Verifier.JWKS] does; HMAC keys are left out. Nil or zero keys and
// duplicate ids are refused with an error wrapping [ErrConfig].
func JWKS(keys ...*Key) ([]byte, error) {
	set := jwkSet{Keys: make([]publicJWK, 0, len(keys))}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !k.usable() {
			return nil, fmt.Errorf("%w: nil or zero key", ErrConfig)
		}
		if seen[k.id] {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrConfig, k.id)
		}
		seen[k.id] = true
		jwk, public, err := k.publicJWK()
		if err != nil {
			return nil, err
		}
		if public {
			set.Keys = append(set.Keys, jwk)
		}
	}
	slices.SortFunc(set.Keys, func(a, b publicJWK) int { return strings.Compare(a.Kid, b.Kid) })
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the JWKS: %w", ErrConfig, err)
	}
	return b, nil
}

// publicJWK returns the public JWK of k, or false for an HMAC key, which has
// no public half.
func (k *Key) publicJWK() (publicJWK, bool, error) {
	jwk := publicJWK{Kid: k.id, Use: "sig", Alg: k.Algorithm()}
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.material.verify.(type) {
	case []byte:
		return jwk, false, nil
	case ed25519.PublicKey:
		jwk.Kty, jwk.Crv, jwk.X = "OKP", "Ed25519", b64(pub)
	case *ecdsa.PublicKey:
		// Bytes gives 0x04 || X || Y, each coordinate padded to 32 bytes
		// as RFC 7518 section 6.2.1.2 requires.
		p, err := pub.Bytes()
		if err != nil {
			return jwk, false, fmt.Errorf("%w: key %q: %w", ErrConfig, k.id, err)
		}
		jwk.Kty, jwk.Crv, jwk.X, jwk.Y = "EC", "P-256", b64(p[1:1+coordSize]), b64(p[1+coordSize:])
	case *rsa.PublicKey:
		// Both big-endian in the fewest bytes (RFC 7518 section 6.3.1).
		jwk.Kty, jwk.N, jwk.E = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	default:
		return jwk, false, fmt.Errorf("%w: key %q has unsupported material", ErrConfig, k.id)
	}
	return jwk, true, nil
}

// privateMembers are the JWK members that hold private or secret key
// material (RFC 7518 section 6).
var privateMembers = []string{"d", "k", "p", "q", "dp", "dq", "qi", "oth"}

// ParseJWKS returns verify-only keys from a JSON Web Key Set such as
// [Verifier.JWKS] writes, in the order of the set, so that another service
// can make a [Verifier] from it alone:
//
//	keys, err := tokens.ParseJWKS(body)
//	...
//	verifier, err := tokens.NewVerifier(keys, opts...)
//
// It accepts Ed25519 OKP keys (RFC 8037), EC P-256 keys and RSA keys, and
// is strict: every key needs a unique, non-empty "kid"; "kty" and "crv"
// must be one of those pairs (an RSA key has no "crv"), and "alg", if
// present, must be its algorithm (EdDSA, ES256, or for RSA RS256 or PS256;
// an RSA key without "alg" is RS256); "use", if present, must be "sig",
// and "key_ops", if present, must include "verify"; a key holding private
// material ("d" and the like) is refused rather than stripped, because
// whoever published it leaked it; coordinates must be unpadded base64url
// of exactly 32 bytes and name a valid point (for Ed25519, one not of
// small order); an RSA "n" and "e" must be unpadded base64url without
// leading zero bytes, the modulus of at least [MinRSAKeySize] bits (or the
// error wraps [ErrWeakKey] too). Members it does not
// know are ignored. Unlike RFC 7517's advice to skip keys of unknown types,
// any key it cannot use fails the whole set, so that a mistake in what is
// published shows up at once rather than as refused tokens. A set with no
// keys gives no keys, which [NewVerifier] refuses.
//
// Errors wrap [ErrConfig]. The keys cannot sign: [NewIssuer] refuses them.
// As a Verifier's keys are fixed, a consumer fetches the set again when its
// cache time has passed, and makes a new Verifier when the set has changed;
// that is how it follows a rotation (see [Verifier.JWKS]).
func ParseJWKS(data []byte) ([]*Key, error) {
	var set map[string]json.RawMessage
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%w: JWKS is not a JSON object: %w", ErrConfig, err)
	}
	raw, ok := set["keys"]
	if !ok {
		return nil, fmt.Errorf(`%w: JWKS has no "keys" member`, ErrConfig)
	}
	var members []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, fmt.Errorf(`%w: JWKS "keys" is not an array of objects`, ErrConfig)
	}
	keys := make([]*Key, 0, len(members))
	seen := make(map[string]bool, len(members))
	for i, m := range members {
		k, err := parseJWK(m)
		if err != nil {
			return nil, fmt.Errorf("%w: JWKS key %d: %w", ErrConfig, i, err)
		}
		if seen[k.id] {
			return nil, fmt.Errorf("%w: JWKS key %d: duplicate kid %q", ErrConfig, i, truncate(k.id, 64))
		}
		seen[k.id] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// parseJWK makes a verify-only key of one member of a JWKS. Its errors
// carry no prefix; ParseJWKS adds ErrConfig and the key's position.
func parseJWK(m map[string]json.RawMessage) (*Key, error) {
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, fmt.Errorf("holds the private member %q; publish public keys only", name)
		}
	}
	var kid string
	if err := stringMember(m, "kid", &kid, true); err != nil {
		return nil, err
	}
	if kid == "" {
		return nil, errors.New("empty kid")
	}
	k, err := jwkKey(m, kid)
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", truncate(kid, 64), err)
	}
	return k, nil
}

// jwkKey makes the key with id kid that the members m describe.
func jwkKey(m map[string]json.RawMessage, kid string) (*Key, error) {
	var kty, crv, use, alg string
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{{"kty", &kty, true}, {"crv", &crv, false}, {"use", &use, false}, {"alg", &alg, false}} {
		if err := stringMember(m, f.name, f.dst, f.required); err != nil {
			return nil, err
		}
	}
	if _, ok := m["use"]; ok && use != "sig" {
		return nil, fmt.Errorf(`use %q, want "sig"`, truncate(use, 64))
	}
	if err := checkKeyOps(m); err != nil {
		return nil, err
	}
	var want string
	switch {
	case kty == "OKP" && crv == "Ed25519":
		want = "EdDSA"
	case kty == "EC" && crv == "P-256":
		want = "ES256"
	case kty == "RSA" && m["crv"] == nil:
		return rsaJWK(m, kid, alg)
	case kty == "RSA":
		return nil, errors.New(`an RSA key has no "crv"`)
	case kty == "OKP" || kty == "EC":
		return nil, fmt.Errorf("unsupported crv %q for kty %s; want Ed25519 (OKP) or P-256 (EC)", truncate(crv, 64), kty)
	default:
		return nil, fmt.Errorf("unsupported kty %q; want OKP, EC or RSA", truncate(kty, 64))
	}
	// An absent alg is implied by kty and crv; a present one must match.
	if _, ok := m["alg"]; ok && alg != want {
		if jwkAlg(alg) {
			return nil, fmt.Errorf("alg %s does not fit kty %s, crv %s", alg, kty, crv)
		}
		return nil, fmt.Errorf("unsupported alg %q; want %s", truncate(alg, 64), want)
	}
	x, err := coordinate(m, "x")
	if err != nil {
		return nil, err
	}
	if want == "EdDSA" {
		// NewEd25519PublicKey checks this too; checking first keeps its
		// ErrConfig prefix out of the middle of ParseJWKS's message.
		if err := checkEd25519Point(x); err != nil {
			return nil, err
		}
		return NewEd25519PublicKey(kid, x)
	}
	y, err := coordinate(m, "y")
	if err != nil {
		return nil, err
	}
	// ParseUncompressedPublicKey refuses points that are not on the curve.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	if err != nil {
		return nil, fmt.Errorf("invalid P-256 public key: %w", err)
	}
	return NewECDSAPublicKey(kid, pub)
}

// jwkAlg reports whether alg is one that ParseJWKS knows.
func jwkAlg(alg string) bool {
	return alg == "EdDSA" || alg == "ES256" || alg == "RS256" || alg == "PS256"
}

// rsaJWK makes the RS256 or PS256 key with id kid of the RSA members m;
// alg is "" when absent.
func rsaJWK(m map[string]json.RawMessage, kid, alg string) (*Key, error) {
	newKey := NewRSAPublicKey
	switch {
	case alg == "PS256":
		newKey = NewRSAPSSPublicKey
	case alg == "" && m["alg"] == nil, alg == "RS256":
	case jwkAlg(alg):
		return nil, fmt.Errorf("alg %s does not fit kty RSA", alg)
	default:
		return nil, fmt.Errorf("unsupported alg %q; want RS256 or PS256", truncate(alg, 64))
	}
	n, err := uintMember(m, "n", maxRSAKeySize/8)
	if err != nil {
		return nil, err
	}
	e, err := uintMember(m, "e", 4)
	if err != nil {
		return nil, err
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	// Checked first to keep NewRSAPublicKey's ErrConfig prefix out of the
	// middle of ParseJWKS's message.
	if err := rsaKeyError(pub); err != nil {
		return nil, err
	}
	return newKey(kid, pub)
}

// uintMember decodes the member name of m, a Base64urlUInt (RFC 7518
// section 2): unpadded base64url of at most max bytes, without leading
// zero bytes, line breaks or stray bits.
func uintMember(m map[string]json.RawMessage, name string, max int) ([]byte, error) {
	var s string
	if err := stringMember(m, name, &s, true); err != nil {
		return nil, err
	}
	if len(s) > base64.RawURLEncoding.EncodedLen(max) {
		return nil, fmt.Errorf("%q is longer than %d bytes", name, max)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	switch {
	case err != nil || len(b) == 0 || strings.ContainsAny(s, "\r\n"):
		return nil, fmt.Errorf("%q is not unpadded base64url", name)
	case b[0] == 0:
		return nil, fmt.Errorf("%q has a leading zero byte", name)
	}
	return b, nil
}

// stringMember sets *dst to the string member name of m, and fails if it is
// not a string, or is missing and required.
func stringMember(m map[string]json.RawMessage, name string, dst *string, required bool) error {
	raw, ok := m[name]
	if !ok {
		if required {
			return fmt.Errorf("missing %q", name)
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("member %q: %w", name, err)
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("member %q is not a string", name)
	}
	*dst = s
	return nil
}

// checkKeyOps refuses a "key_ops" member (RFC 7517 section 4.3) that does
// not allow verification.
func checkKeyOps(m map[string]json.RawMessage) error {
	raw, ok := m["key_ops"]
	if !ok {
		return nil
	}
	var ops []string
	if err := json.Unmarshal(raw, &ops); err != nil {
		return errors.New(`"key_ops" is not an array of strings`)
	}
	if !slices.Contains(ops, "verify") {
		return errors.New(`"key_ops" does not include "verify"`)
	}
	return nil
}

// coordinate decodes the member name of m, which must be exactly 32 bytes
// in unpadded base64url, with no line breaks (which encoding/base64 would
// skip) and no stray bits.
func coordinate(m map[string]json.RawMessage, name string) ([]byte, error) {
	var s string
	if err := stringMember(m, name, &s, true); err != nil {
		return nil, err
	}
	if len(s) != coordLen {
		return nil, fmt.Errorf("%q has %d characters, want %d (%d bytes)", name, len(s), coordLen, coordSize)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != coordSize {
		return nil, fmt.Errorf("%q is not %d bytes of unpadded base64url", name, coordSize)
	}
	return b, nil
}
