// Package tokens issues and verifies the short-lived JWT access tokens of
// authkit.
//
// An [Issuer] signs tokens with one [Key]; a [Verifier] accepts tokens signed
// by any of a set of keys, picked by the token's "kid" header, so that keys can
// be rotated without logging everybody out. Three algorithms are supported:
// HS256 ([NewHMACKey]), EdDSA ([NewEd25519Key]) and ES256 ([NewECDSAKey]).
//
// Verification is deliberately strict, much stricter than the defaults of
// github.com/golang-jwt/jwt/v5 on which it is built: the algorithm must be one
// of the configured keys' algorithms and match the key named by "kid"; the
// "typ" header must be "at+jwt" (RFC 9068) and a "crit" header is refused;
// exp, iat, sub and sid are required; iss and aud must match; exp - iat may
// not exceed the TTL plus the leeway; base64 must be canonical; and oversized
// input is rejected before any parsing.
//
// Every verification error wraps [ErrInvalidToken] and one specific cause
// ([ErrMalformed], [ErrSignature], [ErrExpired] or [ErrClaims]), matched with
// [errors.Is]. A token whose only fault is that it has expired is reported
// with [ErrExpired] together with its decoded [Claims], so that the caller can
// decide whether the session behind it may be refreshed.
//
// Time is injected with [WithClock]; tests never need to sleep.
//
// The package knows nothing about HTTP or storage: sessions and refresh
// tokens live elsewhere, and the "sid" claim ties an access token to them.
package tokens
