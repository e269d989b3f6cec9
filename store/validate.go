package store

import "fmt"

// Limits on names. They keep keys short and free of characters that carry
// meaning in Redis keys ("{", "}") or in comma-separated role lists.
const (
	MaxUsernameLen = 64
	MaxRoleLen     = 64
	MaxRoles       = 32
)

// ValidateUsername reports whether name can be stored: 1 to 64 bytes of
// ASCII letters, digits and "._@+-", starting with a letter or digit.
// Usernames are compared exactly (case-sensitive).
func ValidateUsername(name string) error {
	if err := validName(name, MaxUsernameLen, "._@+-"); err != nil {
		return fmt.Errorf("%w: username %v", ErrInvalid, err)
	}
	return nil
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
