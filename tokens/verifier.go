package tokens

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the longest token [Verifier.Verify] will parse, in bytes.
// Our tokens are a few hundred bytes; the cap makes garbage and hostile input
// cheap to reject before any base64 or JSON decoding.
const MaxTokenSize = 8 << 10

// Verifier checks access tokens against a set of keys. It is safe for
// concurrent use.
type Verifier struct {
	keys      map[string]*Key
	parser    *jwt.Parser
	claimOpts []jwt.ParserOption // claim checks without the clock, for re-validation
}

// NewVerifier returns a Verifier that accepts tokens signed by any of keys,
// chosen by the token's "kid" header. At least one key is required and ids
// must be unique; several keys allow rotation (sign with the new key while
// the old one still verifies). Only the algorithms of keys are allowed.
//
// [WithIssuer] and [WithAudience] are required; [WithLeeway] and
// [WithClock] are optional. Errors wrap [ErrConfig].
func NewVerifier(keys []*Key, opts ...Option) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: at least one key is required", ErrConfig)
	}
	byID := make(map[string]*Key, len(keys))
	var algs []string
	for _, k := range keys {
		if !k.usable() {
			return nil, fmt.Errorf("%w: nil or zero key", ErrConfig)
		}
		if _, dup := byID[k.id]; dup {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrConfig, k.id)
		}
		byID[k.id] = k
		if !slices.Contains(algs, k.Algorithm()) {
			algs = append(algs, k.Algorithm())
		}
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	claimOpts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(c.issuer),
		jwt.WithAudience(c.audience),
		jwt.WithLeeway(c.leeway),
	}
	parserOpts := append(slices.Clone(claimOpts),
		jwt.WithValidMethods(algs),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(c.now),
	)
	return &Verifier{
		keys:      byID,
		parser:    jwt.NewParser(parserOpts...),
		claimOpts: claimOpts,
	}, nil
}

// Verify checks token and returns its claims.
//
// On success the error is nil. On failure the error wraps [ErrInvalidToken]
// and one of [ErrMalformed], [ErrSignature], [ErrExpired] or [ErrClaims], and
// the claims are nil, with one exception: when the signature is valid and
// expiry is the token's only fault, Verify returns the decoded claims together
// with an error wrapping ErrExpired, so that the caller can look up the
// session (the "sid" claim) and decide whether to refresh. Those claims must
// not be treated as authenticated for anything else.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if v == nil || v.parser == nil {
		// A zero Verifier has no keys: fail closed rather than panic.
		return nil, fmt.Errorf("%w: %w: %w: Verifier not made by NewVerifier", ErrInvalidToken, ErrSignature, ErrConfig)
	}
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %w: token is %d bytes, limit is %d",
			ErrInvalidToken, ErrMalformed, len(token), MaxTokenSize)
	}
	claims := new(Claims)
	t, err := v.parser.ParseWithClaims(token, claims, v.keyFor)
	switch {
	case err == nil && t != nil && t.Valid:
		return claims, nil
	case err == nil:
		// Unreachable with golang-jwt v5; fail closed all the same.
		return nil, fmt.Errorf("%w: %w: token not marked valid", ErrInvalidToken, ErrSignature)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrSignature, err)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		// The signature is valid: golang-jwt checks claims last.
		if !errors.Is(err, jwt.ErrTokenExpired) {
			return nil, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrClaims, err)
		}
		before := v.validBeforeExpiry(claims)
		if before == nil {
			return claims, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrExpired, err)
		}
		// Report the faults it had before expiry; the jwt error is not
		// wrapped, so that nothing matches jwt.ErrTokenExpired here.
		return nil, fmt.Errorf("%w: %w: %w: %w; also expired", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, before)
	default:
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrMalformed, err)
	}
}

// validBeforeExpiry checks claims as they stood at the last instant before
// they expired. A nil result means expiry is their only fault.
func (v *Verifier) validBeforeExpiry(claims *Claims) error {
	if claims.ExpiresAt == nil {
		return errors.New("no exp claim")
	}
	justBefore := claims.ExpiresAt.Add(-time.Nanosecond)
	opts := append(slices.Clone(v.claimOpts), jwt.WithTimeFunc(func() time.Time { return justBefore }))
	return jwt.NewValidator(opts...).Validate(claims)
}

// errUnknownKey is returned to golang-jwt by keyFor; it ends up wrapped in
// ErrSignature.
var errUnknownKey = errors.New("no usable key")

// keyFor is the jwt.Keyfunc: it picks the key named by the "kid" header and
// insists that its algorithm is the token's, so that, for example, an HS256
// token can never be checked against the bytes of a public key.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, fmt.Errorf("%w: missing kid header", errUnknownKey)
	}
	k, ok := v.keys[kid]
	if !ok {
		return nil, fmt.Errorf("%w: unknown kid %q", errUnknownKey, truncate(kid, 64))
	}
	var alg string
	if t.Method != nil {
		alg = t.Method.Alg()
	}
	if alg != k.Algorithm() {
		return nil, fmt.Errorf("%w: key %q is for %s, token says %q", errUnknownKey, kid, k.Algorithm(), alg)
	}
	return k.material.verify, nil
}

// truncate shortens s, which comes from an untrusted token, before it goes
// into an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
