package tokens

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jtiSize is the number of random bytes in a token id: 128 bits make
// collisions negligible.
const jtiSize = 16

// accessTokenType is the "typ" header of every token an Issuer signs and the
// only type a Verifier accepts (RFC 9068 section 2.1). It keeps other JWTs
// signed with the same key, such as ID tokens, from passing as access tokens
// (RFC 8725 section 3.11).
const accessTokenType = "at+jwt"

// deriveContext starts every message that DeriveSecret MACs. Its space and
// NUL never occur in a JWS signing input (base64url and "."), so with an
// HMAC key no derived secret is ever a token signature, nor the reverse.
const deriveContext = "authkit derive v1\x00"

// Issuer signs access tokens with one [Key]. It is safe for concurrent use.
type Issuer struct {
	key      *Key
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewIssuer returns an Issuer that signs with key, which must be able to sign
// (not made by a New…PublicKey constructor). [WithIssuer] and [WithAudience]
// are required; [WithTTL] and [WithClock] are optional. Errors wrap
// [ErrConfig].
func NewIssuer(key *Key, opts ...Option) (*Issuer, error) {
	if !key.usable() {
		return nil, fmt.Errorf("%w: nil or zero key", ErrConfig)
	}
	if !key.canSign() {
		return nil, fmt.Errorf("%w: key %q is verify-only and cannot sign", ErrConfig, key.id)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, issuer: c.issuer, audience: c.audience, ttl: c.ttl, now: c.now}, nil
}

// TTL returns the lifetime of the tokens the Issuer signs.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs an access token for subject in session sessionID with roles.
// It returns the compact token and the claims it contains: sub, sid, roles,
// iss, aud, iat, nbf (equal to iat), exp (iat plus the TTL) and a random jti.
// The header carries the key's id as "kid" and the type "at+jwt" as "typ".
//
// Empty subject or sessionID are refused with an error wrapping [ErrClaims]
// (but not [ErrInvalidToken]), since a [Verifier] would reject the token.
func (i *Issuer) Issue(subject, sessionID string, roles []string) (token string, claims *Claims, err error) {
	if i == nil || !i.key.canSign() {
		return "", nil, fmt.Errorf("%w: Issuer not made by NewIssuer", ErrConfig)
	}
	if subject == "" {
		return "", nil, fmt.Errorf("tokens: issue: %w: empty subject", ErrClaims)
	}
	if sessionID == "" {
		return "", nil, fmt.Errorf("tokens: issue: %w: empty session id", ErrClaims)
	}
	jti, err := newJTI()
	if err != nil {
		return "", nil, err
	}
	// JWT times have a precision of one second; truncate once so that
	// exp - iat is exactly the TTL.
	iat := jwt.NewNumericDate(i.now())
	claims = &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(i.ttl)),
			NotBefore: jwt.NewNumericDate(iat.Time),
			IssuedAt:  iat,
			ID:        jti,
		},
		SessionID: sessionID,
		Roles:     slices.Clone(roles),
	}
	t := jwt.NewWithClaims(i.key.method, claims)
	t.Header["kid"] = i.key.id
	t.Header["typ"] = accessTokenType
	token, err = t.SignedString(i.key.material.sign)
	if err != nil {
		return "", nil, fmt.Errorf("tokens: issue: signing with %v: %w", i.key, err)
	}
	return token, claims, nil
}

// DeriveSecret returns a 32-byte secret for label, derived from the private
// material of the Issuer's signing key (the HMAC secret, the Ed25519 seed or
// the ECDSA private scalar) as HMAC-SHA256 of "authkit derive v1\x00"
// followed by label. The same key and label always give the same secret, and
// different labels give unrelated ones, so one configured key can also
// provide, for example, the MAC key of refresh tokens.
//
// The secret changes when the signing key changes: whatever it protects stops
// verifying once the Issuer signs with a new key. Where that is not
// acceptable, configure a separate secret instead.
//
// It returns nil for an Issuer not made by [NewIssuer].
func (i *Issuer) DeriveSecret(label string) []byte {
	if i == nil || !i.key.canSign() || i.key.material.private == nil {
		return nil
	}
	mac := hmac.New(sha256.New, i.key.material.private)
	mac.Write([]byte(deriveContext))
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

func newJTI() (string, error) {
	b := make([]byte, jtiSize)
	if _, err := rand.Read(b); err != nil {
		// Unreachable since Go 1.24, where Read never fails; kept so the
		// function stays correct should that change.
		return "", fmt.Errorf("tokens: reading random jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
