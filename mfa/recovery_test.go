package mfa

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-authkit/authkit/store"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name, in, want string
		method         Method
	}{
		{name: "totp", in: "123456", want: "123456", method: TOTP},
		{name: "totp with a space", in: "123 456", want: "123456", method: TOTP},
		{name: "totp too short", in: "12345"},
		{name: "totp too long", in: "1234567"},
		{name: "recovery as shown", in: "7k3m-q9x2-ab0c-dzzz", want: "7k3mq9x2ab0cdzzz", method: RecoveryCode},
		{name: "recovery upper case, spaces", in: " 7K3M Q9X2 AB0C DZZZ ", want: "7k3mq9x2ab0cdzzz", method: RecoveryCode},
		{name: "recovery o, i and l misread", in: "7k3m-q9x2-aboc-d1il", want: "7k3mq9x2ab0cd111", method: RecoveryCode},
		{name: "u is not in the alphabet", in: "7k3m-q9x2-ab0c-dzzu"},
		{name: "recovery one short", in: "7k3m-q9x2-ab0c-dzz"},
		{name: "empty", in: ""},
		{name: "non-ASCII", in: "12345٦"},
		{name: "very long", in: strings.Repeat("-", maxCodeLen) + "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, m := classify(tt.in)
			if got != tt.want || m != tt.method {
				t.Fatalf("classify(%q) = %q, %q; want %q, %q", tt.in, got, m, tt.want, tt.method)
			}
		})
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	codes, digests, err := newRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ValidateRecoveryCodes(digests); err != nil {
		t.Fatal(err)
	}
	for i, c := range codes {
		n, m := classify(c)
		if m != RecoveryCode || store.HashSecret([]byte(n)) != digests[i] {
			t.Fatalf("code %q does not classify to its digest", c)
		}
	}
}

// FuzzClassify: classify never panics, its output is its own fixed
// point, and only the alphabet's characters come out.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"123456", "7k3m-q9x2-ab0c-dzzz", "OIL", "", "٦٦٦٦٦٦", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, m := classify(in)
		if m == "" {
			if c != "" {
				t.Fatalf("classify(%q) = %q with no method", in, c)
			}
			return
		}
		if c2, m2 := classify(c); c2 != c || m2 != m {
			t.Fatalf("classify(%q) = %q, %q; again: %q, %q", in, c, m, c2, m2)
		}
		if !utf8.ValidString(c) || strings.Trim(c, crockford) != "" {
			t.Fatalf("classify(%q) = %q: outside the alphabet", in, c)
		}
	})
}

// FuzzParseKeys: ParseKeys never panics, and keys it accepts seal and
// open.
func FuzzParseKeys(f *testing.F) {
	f.Add("k1:" + b64(testKey(1)))
	f.Add("k2:" + b64(testKey(2)) + ",k1:" + b64(testKey(1)))
	f.Add("k1:,:")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseKeys(in)
		if err != nil {
			return
		}
		s, err := newSealer(k)
		if err != nil {
			t.Fatalf("ParseKeys(%q) accepted keys newSealer refuses: %v", in, err)
		}
		sealed, err := s.seal([]byte("secret"), "alice", store.TOTP)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.open(sealed, "alice", store.TOTP); err != nil || string(got) != "secret" {
			t.Fatalf("round trip: %q, %v", got, err)
		}
	})
}
