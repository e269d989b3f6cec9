package passkey

import (
	"errors"
	"fmt"
)

// Sentinel errors, checked with [errors.Is]. Any error that wraps none of
// them (nor a store sentinel, where a method says so) is an
// infrastructure failure: the store did not answer, and the caller should
// answer 503 rather than 401.
var (
	// ErrRejected reports a ceremony whose credential was refused: an
	// unknown, expired or already used ceremony, a malformed response, a
	// wrong origin, challenge, RP ID or signature, a credential the user
	// does not hold (another user's, or a revoked one), a user handle that
	// does not match, or a counter that went back ([ErrCloned]). One
	// sentinel, so that callers answer 401 without telling which part
	// failed; the wrapped cause is for logs.
	ErrRejected = errors.New("passkey: credential refused")
	// ErrCloned reports an assertion whose signature counter did not grow
	// past the stored one: two copies of the credential's private key may
	// exist. Errors that wrap it also wrap [ErrRejected]; callers may
	// audit it apart.
	ErrCloned = errors.New("passkey: signature counter did not grow (cloned authenticator?)")
	// ErrNoPasskey reports, from BeginLogin with a username, a user who
	// holds no confirmed passkey. An unknown user gets the same answer.
	ErrNoPasskey = errors.New("passkey: user has no passkey")
	// ErrTooMany reports a user who already holds store.MaxFactors
	// factors, so a new passkey cannot be registered.
	ErrTooMany = errors.New("passkey: too many factors")
)

// reject wraps cause as a refused credential for operation op.
func reject(op string, cause error) error {
	return fmt.Errorf("passkey: %s: %w: %w", op, ErrRejected, cause)
}
