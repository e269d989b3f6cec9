package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the longest token [Verifier.Verify] will parse, in bytes.
// Our tokens are a few hundred bytes; the cap makes garbage and hostile input
// cheap to reject before any base64 or JSON decoding.
const MaxTokenSize = 8 << 10

// Verifier checks access tokens against a set of keys. It is safe for
// concurrent use.
//
// Its keys and options are fixed when it is made: rotating keys means making
// a new Verifier, which starts with an empty cache (see [WithCacheSize]).
type Verifier struct {
	keys        map[string]*verifyKey
	keyList     []*verifyKey // in the order given, for the header shortcut
	algs        []string     // the keys' algorithms, each once
	issuer      string
	audience    string
	leeway      time.Duration
	now         func() time.Time
	maxLifetime time.Duration // longest exp - iat accepted: TTL plus leeway
	cache       *tokenCache   // nil when disabled

	// golang-jwt, for the rare tokens that the lean verifier hands over
	// (see rawClaims.parse), and the reference that the differential tests
	// hold the lean verifier to.
	parser    *jwt.Parser
	claimOpts []jwt.ParserOption // claim checks without the clock, for re-validation
}

// keyKind is the algorithm family of a verifyKey.
type keyKind int

const (
	kindHMAC keyKind = iota + 1
	kindEd25519
	kindECDSA
)

// verifyKey is a Key prepared for verification.
type verifyKey struct {
	key  *Key
	alg  string
	kind keyKind
	// headerSeg is the header segment that an Issuer writes for the key,
	// and header what it says: a token carrying exactly that segment needs
	// no header decoding.
	headerSeg string
	header    rawHeader
	macs      *sync.Pool // of *macState, for HS256
	ed        ed25519.PublicKey
	ec        *ecdsa.PublicKey
}

func newVerifyKey(k *Key) (*verifyKey, error) {
	seg, err := k.headerSegment()
	if err != nil {
		return nil, err
	}
	vk := &verifyKey{key: k, alg: k.Algorithm(), headerSeg: seg, header: rawHeader{
		alg: k.Algorithm(), typ: accessTokenType, kid: k.id,
		algIsString: true, typIsString: true, kidIsString: true,
	}}
	switch m := k.material.verify.(type) {
	case []byte:
		vk.kind = kindHMAC
		vk.macs = &sync.Pool{New: func() any { return &macState{mac: hmac.New(sha256.New, m)} }}
	case ed25519.PublicKey:
		vk.kind, vk.ed = kindEd25519, m
	case *ecdsa.PublicKey:
		vk.kind, vk.ec = kindECDSA, m
	default:
		return nil, fmt.Errorf("%w: key %q has unsupported material", ErrConfig, k.id)
	}
	return vk, nil
}

