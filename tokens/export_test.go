package tokens

// Hooks for the external tests (package tokens_test), which hold the lean
// verifier to golang-jwt.

// VerifyReference verifies token with golang-jwt, as Verify did before the
// lean verifier; see verifyReference.
func (v *Verifier) VerifyReference(token string) (*Claims, error) { return v.verifyReference(token) }

// CachedTokens returns the number of tokens in v's cache.
func (v *Verifier) CachedTokens() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.size()
}
