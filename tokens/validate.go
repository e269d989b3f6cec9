package tokens

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file holds every rule of verification, as golang-jwt's validator.go
// holds its claim rules: which header, key and signature are accepted,
// which claims, and which sentinel errors each refusal wraps. It applies
// them to a parsedToken from either parser of parse.go, so that the lean
// path of Verify and the golang-jwt reference path cannot disagree on a
// rule; the rules themselves mirror golang-jwt's (Parser.ParseWithClaims
// with the options a strict access-token verifier would give it, and its
// Validator), in the same order, and wrap the same golang-jwt sentinels.

// validate applies the rules to the parsed token p at now, in golang-jwt's
// order: the alg, the header rules and the key (keyFor), the signature, the
// claims (checkClaims). It returns the claims with a nil error, or with an
// error wrapping ErrExpired when expiry is the token's only fault; or nil
// and the error.
func (v *Verifier) validate(p *parsedToken, now time.Time) (*claimsBox, error) {
	k, err := v.keyFor(&p.header)
	if err != nil {
		return nil, err
	}
	if !p.verifySignature(k) {
		return nil, fmt.Errorf("%w: %w: %w: signature does not match",
			ErrInvalidToken, ErrSignature, jwt.ErrTokenSignatureInvalid)
	}
	box := p.claimsBox()
	switch err := v.checkClaims(&box.c, now); {
	case err == nil:
		return box, nil
	case errors.Is(err, ErrExpired):
		return box, err
	default:
		return nil, err
	}
}

// refuseParse wraps an error of either parser in ErrInvalidToken and its
// category: ErrSignature for an alg that is missing or unknown
// (jwt.ErrTokenUnverifiable), ErrMalformed for everything else.
func refuseParse(err error) error {
	if errors.Is(err, jwt.ErrTokenUnverifiable) {
		return fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrSignature, err)
	}
	return fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrMalformed, err)
}

// verifySignature checks p's signature with k. A token that golang-jwt
// parsed is checked with golang-jwt's SigningMethod for its alg, so that
// the differential test also holds verifyKey.verify to golang-jwt.
func (p *parsedToken) verifySignature(k *verifyKey) bool {
	if p.method != nil {
		// parseWithJWT keeps the signature in sigHeap; passing sigBuf to
		// an interface method would move every parsedToken to the heap.
		return p.method.Verify(p.signingInput, p.sigHeap, k.key.material.verify) == nil
	}
	return k.verify(p.signingInput, p.signature())
}

// errUnknownKey and errHeader are the refusals of pickKey and
// checkHeaderRules; they end up wrapped in ErrSignature.
var (
	errUnknownKey = errors.New("no usable key")
	errHeader     = errors.New("header refused")
)

// keyFor applies the header rules and returns the key to check the
// signature with. The alg must be one of the keys' algorithms (golang-jwt's
// WithValidMethods, which reports jwt.ErrTokenSignatureInvalid); then
// checkHeaderRules and pickKey, whose refusals are reported as golang-jwt
// reports an error of its key function.
func (v *Verifier) keyFor(h *rawHeader) (*verifyKey, error) {
	if !v.allowsAlg(h.alg) {
		return nil, fmt.Errorf("%w: %w: %w: signing method %v is invalid",
			ErrInvalidToken, ErrSignature, jwt.ErrTokenSignatureInvalid, truncate(h.alg, 64))
	}
	if err := checkHeaderRules(h.crit, h.typ, h.typIsString); err != nil {
		return nil, unverifiable(err)
	}
	k, err := v.pickKey(h.kid, h.kidIsString, h.alg)
	if err != nil {
		return nil, unverifiable(err)
	}
	return k, nil
}

// unverifiable wraps a refusal of the header, which golang-jwt would report
// as an error of its key function: jwt.ErrTokenUnverifiable.
func unverifiable(err error) error {
	return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrSignature, jwt.ErrTokenUnverifiable, err)
}

// allowsAlg reports whether alg is the algorithm of one of the keys.
func (v *Verifier) allowsAlg(alg string) bool {
	for _, a := range v.algs {
		if a == alg {
			return true
		}
	}
	return false
}

// checkHeaderRules enforces the header rules that golang-jwt does not know:
//
//   - "typ" must be "at+jwt" (RFC 9068 section 2.1). RFC 7515 section 4.1.9
//     makes the "application/" prefix optional and media types are
//     case-insensitive, so "application/at+jwt" and "AT+JWT" pass too; a
//     missing typ, or "JWT", does not.
//   - "crit" must be absent. It lists extensions the recipient must
//     understand or else reject the token (RFC 7515 section 4.1.11), and
//     authkit understands none; even an empty or null crit is refused, as
//     the RFC forbids those.
func checkHeaderRules(crit bool, typ string, typIsString bool) error {
	if crit {
		return fmt.Errorf("%w: crit header present, and no extension is supported", errHeader)
	}
	if !typIsString {
		return fmt.Errorf("%w: typ header missing or not a string, want %q", errHeader, accessTokenType)
	}
	if !strings.EqualFold(typ, accessTokenType) && !strings.EqualFold(typ, "application/"+accessTokenType) {
		return fmt.Errorf("%w: typ %q, want %q", errHeader, truncate(typ, 64), accessTokenType)
	}
	return nil
}

