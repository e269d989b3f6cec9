package apikey_test

import (
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/store"
)

// FuzzParse: Parse never panics, and what it accepts has a valid owner, an
// ID of the stored length limits and a 32-byte secret, and starts with the
// prefix.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "ak_", "ak_Y2k.AAAAAAAAAAAAAAAA." + strings.Repeat("A", 43), "ak_Y2k..", "ak_.x.y", "ak_Y2k.AAAAAAAA.AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		owner, id, secret, err := apikey.Parse(raw)
		if err != nil {
			return
		}
		if !apikey.Is(raw) || store.ValidateUsername(owner) != nil || len(id) < 8 || len(id) > store.MaxAPIKeyIDLen || len(secret) != 32 {
			t.Fatalf("Parse(%q) accepted owner %q, id %q, %d-byte secret", raw, owner, id, len(secret))
		}
	})
}
