// Package tokens issues and verifies the short-lived JWT access tokens of
// authkit.
//
// An [Issuer] signs tokens with one [Key]; a [Verifier] accepts tokens signed
// by any of a set of keys, picked by the token's "kid" header, so that keys can
// be rotated without logging everybody out. Five algorithms are supported:
// HS256 ([NewHMACKey]), EdDSA ([NewEd25519Key]), ES256 ([NewECDSAKey]),
// RS256 ([NewRSAKey]) and PS256 ([NewRSAPSSKey]); EdDSA, ES256 and RS256
// keys can also be read from PEM ([LoadKeyFile]). RSA is there for
// verifiers that accept nothing else, such as some API gateways; its keys
// must have at least 2048 bits, its signatures make a token 256 characters
// longer than EdDSA's, and signing takes about 0.8 ms where EdDSA takes
// 18 µs, though verifying is as fast (see bench/README.md). A Verifier
// publishes its public keys as a JSON Web Key Set ([Verifier.JWKS], whose
// comment also describes key rotation), from which another service builds a
// Verifier of its own ([ParseJWKS]) without ever holding a key that signs.
// Issued tokens are kept short: iss, sub, aud (a single string), iat, exp, a
// 16-character jti, sid and roles, and no nbf, which would equal iat.
// [Issuer.IssueAuthn] adds how and when the subject authenticated: amr
// (RFC 8176 method references such as "pwd", "otp" and "mfa"; see
// [AMRMultiFactor]), auth_time (RFC 9068 §2.2.1: the time of the last
// active authentication, which a refreshed token keeps) and acr (such as
// [ACRMultiFactor]). A Verifier decodes them into [Claims] and refuses a
// token where they have the wrong JSON type (amr not an array of strings,
// auth_time not a number, acr not a string), as golang-jwt does, but
// judges nothing else about them: a step-up rule, such as ginauth's
// Rule.WithMFA, reads them.
//
// Verification is deliberately strict, much stricter than the defaults of
// github.com/golang-jwt/jwt/v5: the algorithm must be one of the configured
// keys' algorithms and match the key named by "kid"; the "typ" header must be
// "at+jwt" (RFC 9068) and a "crit" header is refused; exp, iat, sub and sid
// are required; iss and aud must match; exp - iat may not exceed the TTL plus
// the leeway; base64 must be canonical; and oversized input is rejected
// before any parsing.
//
// Verification is also fast. Verify does not use golang-jwt's reflective
// decoding: it reads the fixed header and claims of authkit tokens directly,
// skips the header when it is byte for byte the one the Issuer writes, and
// reuses HMAC states. A Verifier also remembers the tokens that passed
// ([WithCacheSize]) and checks only their times again when they come back.
//
// The code keeps parsing apart from rules, as golang-jwt keeps parser.go
// apart from validator.go. parse.go and parse_claims.go take a token apart
// (segments, base64url, the header and the claims, with the JSON scanner of
// jsonscan.go, which mirrors encoding/json) and decide nothing; validate.go
// holds every rule above, and the error each refusal wraps, once. The rules
// judge tokens from either of two parsers: the lean one that Verify runs, or
// golang-jwt's own, which decides for the odd claim set that names a claim
// twice and is the reference. A differential test and fuzz target hold the
// lean parser to golang-jwt's, and a test holds the claim rules to
// golang-jwt's Validator.
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