// pickKey returns the key named by the "kid" header, and insists that its
// algorithm is the token's, so that, for example, an HS256 token can never
// be checked against the bytes of a public key.
func (v *Verifier) pickKey(kid string, kidIsString bool, alg string) (*verifyKey, error) {
	if !kidIsString || kid == "" {
		return nil, fmt.Errorf("%w: missing kid header", errUnknownKey)
	}
	k, ok := v.keys[kid]
	if !ok {
		return nil, fmt.Errorf("%w: unknown kid %q", errUnknownKey, truncate(kid, 64))
	}
	if alg != k.alg {
		return nil, fmt.Errorf("%w: key %q is for %s, token says %q", errUnknownKey, kid, k.alg, truncate(alg, 64))
	}
	return k, nil
}

// checkClaims applies the claim rules at now (claimFaults), then the
// expiry rule of Verify and the lifetime (checkLifetime). Its error wraps
// ErrExpired when expiry is the only fault, and ErrClaims otherwise.
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	errs, expired := v.claimFaults(c, now)
	switch {
	case len(errs) == 0:
		if err := v.checkLifetime(c); err != nil {
			return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, err)
		}
		return nil
	case !expired:
		return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, errs)
	}
	if before := v.validBeforeExpiry(c); before != nil {
		// Report the faults it had before expiry; nothing here matches
		// jwt.ErrTokenExpired.
		return fmt.Errorf("%w: %w: %w: %w; also expired", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, before)
	}
	return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrExpired, jwt.ErrTokenInvalidClaims, errs)
}

// claimFaults applies the claim rules of golang-jwt's Validator with the
// options WithExpirationRequired, WithIssuedAt, WithIssuer, WithAudience and
// WithLeeway, in its order (exp, nbf, iat, aud, iss), then Claims.Validate,
// at now. It returns the faults, each wrapping golang-jwt's sentinel, and
// whether the token has expired.
func (v *Verifier) claimFaults(c *Claims, now time.Time) (errs claimErrors, expired bool) {
	switch {
	case c.ExpiresAt == nil:
		errs = append(errs, fmt.Errorf("%w: exp claim is required", jwt.ErrTokenRequiredClaimMissing))
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		errs, expired = append(errs, jwt.ErrTokenExpired), true
	}
	if c.NotBefore != nil && now.Before(c.NotBefore.Add(-v.leeway)) {
		errs = append(errs, jwt.ErrTokenNotValidYet)
	}
	if c.IssuedAt != nil && now.Before(c.IssuedAt.Add(-v.leeway)) {
		errs = append(errs, jwt.ErrTokenUsedBeforeIssued)
	}
	switch aud := c.Audience; {
	case len(aud) == 0 || len(aud) == 1 && aud[0] == "":
		errs = append(errs, fmt.Errorf("%w: aud claim is required", jwt.ErrTokenRequiredClaimMissing))
	case !containsString(aud, v.audience):
		errs = append(errs, jwt.ErrTokenInvalidAudience)
	}
	switch {
	case c.Issuer == "":
		errs = append(errs, fmt.Errorf("%w: iss claim is required", jwt.ErrTokenRequiredClaimMissing))
	case c.Issuer != v.issuer:
		errs = append(errs, jwt.ErrTokenInvalidIssuer)
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs, expired
}

// validBeforeExpiry checks expired claims as they stood at the last instant
// before they expired, with every other claim rule. A nil result means
// expiry is their only fault.
func (v *Verifier) validBeforeExpiry(c *Claims) error {
	justBefore := c.ExpiresAt.Add(-time.Nanosecond) // expired, so exp is present
	if errs, _ := v.claimFaults(c, justBefore); len(errs) > 0 {
		return errs
	}
	return v.checkLifetime(c)
}

// checkLifetime refuses claims whose exp - iat exceeds the Verifier's
// maximum, a rule that golang-jwt has no option for.
func (v *Verifier) checkLifetime(c *Claims) error {
	if c.ExpiresAt == nil || c.IssuedAt == nil {
		return errors.New("exp and iat claims are required")
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > v.maxLifetime {
		return fmt.Errorf("lifetime (exp - iat) is %v, longer than the %v allowed", life, v.maxLifetime)
	}
	return nil
}

var _ jwt.ClaimsValidator = (*Claims)(nil)

var errExpNotAfterIat = errors.New("exp is not after iat")

// Validate checks the rules that golang-jwt cannot express with options: sub
// and iat must be present, sid too unless client_id is (a client's token
// has no session), and exp must come after iat. golang-jwt calls it
// while parsing, after its own checks of time, issuer and audience; it checks
// neither the signature nor the time, so on its own it proves nothing about a
// token: use [Verifier.Verify].
func (c *Claims) Validate() error {
	switch {
	case c.Subject == "":
		return fmt.Errorf("%w: sub claim is required", jwt.ErrTokenRequiredClaimMissing)
	case c.SessionID == "" && c.ClientID == "":
		return fmt.Errorf("%w: sid claim is required (or client_id)", jwt.ErrTokenRequiredClaimMissing)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat claim is required", jwt.ErrTokenRequiredClaimMissing)
	case c.ExpiresAt != nil && !c.ExpiresAt.After(c.IssuedAt.Time):
		// A token that was never valid must not pass as merely expired.
		return errExpNotAfterIat
	}
	return nil
}

// claimErrors are the faults claimFaults found, joined on one line as
// golang-jwt joins them.
type claimErrors []error

func (e claimErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, ", ")
}

func (e claimErrors) Unwrap() []error { return e }

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// truncate shortens s, which comes from an untrusted token, before it goes
// into an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
