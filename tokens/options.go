package tokens

import (
	"fmt"
	"time"
)

// Defaults and limits of the options.
const (
	// DefaultTTL is the lifetime of issued tokens unless [WithTTL] is given.
	DefaultTTL = 15 * time.Minute
	// DefaultLeeway is the clock skew tolerated unless [WithLeeway] is given.
	DefaultLeeway = 5 * time.Second
	// MaxLeeway is the largest leeway [WithLeeway] accepts.
	MaxLeeway = 5 * time.Minute
)

// Option configures an [Issuer] or a [Verifier], in the style of golang-jwt's
// parser options. An option that does not apply to a constructor is ignored
// by it, so one slice of options can configure both; an option given an
// invalid argument makes either constructor fail with [ErrConfig].
type Option func(*config)

// config is what the options set. Both constructors start from
// defaultConfig.
type config struct {
	issuer    string
	audience  string
	ttl       time.Duration
	leeway    time.Duration
	now       func() time.Time
	cacheSize int
	errs      []error
}

func defaultConfig() config {
	return config{ttl: DefaultTTL, leeway: DefaultLeeway, now: time.Now, cacheSize: DefaultCacheSize}
}

// newConfig applies opts and checks what both constructors need.
func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("%w: nil Option", ErrConfig)
		}
		opt(&c)
	}
	if len(c.errs) > 0 {
		return c, c.errs[0]
	}
	if c.issuer == "" {
		return c, fmt.Errorf("%w: an issuer is required (WithIssuer)", ErrConfig)
	}
	if c.audience == "" {
		return c, fmt.Errorf("%w: an audience is required (WithAudience)", ErrConfig)
	}
	return c, nil
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
}

// WithIssuer sets the "iss" claim written by an [Issuer] and required by a
// [Verifier]. There is no default: it is required by both, so that a token
// minted by another service that shares a key is not accepted here.
func WithIssuer(iss string) Option {
	return func(c *config) {
		if iss == "" {
			c.fail("WithIssuer: empty issuer")
		}
		c.issuer = iss
	}
}

// WithAudience sets the "aud" claim written by an [Issuer] and required by a
// [Verifier]. There is no default: it is required by both, so that a token
// meant for another service (another audience) cannot be replayed here.
func WithAudience(aud string) Option {
	return func(c *config) {
		if aud == "" {
			c.fail("WithAudience: empty audience")
		}
		c.audience = aud
	}
}

// WithTTL sets how long tokens from an [Issuer] stay valid, and the longest
// lifetime a [Verifier] accepts: a token whose exp - iat exceeds the TTL plus
// the leeway ([WithLeeway]) is refused with [ErrClaims], even if it has also
// expired. The default is [DefaultTTL] (15 minutes). A short lifetime bounds
// how long a stolen token can be used, and the cap keeps a token from a
// misconfigured issuer, or one signed with a leaked key, from living longer
// than this service assumes (stateless mode trusts a token until its exp);
// the refresh flow covers longer sessions. It must be at least one second,
// the precision of JWT times. Give the Issuer and the Verifier the same
// option list, or at least the same TTL.
func WithTTL(d time.Duration) Option {
	return func(c *config) {
		if d < time.Second {
			c.fail("WithTTL: %v is shorter than one second", d)
		}
		c.ttl = d
	}
}

// WithLeeway sets how much clock skew between issuer and verifier a
// [Verifier] tolerates on exp, nbf and iat. The default is [DefaultLeeway]
// (5 seconds); it must be between 0 and [MaxLeeway], because every second of
// leeway is a second more for a stolen, expired token. The Verifier also
// adds it to the TTL to get the longest lifetime it accepts (see [WithTTL]).
// An [Issuer] ignores it.
func WithLeeway(d time.Duration) Option {
	return func(c *config) {
		if d < 0 || d > MaxLeeway {
			c.fail("WithLeeway: %v is outside [0, %v]", d, MaxLeeway)
		}
		c.leeway = d
	}
}

// WithClock sets the source of the current time, for issuing and for checking
// exp, nbf and iat. The default is [time.Now]. It exists so that tests can
// move time instead of sleeping; a Verifier reads it once per token, and
// also for every token found in its cache.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail("WithClock: nil func")
			return
		}
		c.now = now
	}
}

// WithCacheSize sets how many verified tokens a [Verifier] remembers, so
// that a token presented again is accepted without another signature check:
// a hash, a map lookup and a fresh copy of its claims. The default is
// [DefaultCacheSize] (4096); 0 or a negative n turns the cache off.
//
// The cache changes no verdict. It holds only tokens that passed every
// check, keyed by the whole token string; their times (exp, nbf and iat,
// with the leeway) are checked against the clock on every hit, and a token
// that fails them is verified in full again, so an expired token is never
// accepted from the cache; failures, including expired tokens, are never
// cached. A Verifier's keys cannot change: rotating keys means a new
// Verifier, with an empty cache, so a token of a retired key stops passing
// at once. Memory is bounded by n entries of about the size of the token
// plus its claims (under 1 KiB for typical tokens); when full, a random
// entry makes room, preferring one that has expired. An [Issuer] ignores
// this option.
func WithCacheSize(n int) Option {
	return func(c *config) { c.cacheSize = max(n, 0) }
}
