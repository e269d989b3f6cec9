package mfa

import (
	"errors"
	"fmt"
)

// Errors of [Service]. Check them with [errors.Is]. An error that wraps
// none of them (nor store.ErrInvalid) is an infrastructure failure: the
// store could not answer, or a sealed secret could not be opened, and
// the caller should answer 503 rather than judge the code.
var (
	// ErrConfig reports an invalid [Config] or [Keys].
	ErrConfig = errors.New("mfa: invalid config")
	// ErrNotEnrolled: the user has no confirmed TOTP factor (for
	// [Service.ConfirmTOTP]: no pending one).
	ErrNotEnrolled = errors.New("mfa: no TOTP factor enrolled")
	// ErrEnrolled: the user already has a confirmed TOTP factor; disable
	// it before enrolling again.
	ErrEnrolled = errors.New("mfa: TOTP factor already enrolled")
	// ErrBadCode: the code is neither a current TOTP code nor an unused
	// recovery code. It never says which part was wrong.
	ErrBadCode = errors.New("mfa: bad code")
	// ErrReplayed: the TOTP code is right but its time step was already
	// accepted (a replay, or an older code after a newer one). It wraps
	// [ErrBadCode], so callers that count bad codes count it too.
	ErrReplayed = fmt.Errorf("%w: time step already used", ErrBadCode)
	// ErrUnknownKey: a sealed secret names a key id that [Keys] does not
	// hold (a key was retired too early). An infrastructure failure.
	ErrUnknownKey = errors.New("mfa: sealed with an unknown key id")
	// ErrBadSeal: a sealed secret does not open: tampered with, copied
	// from another user, or in an unknown format. An infrastructure
	// failure.
	ErrBadSeal = errors.New("mfa: sealed secret does not open")
)
