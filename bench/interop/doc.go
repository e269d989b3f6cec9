// Package interop holds tests that check authkit's tokens against an
// independent JOSE implementation, github.com/go-jose/go-jose/v4: tokens
// that authkit issues verify there from the JWKS that authkit publishes,
// and tokens that go-jose signs verify in an authkit Verifier.
//
// It lives in the bench module, beside the peers that the benchmarks
// compare against, so that go-jose never enters the go.mod of the library
// that applications depend on. It has no code of its own; its tests need
// no Redis.
package interop
