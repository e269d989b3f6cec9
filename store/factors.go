package store

import (
	"context"
	"fmt"
	"time"
)

// FactorKind names a kind of second factor.
type FactorKind string

// The kinds of factor a [FactorStore] keeps.
const (
	// TOTP is a time-based one-time password generator (RFC 6238). A
	// user has at most one; its [Factor.ID] is "totp" and its
	// [Factor.Counter] the last time step accepted.
	TOTP FactorKind = "totp"
	// Passkey is a WebAuthn credential. Its [Factor.ID] is the credential
	// ID in base64url without padding, unique across users, and its
	// [Factor.Counter] the authenticator's signature counter.
	Passkey FactorKind = "passkey"
)

// Limits on factors, enforced by [Factor.Validate].
const (
	MaxFactorIDLen   = 256
	MaxFactorNameLen = 64
	MaxFactorData    = 4096
	// MaxFactors caps the factors of one user, counting pending ones.
	MaxFactors = 16
	// MaxRecoveryCodes caps a user's recovery codes.
	MaxRecoveryCodes = 16
	// MaxChallenge caps the value of one challenge.
	MaxChallenge = 16 << 10
)

// Factor is one second factor of a user, as stored.
type Factor struct {
	// Kind says what Data holds.
	Kind FactorKind
	// ID names the factor: "totp", or a passkey's credential ID.
	ID string
	// Name is the user's label for it ("Phone", "YubiKey"); may be empty.
	Name string
	// Data is the factor's material, opaque to the store: the sealed
	// (encrypted) TOTP secret, or the encoded passkey credential. Stores
	// keep it as given and never interpret it.
	Data []byte
	// Confirmed is false while an enrolment waits for its first valid
	// use; [FactorStore.UseFactor] sets it. Only confirmed factors count
	// at login.
	Confirmed bool
	// Counter is what [FactorStore.UseFactor] compares: it only grows.
	Counter uint64
	// CreatedAt is when the factor was added.
	CreatedAt time.Time
	// LastUsed is the time of the last accepted use; zero before.
	LastUsed time.Time
}

// Validate reports whether f can be stored: a known kind, an ID of 1 to
// 256 printable ASCII bytes ("totp" for a TOTP factor), a name of at most
// 64 bytes without control characters, 1 to 4096 bytes of data and a
// creation time. Errors wrap [ErrInvalid].
func (f Factor) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: factor: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch f.Kind {
	case TOTP:
		if f.ID != string(TOTP) {
			return bad("a TOTP factor's ID must be %q", TOTP)
		}
	case Passkey:
	default:
		return bad("unknown kind %q", f.Kind)
	}
	if f.ID == "" || len(f.ID) > MaxFactorIDLen {
		return bad("ID must be 1 to %d bytes", MaxFactorIDLen)
	}
	for i := 0; i < len(f.ID); i++ {
		if f.ID[i] <= ' ' || f.ID[i] > '~' {
			return bad("ID byte %d is not printable ASCII", i)
		}
	}
	if len(f.Name) > MaxFactorNameLen {
		return bad("name is longer than %d bytes", MaxFactorNameLen)
	}
	for _, r := range f.Name {
		if r < ' ' || r == 0x7f {
			return bad("name holds a control character")
		}
	}
	if len(f.Data) == 0 || len(f.Data) > MaxFactorData {
		return bad("data must be 1 to %d bytes", MaxFactorData)
	}
	if f.CreatedAt.IsZero() {
		return bad("no creation time")
	}
	return nil
}

// Accepts reports whether a use presenting counter is accepted against a
// stored counter: it must be greater, or both must be zero (an
// authenticator without a signature counter always reports zero). This
// is the one statement of the rule every [FactorStore] applies.
func Accepts(stored, counter uint64) bool {
	return counter > stored || counter == 0 && stored == 0
}