// NewVerifier returns a Verifier that accepts tokens signed by any of keys,
// chosen by the token's "kid" header. At least one key is required and ids
// must be unique; several keys allow rotation (sign with the new key while
// the old one still verifies). Only the algorithms of keys are allowed.
//
// [WithIssuer] and [WithAudience] are required; [WithTTL], [WithLeeway],
// [WithClock] and [WithCacheSize] are optional. The Verifier refuses tokens
// that live longer than the TTL plus the leeway, so give it the options of
// the [Issuer] whose tokens it checks. Errors wrap [ErrConfig].
func NewVerifier(keys []*Key, opts ...Option) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: at least one key is required", ErrConfig)
	}
	v := &Verifier{keys: make(map[string]*verifyKey, len(keys))}
	for _, k := range keys {
		if !k.usable() {
			return nil, fmt.Errorf("%w: nil or zero key", ErrConfig)
		}
		if _, dup := v.keys[k.id]; dup {
			return nil, fmt.Errorf("%w: duplicate key id %q", ErrConfig, k.id)
		}
		vk, err := newVerifyKey(k)
		if err != nil {
			return nil, err
		}
		v.keys[k.id] = vk
		v.keyList = append(v.keyList, vk)
		if !slices.Contains(v.algs, vk.alg) {
			v.algs = append(v.algs, vk.alg)
		}
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	v.issuer, v.audience, v.leeway, v.now = c.issuer, c.audience, c.leeway, c.now
	v.maxLifetime = c.ttl + c.leeway
	if c.cacheSize > 0 {
		v.cache = newTokenCache(c.cacheSize)
	}
	v.claimOpts = []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(c.issuer),
		jwt.WithAudience(c.audience),
		jwt.WithLeeway(c.leeway),
	}
	v.parser = jwt.NewParser(append(slices.Clone(v.claimOpts),
		jwt.WithValidMethods(v.algs),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(c.now),
	)...)
	return v, nil
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
//
// The returned Claims belong to the caller, who may change them: a token
// found in the cache (see [WithCacheSize]) is returned as a fresh copy.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if v == nil || v.keys == nil {
		// A zero Verifier has no keys: fail closed rather than panic.
		return nil, fmt.Errorf("%w: %w: %w: Verifier not made by NewVerifier", ErrInvalidToken, ErrSignature, ErrConfig)
	}
	if len(token) > MaxTokenSize {
		return nil, errOversized(token)
	}
	now := v.now()
	if v.cache != nil {
		if claims := v.cache.get(token, now); claims != nil {
			return claims, nil
		}
	}
	box, delegate, err := v.verifyLean(token, now)
	switch {
	case delegate:
		return v.verifyReference(token)
	case err != nil && box != nil: // expired, and only that
		return &box.c, err
	case err != nil:
		return nil, err
	case v.cache != nil:
		v.cache.put(token, box, now, v.leeway)
		return box.clone(), nil
	}
	return &box.c, nil
}

func errOversized(token string) error {
	return fmt.Errorf("%w: %w: token is %d bytes, limit is %d",
		ErrInvalidToken, ErrMalformed, len(token), MaxTokenSize)
}

// verifyReference verifies token with golang-jwt, as Verify did before the
// lean verifier: it is the definition of the verdicts that verifyLean
// reproduces, and decides for the tokens that verifyLean hands over.
func (v *Verifier) verifyReference(token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, errOversized(token)
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
// not know the maximum, so Verify applies it after the other claim checks.
func (v *Verifier) checkLifetime(claims *Claims) error {
	if claims.ExpiresAt == nil || claims.IssuedAt == nil {
		return errors.New("exp and iat claims are required")
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > v.maxLifetime {
		return fmt.Errorf("lifetime (exp - iat) is %v, longer than the %v allowed", life, v.maxLifetime)
	}
	return nil
}

// errUnknownKey and errHeader are the refusals of pickKey and
// checkHeaderRules; they end up wrapped in ErrSignature.
var (
	errUnknownKey = errors.New("no usable key")
	errHeader     = errors.New("header refused")
)

// keyFor is golang-jwt's Keyfunc in verifyReference. It runs before the
// signature is checked: it applies checkHeaderRules and pickKey.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	_, crit := t.Header["crit"]
	typ, typIsString := t.Header["typ"].(string)
	if err := checkHeaderRules(crit, typ, typIsString); err != nil {
		return nil, err
	}
	kid, kidIsString := t.Header["kid"].(string)
	var alg string
	if t.Method != nil {
		alg = t.Method.Alg()
	}
	k, err := v.pickKey(kid, kidIsString, alg)
	if err != nil {
		return nil, err
	}
	return k.key.material.verify, nil
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

// keyByHeader returns the key whose Issuer writes exactly the header
// segment seg, or nil.
func (v *Verifier) keyByHeader(seg string) *verifyKey {
	for _, k := range v.keyList {
		if seg == k.headerSeg {
			return k
		}
	}
	return nil
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

// truncate shortens s, which comes from an untrusted token, before it goes
// into an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
