package store

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Limits on names. They keep keys short and free of characters that carry
// meaning in Redis keys ("{", "}") or in comma-separated role lists.
const (
	MaxUsernameLen = 64
	MaxRoleLen     = 64
	MaxRoles       = 32
)

// ValidateUsername reports whether name can be stored: 1 to 64 bytes of
// lower-case ASCII letters, digits and "._@+-", starting with a letter or
// digit. Only canonical names pass (see [CanonicalUsername]), so "Alice"
// and "alice" can never be two accounts.
func ValidateUsername(name string) error {
	if err := validName(name, MaxUsernameLen, "._@+-"); err != nil {
		return fmt.Errorf("%w: username %v", ErrInvalid, err)
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return r >= 'A' && r <= 'Z' }); i >= 0 {
		return fmt.Errorf("%w: username %q: upper-case byte %d (use CanonicalUsername)", ErrInvalid, name, i)
	}
	return nil
}

// CanonicalUsername returns the one stored form of a username as a person
// may type it: NFKC-normalised (so full-width "ａｌｉｃｅ" is "alice") and
// case-folded, then checked with [ValidateUsername]. Every edge that takes
// a username from outside (login, HTTP Basic, the CLI) passes it through
// here before it reaches a store.
func CanonicalUsername(name string) (string, error) {
	if len(name) > 4*MaxUsernameLen {
		return "", fmt.Errorf("%w: username is longer than %d bytes", ErrInvalid, MaxUsernameLen)
	}
	c := strings.ToLower(norm.NFKC.String(name))
	if err := ValidateUsername(c); err != nil {
		return "", err
	}
	return c, nil
}

// ValidateRoles reports whether roles can be stored: at most 32 names of 1
// to 64 bytes of ASCII letters, digits and "._:-", starting with a letter
// or digit, without duplicates.
func ValidateRoles(roles []string) error {
	if len(roles) > MaxRoles {
		return fmt.Errorf("%w: more than %d roles", ErrInvalid, MaxRoles)
	}
	seen := make(map[string]bool, len(roles))
	for _, r := range roles {
		if err := validName(r, MaxRoleLen, "._:-"); err != nil {
			return fmt.Errorf("%w: role %v", ErrInvalid, err)
		}
		if seen[r] {
			return fmt.Errorf("%w: role %q listed twice", ErrInvalid, r)
		}
		seen[r] = true
	}
	return nil
}

func validName(s string, max int, punct string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > max {
		return fmt.Errorf("is longer than %d bytes", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum {
			continue
		}
		if i == 0 || !containsByte(punct, c) {
			return fmt.Errorf("%q: byte %d (%q) is not allowed", s, i, c)
		}
	}
	return nil
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// ValidateAttemptKeys reports whether keys can name [AttemptStore]
// counters: each 1 to [MaxAttemptKeyLen] bytes.
func ValidateAttemptKeys(keys []string) error {
	for i, k := range keys {
		if k == "" || len(k) > MaxAttemptKeyLen {
			return fmt.Errorf("%w: attempt key %d is %d bytes, want 1 to %d", ErrInvalid, i, len(k), MaxAttemptKeyLen)
		}
	}
	return nil
}

// ValidateAttemptID reports whether id can name an attempt of an
// [AttemptStore]: 1 to [MaxAttemptIDLen] bytes.
func ValidateAttemptID(id string) error {
	if id == "" || len(id) > MaxAttemptIDLen {
		return fmt.Errorf("%w: attempt id is %d bytes, want 1 to %d", ErrInvalid, len(id), MaxAttemptIDLen)
	}
	return nil
}

// ValidateDevice reports whether d and max can be given to
// [DeviceStore.AddDevice].
func ValidateDevice(d Device, max int) error {
	switch {
	case d.ID.IsZero():
		return fmt.Errorf("%w: zero device id", ErrInvalid)
	case !d.ExpiresAt.After(d.CreatedAt):
		return fmt.Errorf("%w: device expires at %v, not after its creation at %v", ErrInvalid, d.ExpiresAt, d.CreatedAt)
	case max < 1:
		return fmt.Errorf("%w: at most %d devices per user", ErrInvalid, max)
	}
	return nil
}

// Validate reports whether s can be given to [SessionStore.CreateSession]
// at time now, the store's clock: a valid username, a non-zero ID and
// refresh digest, a positive idle timeout, an expiry after now and a
// MaxSessions that is not negative. The error wraps [ErrInvalid].
func (s SessionSpec) Validate(now time.Time) error {
	if err := ValidateUsername(s.Username); err != nil {
		return err
	}
	switch {
	case s.ID.IsZero() || s.Refresh.IsZero():
		return fmt.Errorf("%w: zero session ID or refresh digest", ErrInvalid)
	case s.IdleTimeout <= 0:
		return fmt.Errorf("%w: idle timeout %v is not positive", ErrInvalid, s.IdleTimeout)
	case !s.ExpiresAt.After(now):
		return fmt.Errorf("%w: expiry %v is not after %v", ErrInvalid, s.ExpiresAt, now)
	case s.MaxSessions < 0:
		return fmt.Errorf("%w: MaxSessions %d is negative", ErrInvalid, s.MaxSessions)
	}
	return nil
}
