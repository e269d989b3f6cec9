package tokens

import (
	"fmt"
	"slices"
	"time"
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
	var p parsedToken
	if err := p.parse(token, v.keyList); err != nil {
		return nil, refuseParse(err)
	}
	if p.handOver {
		p = parsedToken{}
		if err := p.parseWithJWT(token); err != nil {
			return nil, refuseParse(err)
		}
	}
	box, err := v.validate(&p, now)
	switch {
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

// verifyReference verifies token as Verify does without its cache, but
// parsed by golang-jwt (parseWithJWT) and with golang-jwt's signature
// check: the reference that the differential tests hold the lean parser
// and signature check to, under the same rules (validate).
func (v *Verifier) verifyReference(token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, errOversized(token)
	}
	var p parsedToken
	if err := p.parseWithJWT(token); err != nil {
		return nil, refuseParse(err)
	}
	box, err := v.validate(&p, v.now())
	if box == nil {
		return nil, err
	}
	return &box.c, err
}
