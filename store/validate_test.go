package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/store"
)

func TestCanonicalUsername(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{"AlreadyCanonical", "alice", "alice", nil},
		{"UpperCase", "Alice", "alice", nil},
		{"AllUpperWithPunctuation", "BOB.SMITH@EXAMPLE.COM", "bob.smith@example.com", nil},
		{"FullWidth", "ＡＬＩＣＥ", "alice", nil},
		{"FullWidthLower", "ａｌｉｃｅ", "alice", nil},
		{"FullWidthDigits", "user１２", "user12", nil},
		{"Empty", "", "", store.ErrInvalid},
		{"Space", "al ice", "", store.ErrInvalid},
		{"HashTag", "{alice}", "", store.ErrInvalid},
		{"LeadingDot", ".alice", "", store.ErrInvalid},
		{"NonASCII", "alicé", "", store.ErrInvalid},
		{"TooLong", strings.Repeat("a", store.MaxUsernameLen+1), "", store.ErrInvalid},
		{"TooLongBeforeNormalising", strings.Repeat("Ａ", store.MaxUsernameLen+1), "", store.ErrInvalid},
		{"MaxLength", strings.Repeat("A", store.MaxUsernameLen), strings.Repeat("a", store.MaxUsernameLen), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.CanonicalUsername(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("CanonicalUsername(%q) error = %v, want %v", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CanonicalUsername(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			// The canonical form is stored as it is, and is its own
			// canonical form.
			if err := store.ValidateUsername(got); err != nil {
				t.Errorf("ValidateUsername(%q) = %v, want nil", got, err)
			}
			if again, err := store.CanonicalUsername(got); err != nil || again != got {
				t.Errorf("CanonicalUsername(%q) = %q, %v; want it unchanged", got, again, err)
			}
		})
	}
}

func TestValidateUsernameRejectsUpperCase(t *testing.T) {
	for _, name := range []string{"Alice", "aLICE", "alice@Example.com"} {
		if err := store.ValidateUsername(name); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ValidateUsername(%q) = %v, want ErrInvalid", name, err)
		}
	}
}
