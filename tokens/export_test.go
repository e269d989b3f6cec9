package tokens

// Hooks for the external tests (package tokens_test), which hold the lean
// parser to golang-jwt's.

// VerifyReference verifies token as Verify does, but parsed and its
// signature checked by golang-jwt; see verifyReference.
func (v *Verifier) VerifyReference(token string) (*Claims, error) { return v.verifyReference(token) }

// CachedTokens returns the number of tokens in v's cache.
func (v *Verifier) CachedTokens() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.size()
}
