package ginauth

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/store"
)

// MaxPasswordBytes is bcrypt's limit: it silently ignores every byte past
// the 72nd, so "72×a" + "X" would match the hash of "72×a". Longer
// passwords are rejected instead of truncated.
const MaxPasswordBytes = 72

// Password policy errors, returned when a password is set.
var (
	ErrPasswordEmpty    = errors.New("ginauth: password is empty")
	ErrPasswordTooLong  = fmt.Errorf("ginauth: password is longer than %d bytes", MaxPasswordBytes)
	ErrPasswordTooShort = errors.New("ginauth: password is too short")
	ErrPasswordEncoding = errors.New("ginauth: password is not valid UTF-8")
)

func checkPasswordBytes(pw string) error {
	switch {
	case pw == "":
		return ErrPasswordEmpty
	case len(pw) > MaxPasswordBytes:
		return ErrPasswordTooLong
	case !utf8.ValidString(pw):
		return ErrPasswordEncoding
	}
	return nil
}

// ValidatePassword checks a new password against the policy: valid UTF-8,
// at least MinPasswordLength characters, at most 72 bytes.
func (a *Auth) ValidatePassword(pw string) error {
	if err := checkPasswordBytes(pw); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(pw); n < a.cfg.MinPasswordLength {
		return fmt.Errorf("%w: %d characters, at least %d required", ErrPasswordTooShort, n, a.cfg.MinPasswordLength)
	}
	return nil
}

// HashPassword validates pw and returns its bcrypt hash at the configured
// cost.
func (a *Auth) HashPassword(pw string) ([]byte, error) {
	if err := a.ValidatePassword(pw); err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), a.cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("ginauth: bcrypt: %w", err)
	}
	return h, nil
}

// CreateUser validates and stores a new user. It fails with an error
// wrapping store.ErrExists for a taken username, store.ErrInvalid for a bad
// username or roles, or a password policy error.
func (a *Auth) CreateUser(ctx context.Context, username, password string, roles []string) error {
	if err := store.ValidateUsername(username); err != nil {
		return err
	}
	if err := store.ValidateRoles(roles); err != nil {
		return err
	}
	h, err := a.HashPassword(password)
	if err != nil {
		return err
	}
	return a.cfg.Store.CreateUser(ctx, store.User{Username: username, PasswordHash: h, Roles: roles})
}

// SetPassword replaces a user's password and revokes all of the user's
// sessions, so a stolen session does not survive a password change.
func (a *Auth) SetPassword(ctx context.Context, username, password string) error {
	h, err := a.HashPassword(password)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.SetPasswordHash(ctx, username, h); err != nil {
		return err
	}
	return a.cfg.Store.RevokeAll(ctx, username)
}
