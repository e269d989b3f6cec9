// Package storetest is the contract suite every [store.Store] backend must
// pass, in the spirit of testing/slogtest: a backend's tests call [Run] with
// a constructor, and the suite checks the behaviour that authkit relies on —
// the lookup rule, sliding and absolute expiry, revocation, refresh-token
// rotation with reuse detection, and atomicity under concurrent rotation.
//
// Optional capabilities have suites of their own: [RunFactors] for a
// [store.FactorBackend] (second factors and recovery codes, the counter
// rule of UseFactor under concurrency), [RunChallenges] for a
// [store.ChallengeStore] (values taken once, expiry by the clock),
// [RunAPIKeys] and [RunExternalAPIKeys] for a [store.APIKeyStore] that
// keeps its users or is configured for external ones (the cap under
// concurrency, the owner read with the key, the touch rule), and
// [RunClients] for a [store.ClientStore] (OAuth clients added once per
// ID, also under concurrency, and listed by ID).
//
// The suite owns the clock. It hands each store a settable fake clock and
// moves it forward instead of sleeping, so a backend must read the time only
// through the function it is given. The clock starts on a whole millisecond
// and moves in whole milliseconds, so backends that store millisecond
// timestamps compare equal.
package storetest