// FactorStore keeps users' second factors: TOTP generators and passkeys.
// It is an optional capability of a user backend; memstore, redisstore
// and sqlstore have it.
//
// A username that fails [ValidateUsername] has no factors, and lookups
// of absent factors return an error wrapping [ErrNotFound]; any error
// that wraps no sentinel is an infrastructure failure. The user need not
// exist in the store (users may live in another [UserSource]).
type FactorStore interface {
	// AddFactor stores f (see [Factor.Validate]) for username. A pending
	// (unconfirmed) factor of the same kind and ID is replaced, so that
	// an enrolment can start again; a confirmed one, or a passkey ID
	// another user holds, fails with [ErrExists]. A user with
	// [MaxFactors] factors gets [ErrInvalid].
	AddFactor(ctx context.Context, username string, f Factor) error
	// Factors lists the user's factors, pending ones included, ordered by
	// CreatedAt, ties by kind then ID.
	Factors(ctx context.Context, username string) ([]Factor, error)
	// FactorOwner returns the user who holds the passkey id (any kind but
	// [TOTP], whose IDs are not unique).
	FactorOwner(ctx context.Context, kind FactorKind, id string) (string, error)
	// UseFactor records an accepted use of the factor in one atomic step:
	// when [Accepts](stored Counter, counter) it stores counter, sets
	// LastUsed to at and Confirmed to true, and returns the factor as
	// now stored. Otherwise it changes nothing and fails with [ErrReused]:
	// a replayed TOTP step, or a passkey whose counter went back (a
	// cloned authenticator).
	UseFactor(ctx context.Context, username string, kind FactorKind, id string, counter uint64, at time.Time) (Factor, error)
	// RemoveFactor deletes one factor; [ErrNotFound] when absent.
	RemoveFactor(ctx context.Context, username string, kind FactorKind, id string) error
}

// RecoveryCodeStore keeps the digests of users' single-use recovery
// codes, the way back in when a second factor is lost. It is an optional
// capability beside a [FactorStore]; memstore, redisstore and sqlstore
// have it. A username that fails [ValidateUsername] has no codes.
type RecoveryCodeStore interface {
	// SetRecoveryCodes replaces all of the user's codes with codes (at
	// most [MaxRecoveryCodes], no duplicates, else [ErrInvalid]); an
	// empty list removes them.
	SetRecoveryCodes(ctx context.Context, username string, codes []Digest) error
	// UseRecoveryCode removes code from the user's codes in one atomic
	// step, so that of two concurrent uses one wins, and reports how many
	// are left. A code the user does not have fails with [ErrNotFound].
	UseRecoveryCode(ctx context.Context, username string, code Digest) (left int, err error)
	// RecoveryCodes reports how many codes the user has left.
	RecoveryCodes(ctx context.Context, username string) (int, error)
}

// FactorBackend is a backend that keeps second factors and recovery
// codes together: memstore, redisstore and sqlstore are FactorBackends.
type FactorBackend interface {
	FactorStore
	RecoveryCodeStore
}

// ChallengeStore keeps short-lived values between the two requests of a
// ceremony: the ticket that carries a login from its password to its
// second factor, and WebAuthn's challenge state. It is an optional
// capability of a [SessionBackend]; memstore and redisstore have it.
type ChallengeStore interface {
	// PutChallenge stores value (at most [MaxChallenge] bytes, else
	// [ErrInvalid]) under id until expiresAt, which must be after the
	// store's current time ([ErrInvalid]). A live challenge with the same
	// id fails with [ErrExists].
	PutChallenge(ctx context.Context, id Digest, value []byte, expiresAt time.Time) error
	// Challenge returns the live value of id, leaving it in place;
	// absent, expired or taken ones read as [ErrNotFound].
	Challenge(ctx context.Context, id Digest) ([]byte, error)
	// TakeChallenge returns the live value of id and deletes it in one
	// atomic step, so that of two concurrent takes one wins and the
	// other gets [ErrNotFound].
	TakeChallenge(ctx context.Context, id Digest) ([]byte, error)
}

// ValidateRecoveryCodes reports whether codes can be stored by
// [RecoveryCodeStore.SetRecoveryCodes]: at most [MaxRecoveryCodes], none
// zero, no duplicates. Errors wrap [ErrInvalid].
func ValidateRecoveryCodes(codes []Digest) error {
	if len(codes) > MaxRecoveryCodes {
		return fmt.Errorf("%w: more than %d recovery codes", ErrInvalid, MaxRecoveryCodes)
	}
	seen := make(map[Digest]bool, len(codes))
	for _, c := range codes {
		if c.IsZero() || seen[c] {
			return fmt.Errorf("%w: recovery codes: zero or repeated digest", ErrInvalid)
		}
		seen[c] = true
	}
	return nil
}

// ValidateChallenge reports whether [ChallengeStore.PutChallenge] can
// store value until expiresAt at now: at most [MaxChallenge] bytes and
// an expiry after now. Errors wrap [ErrInvalid].
func ValidateChallenge(value []byte, expiresAt, now time.Time) error {
	if len(value) > MaxChallenge {
		return fmt.Errorf("%w: challenge is longer than %d bytes", ErrInvalid, MaxChallenge)
	}
	if !expiresAt.After(now) {
		return fmt.Errorf("%w: challenge expires at or before now", ErrInvalid)
	}
	return nil
}
