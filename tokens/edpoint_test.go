package tokens_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/gin-authkit/authkit/tokens"
)

// TestEd25519PublicKeyPoints checks that NewEd25519PublicKey, and so
// ParseJWKS and LoadKeyPEM, refuse encodings that are not points, or are
// points of small order, which would make forgery trivial.
func TestEd25519PublicKeyPoints(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{"RFC 8032 test 1", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", nil},
		{"identity (order 1)", "0100000000000000000000000000000000000000000000000000000000000000", tokens.ErrConfig},
		{"order 2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", tokens.ErrConfig},
		{"order 4", "0000000000000000000000000000000000000000000000000000000000000000", tokens.ErrConfig},
		{"order 4, other sign", "0000000000000000000000000000000000000000000000000000000000000080", tokens.ErrConfig},
		{"order 8", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", tokens.ErrConfig},
		{"order 8, other", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", tokens.ErrConfig},
		{"y = p, not canonical", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", tokens.ErrConfig},
		{"y = 2, not on the curve", "0200000000000000000000000000000000000000000000000000000000000000", tokens.ErrConfig},
		{"x = 0 with the sign bit set", "0100000000000000000000000000000000000000000000000000000000000080", tokens.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tokens.NewEd25519PublicKey("k", pub); !errors.Is(err, tc.want) {
				t.Errorf("NewEd25519PublicKey: %v, want %v", err, tc.want)
			}
		})
	}
	for range 64 {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.NewEd25519PublicKey("k", pub); err != nil {
			t.Fatalf("a generated key %x: %v", pub, err)
		}
	}
}
