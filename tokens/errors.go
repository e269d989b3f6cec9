package tokens

import "errors"

// Sentinel errors, to be matched with [errors.Is].
//
// Every error returned by [Verifier.Verify] wraps ErrInvalidToken and exactly
// one of ErrMalformed, ErrSignature, ErrExpired or ErrClaims; except for
// oversized input, it also wraps the golang-jwt error for the cause (such as
// jwt.ErrTokenMalformed or jwt.ErrTokenExpired), as golang-jwt itself would
// report it. Callers that only need to answer 401 can test for
// ErrInvalidToken; callers that offer refreshing test for ErrExpired.
var (
	// ErrInvalidToken is the category of every verification failure.
	ErrInvalidToken = errors.New("tokens: invalid token")

	// ErrMalformed means the input is not a well-formed compact JWS: too
	// long, wrong number of segments, bad or non-canonical base64, or bad
	// JSON (including claims of the wrong type).
	ErrMalformed = errors.New("malformed")

	// ErrSignature means the signature cannot be trusted: it does not
	// match, or the header is one that authkit does not check signatures
	// under. The header is checked first, so these tokens are refused
	// without any cryptography: the "kid" header is missing or unknown; the
	// "alg" header is not allowed or differs from the algorithm of the key
	// named by "kid" (alg=none and algorithm-confusion attacks end here);
	// the "typ" header is not "at+jwt" (so another kind of JWT signed with
	// the same key, such as an ID token, cannot pass as an access token); or
	// a "crit" header names extensions, none of which authkit implements.
	// Such a token is never reported as expired, whatever its claims.
	ErrSignature = errors.New("signature rejected")

	// ErrExpired means the signature is valid and the token would be valid
	// but for its expiry. Only in this case does Verify also return the
	// claims, so the caller can check whether the session is still alive.
	ErrExpired = errors.New("expired")

	// ErrClaims means the signature is valid but a claim is not: wrong
	// issuer or audience, nbf or iat in the future, a required claim
	// (exp, iat, sub, and sid unless client_id is present) missing, exp
	// not after iat, or exp - iat longer than the TTL plus the leeway (see
	// WithTTL). Issuing, it means the claims asked for cannot make a token
	// (see Issuer.IssueGrant); such errors do not wrap ErrInvalidToken. An expired token
	// with any other fault also gets ErrClaims, never ErrExpired, and its
	// error then does not match jwt.ErrTokenExpired either.
	ErrClaims = errors.New("invalid claims")

	// ErrWeakKey means an HMAC secret is shorter than 32 bytes, the size of
	// the SHA-256 output, or an RSA modulus has fewer than 2048 bits
	// (MinRSAKeySize); smaller keys make brute force or factoring feasible.
	ErrWeakKey = errors.New("tokens: weak key")

	// ErrConfig means a constructor or option was given an invalid argument.
	ErrConfig = errors.New("tokens: invalid configuration")
)
