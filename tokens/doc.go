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
// # Application claims
//
// [Issuer.IssueGrant] takes a [Grant]: what Issue and IssueAuthn take, a
// client_id (RFC 9068 §2.2; a client's own token, from the
// client_credentials grant, has a client_id and no sid), and application
// claims, such as a tenant id or an e-mail address, so that handlers need
// no lookup. Each is written as a top-level member with the JSON encoding
// of its value. Their names may not be one of [ReservedClaims] (the
// registered claims of RFC 7519, those of RFC 9068 and RFC 8693, cnf, typ,
// azp, and the kit's own: sid, roles), in any case that encoding/json
// would match, so that no application claim can stand for a claim the kit
// or another verifier reads; IssueGrant refuses such a name with an error
// wrapping [ErrClaims]. A Verifier returns every member that is not
// reserved in [Claims.Extra], as its JSON text, checked only to be valid
// JSON, the last one for a name given twice, exactly as golang-jwt and
// encoding/json would (the differential test holds it to them). A token
// without application claims costs nothing more to verify; the cache
// hands every caller its own copy of them.
//
// Every claim is in every request's token. A password login's token (sub
// "alice", a 43-character sid, roles ["user"], amr ["pwd"] and auth_time,
// iss "https://auth.example.com", aud "api.example.com", a 4-character
// kid) is 419 bytes with HS256, 462 with EdDSA or ES256 and 718 with
// RS256 (2048 bits); the application claims {"tenant":"acme",
// "email":"alice@example.com"} add 59 bytes to each: 478, 521 and 777.
// Keep them few and short: HTTP servers and proxies commonly limit a
// header to 8 KiB, and a Verifier refuses a token over [MaxTokenSize].
//
// Verification is deliberately strict, much stricter than the defaults of
// github.com/golang-jwt/jwt/v5: the algorithm must be one of the configured
// keys' algorithms and match the key named by "kid"; the "typ" header must be
// "at+jwt" (RFC 9068) and a "crit" header is refused; exp, iat, sub and sid
// (or client_id) are required; iss and aud must match; exp - iat may not exceed the TTL plus
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
