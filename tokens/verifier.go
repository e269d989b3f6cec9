package tokens

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	keys        map[string]*Key
	parser      *jwt.Parser
	claimOpts   []jwt.ParserOption // claim checks without the clock, for re-validation
	maxLifetime time.Duration      // longest exp - iat accepted: TTL plus leeway
}

// NewVerifier returns a Verifier that accepts tokens signed by any of keys,
// chosen by the token's "kid" header. At least one key is required and ids
// must be unique; several keys allow rotation (sign with the new key while
// the old one still verifies). Only the algorithms of keys are allowed.
//
// [WithIssuer] and [WithAudience] are required; [WithTTL], [WithLeeway] and
// [WithClock] are optional. The Verifier refuses tokens that live longer than
// the TTL plus the leeway, so give it the options of the [Issuer] whose
// tokens it checks. Errors wrap [ErrConfig].
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
		keys:        byID,
		parser:      jwt.NewParser(parserOpts...),
		claimOpts:   claimOpts,
		maxLifetime: c.ttl + c.leeway,
	}, nil
}

// Verify checks token and returns its claims.
//
// Beyond signature and claims, the header must have the type "at+jwt" (or
// "application/at+jwt", in any case) and no "crit" member, and exp - iat must
// not exceed the TTL plus the leeway (see [WithTTL]).
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
		if err := v.checkLifetime(claims); err != nil {
			return nil, fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, err)
		}
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
// they expired, with every claim rule that Verify applies. A nil result means
// expiry is their only fault.
func (v *Verifier) validBeforeExpiry(claims *Claims) error {
	if claims.ExpiresAt == nil {
		return errors.New("no exp claim")
	}
	justBefore := claims.ExpiresAt.Add(-time.Nanosecond)
	opts := append(slices.Clone(v.claimOpts), jwt.WithTimeFunc(func() time.Time { return justBefore }))
	if err := jwt.NewValidator(opts...).Validate(claims); err != nil {
		return err
	}
	return v.checkLifetime(claims)
}

// checkLifetime refuses claims whose exp - iat exceeds the Verifier's
// maximum. golang-jwt has no option for this rule and Claims.Validate does
// not know the maximum, so Verify applies it after golang-jwt's checks.
func (v *Verifier) checkLifetime(claims *Claims) error {
	if claims.ExpiresAt == nil || claims.IssuedAt == nil {
		return errors.New("exp and iat claims are required")
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > v.maxLifetime {
		return fmt.Errorf("lifetime (exp - iat) is %v, longer than the %v allowed", life, v.maxLifetime)
	}
	return nil
}

// errUnknownKey and errHeader are returned to golang-jwt by keyFor; they end
// up wrapped in ErrSignature.
var (
	errUnknownKey = errors.New("no usable key")
	errHeader     = errors.New("header refused")
)

// keyFor is the jwt.Keyfunc. It runs before the signature is checked: it
// enforces the header rules of checkHeader, picks the key named by the "kid"
// header and insists that its algorithm is the token's, so that, for example,
// an HS256 token can never be checked against the bytes of a public key.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if err := checkHeader(t.Header); err != nil {
		return nil, err
	}
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

// checkHeader enforces the header rules that golang-jwt does not know:
//
//   - "typ" must be "at+jwt" (RFC 9068 section 2.1). RFC 7515 section 4.1.9
//     makes the "application/" prefix optional and media types are
//     case-insensitive, so "application/at+jwt" and "AT+JWT" pass too; a
//     missing typ, or "JWT", does not.
//   - "crit" must be absent. It lists extensions the recipient must
//     understand or else reject the token (RFC 7515 section 4.1.11), and
//     authkit understands none; even an empty or null crit is refused, as
//     the RFC forbids those.
func checkHeader(h map[string]any) error {
	if _, ok := h["crit"]; ok {
		return fmt.Errorf("%w: crit header present, and no extension is supported", errHeader)
	}
	typ, ok := h["typ"].(string)
	if !ok {
		return fmt.Errorf("%w: typ header missing or not a string, want %q", errHeader, accessTokenType)
	}
	if !strings.EqualFold(typ, accessTokenType) && !strings.EqualFold(typ, "application/"+accessTokenType) {
		return fmt.Errorf("%w: typ %q, want %q", errHeader, truncate(typ, 64), accessTokenType)
	}
	return nil
}

// truncate shortens s, which comes from an untrusted token, before it goes
// into an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
