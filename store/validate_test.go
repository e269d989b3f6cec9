package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

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

func TestSessionSpecValidate(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	valid := store.SessionSpec{
		ID:          store.Digest{1},
		Username:    "alice",
		Refresh:     store.Digest{2},
		IdleTimeout: time.Minute,
		ExpiresAt:   now.Add(time.Hour),
	}
	tests := []struct {
		name    string
		change  func(s *store.SessionSpec)
		wantErr error
	}{
		{"Valid", func(s *store.SessionSpec) {}, nil},
		{"ExpiresJustAfterNow", func(s *store.SessionSpec) { s.ExpiresAt = now.Add(time.Nanosecond) }, nil},
		{"MaxSessions", func(s *store.SessionSpec) { s.MaxSessions = 3 }, nil},
		{"InvalidUsername", func(s *store.SessionSpec) { s.Username = "bad name" }, store.ErrInvalid},
		{"UpperCaseUsername", func(s *store.SessionSpec) { s.Username = "Alice" }, store.ErrInvalid},
		{"ZeroID", func(s *store.SessionSpec) { s.ID = store.Digest{} }, store.ErrInvalid},
		{"ZeroRefresh", func(s *store.SessionSpec) { s.Refresh = store.Digest{} }, store.ErrInvalid},
		{"ZeroIdle", func(s *store.SessionSpec) { s.IdleTimeout = 0 }, store.ErrInvalid},
		{"NegativeIdle", func(s *store.SessionSpec) { s.IdleTimeout = -time.Minute }, store.ErrInvalid},
		{"ExpiresNow", func(s *store.SessionSpec) { s.ExpiresAt = now }, store.ErrInvalid},
		{"ExpiredAlready", func(s *store.SessionSpec) { s.ExpiresAt = now.Add(-time.Hour) }, store.ErrInvalid},
		{"ZeroExpiry", func(s *store.SessionSpec) { s.ExpiresAt = time.Time{} }, store.ErrInvalid},
		{"NegativeMaxSessions", func(s *store.SessionSpec) { s.MaxSessions = -1 }, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid
			tt.change(&s)
			if err := s.Validate(now); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Validate = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
