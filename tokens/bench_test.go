package tokens_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
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

// BenchmarkVerify measures a cache miss: the lean parser and the rules.
func BenchmarkVerify(b *testing.B) {
	k := newTestKeys(b)
	benchVerify(b, k.all(), []tokens.Option{tokens.WithCacheSize(0)}, (*tokens.Verifier).Verify)
}

// BenchmarkVerifyCached measures a cache hit.
func BenchmarkVerifyCached(b *testing.B) {
	k := newTestKeys(b)
	benchVerify(b, []*tokens.Key{k.hs, k.ed}, nil, (*tokens.Verifier).Verify)
}

// BenchmarkVerifyReference measures the reference path: golang-jwt's
// parsing and signature check, under the same rules as Verify.
func BenchmarkVerifyReference(b *testing.B) {
	k := newTestKeys(b)
	benchVerify(b, []*tokens.Key{k.hs, k.ed}, nil, (*tokens.Verifier).VerifyReference)
}

// missTokens is how many distinct tokens BenchmarkVerifyMiss cycles over:
// many clients, each with its own token. With the cache off their number
// does not change the work, only how warm the tokens are in the CPU's
// caches; 10,000 keeps them in memory a request would have just read.
const missTokens = 10_000

// loginTokens issues n distinct tokens shaped as ginauth's logins issue
// them: a subject of six characters, a session id of 43 (the base64url of
// a 32-byte digest) and the roles user and admin.
func loginTokens(b *testing.B, key *tokens.Key, n int) []string {
	b.Helper()
	iss := mustIssuer(b, key)
	toks := make([]string, n)
	for i := range toks {
		sid := make([]byte, 32)
		rand.Read(sid) // never fails: since Go 1.24 it crashes the program instead
		var err error
		toks[i], _, err = iss.Issue(fmt.Sprintf("user%02d", i%16), base64.RawURLEncoding.EncodeToString(sid), []string{"user", "admin"})
		if err != nil {
			b.Fatal(err)
		}
	}
	return toks
}

// BenchmarkVerifyMiss measures what a token the cache does not hold costs,
// as each of many clients presents its own: the lean parser (Verify with
// the cache off) against golang-jwt's parsing and signature check
// (VerifyReference), both under the same rules, one after the other on the
// same distinct tokens. The difference is all the lean parser saves; bench/
// measures the whole request it is part of.
func BenchmarkVerifyMiss(b *testing.B) {
	k := newTestKeys(b)
	impls := []struct {
		name   string
		verify func(*tokens.Verifier, string) (*tokens.Claims, error)
	}{
		{"lean", (*tokens.Verifier).Verify},
		{"reference", (*tokens.Verifier).VerifyReference},
	}
	for _, key := range []*tokens.Key{k.hs, k.ed} {
		toks := loginTokens(b, key, missTokens)
		v := mustVerifier(b, []*tokens.Key{key}, tokens.WithCacheSize(0))
		for _, impl := range impls {
			b.Run(key.Algorithm()+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := impl.verify(v, toks[i%len(toks)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkIssue measures signing a token, for each algorithm: what a
// login or a refresh pays.
func BenchmarkIssue(b *testing.B) {
	k := newTestKeys(b)
	for _, key := range k.all() {
		b.Run(key.Algorithm(), func(b *testing.B) {
			iss := mustIssuer(b, key)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := iss.Issue("user-1", "sess-1", []string{"admin"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// typicalGrant is a password login's token with two application claims,
// as the package documentation sizes it.
var typicalGrant = tokens.Grant{
	Subject: "alice", SessionID: strings.Repeat("s", 43), Roles: []string{"user"},
	Authn: tokens.Authn{AMR: []string{tokens.AMRPassword}, Time: testNow},
	Extra: map[string]any{"tenant": "acme", "email": "alice@example.com"},
}

// BenchmarkIssueExtra measures signing typicalGrant: what two application
// claims add to BenchmarkIssue.
func BenchmarkIssueExtra(b *testing.B) {
	k := newTestKeys(b)
	for _, key := range []*tokens.Key{k.hs, k.ed} {
		b.Run(key.Algorithm(), func(b *testing.B) {
			iss := mustIssuer(b, key)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := iss.IssueGrant(typicalGrant); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyExtra measures a cache miss and a hit of typicalGrant's
// HS256 token: what two application claims add to BenchmarkVerify.
func BenchmarkVerifyExtra(b *testing.B) {
	k := newTestKeys(b)
	tok, _, err := mustIssuer(b, k.hs).IssueGrant(typicalGrant)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		size int
	}{{"miss", 0}, {"hit", tokens.DefaultCacheSize}} {
		b.Run(c.name, func(b *testing.B) {
			v := mustVerifier(b, []*tokens.Key{k.hs}, tokens.WithCacheSize(c.size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
