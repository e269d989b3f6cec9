// Package mfa is authkit's TOTP second factor (RFC 6238) with recovery
// codes, with no HTTP machinery: ginauth's handlers, the demo's CLI and
// tests use the same [Service]. Codes are generated and the otpauth://
// URI and QR code made by github.com/pquerna/otp; this package adds the
// state around them: which time step was used, the sealed secret and
// the recovery codes, kept in a store.FactorStore and a
// store.RecoveryCodeStore (memstore, redisstore, sqlstore).
//
// # The flow
//
//  1. A logged-in user enrols: [Service.EnrollTOTP] stores a pending
//     factor and returns the secret, its otpauth:// URI and a QR code
//     (PNG) for the user's app. Enrolling again replaces a pending
//     factor, so an abandoned enrolment can start over.
//  2. The user types the app's first code: [Service.ConfirmTOTP]
//     activates the factor and returns 10 recovery codes, shown once.
//     Until then the factor does not count at login.
//  3. At login, after the password, [Service.CheckCode] takes a TOTP
//     code or a recovery code and says which it was ([Method]; both are
//     RFC 8176 "otp").
//  4. [Service.RegenerateRecoveryCodes] replaces the codes;
//     [Service.DisableTOTP] removes the factor and its codes. Both expect
//     the caller to have checked a current code (and for disabling, the
//     password) first. [Service.Status] says what a user has.
//
// Enrolment, confirmation, disabling, recovery-code use and regeneration
// are reported to [Config.Audit] as the audit package's TOTP… and
// Recovery… events.
//
// # Threat model
//
// Window. A code is accepted for the current 30-second step and the one
// before or after (clock drift and typing time), never further: a code
// seen over a shoulder is good for at most 90 seconds.
//
// Replay. Each accepted step is recorded by the store in one atomic step
// (store.FactorStore.UseFactor), which refuses a step not above the last
// accepted one: a replayed code, a code used by two requests at once, or
// an older code after a newer one fails with [ErrReplayed]. The code
// that confirmed the factor cannot then complete a login.
//
// Guessing. Six digits, three steps: a guess succeeds with probability
// 3 in a million. This package does not throttle; its caller (ginauth)
// counts [ErrBadCode] failures per ticket and per account, as it does
// passwords. [ErrBadCode] never says which kind of code was wrong.
//
// Secrets at rest. A TOTP secret is a shared key: whoever reads it makes
// codes. It is stored sealed with AES-256-GCM under [Keys] (a current
// key and older ones, by id), with a random nonce, and the key id in a
// versioned header so keys rotate: new secrets are sealed with the
// current key, old ones still open with theirs. The sealed form is bound
// to the username and factor kind, so a secret copied to another user's
// record does not open ([ErrBadSeal]). A store dump without the keys
// holds no usable secret. A secret that does not open, or names a key
// id no longer configured ([ErrUnknownKey]), is an infrastructure
// failure (503), never a bad code. A secret stays sealed with its
// original key until the user enrols again, so retire a key only when
// no factor names it.
//
// Recovery codes. Ten per user, each 80 random bits written as 16
// characters of Crockford's base32 in groups of four ("7k3m-q9x2-…";
// case, spaces and dashes ignored, o, i and l read as 0, 1 and 1). They
// are shown once, stored only as SHA-256 digests (80 bits keep a dumped
// digest beyond brute force), and each is spent in one atomic store step,
// so of two concurrent uses one wins. They stand in for the TOTP
// factor: they are accepted only while it is confirmed, and go with it.
//
// Test codes. [Service.CurrentCode] prints a user's current code, for
// tests and demos behind an explicit flag only; a route must never
// expose it.
package mfa
