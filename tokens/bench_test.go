package tokens_test

import (
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

// benchVerify runs verify on a token issued by key, for each key.
func benchVerify(b *testing.B, keys []*tokens.Key, opts []tokens.Option, verify func(*tokens.Verifier, string) (*tokens.Claims, error)) {
	for _, key := range keys {
		b.Run(key.Algorithm(), func(b *testing.B) {
			v := mustVerifier(b, []*tokens.Key{key}, opts...)
			tok := mustIssue(b, mustIssuer(b, key))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := verify(v, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures a cache miss: the lean verifier in full.
func BenchmarkVerify(b *testing.B) {
	k := newTestKeys(b)
	benchVerify(b, k.all(), []tokens.Option{tokens.WithCacheSize(0)}, (*tokens.Verifier).Verify)
}

// BenchmarkVerifyCached measures a cache hit.
func BenchmarkVerifyCached(b *testing.B) {
	k := newTestKeys(b)
	benchVerify(b, []*tokens.Key{k.hs, k.ed}, nil, (*tokens.Verifier).Verify)
}

// BenchmarkVerifyReference measures golang-jwt's verification, which the
// lean verifier replaced.
func BenchmarkVerifyReference(b *testing.B) {
	k := newTestKeys(b)
	benchVerify(b, []*tokens.Key{k.hs, k.ed}, nil, (*tokens.Verifier).VerifyReference)
}
