package tokens_test

import (
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

func BenchmarkVerify(b *testing.B) {
	k := newTestKeys(b)
	for _, key := range []*tokens.Key{k.hs, k.ed, k.ec} {
		b.Run(key.Algorithm(), func(b *testing.B) {
			v := mustVerifier(b, []*tokens.Key{key})
			tok := mustIssue(b, mustIssuer(b, key))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
