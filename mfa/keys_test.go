package mfa

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/store"
)

// testKey returns a 32-byte key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func b64(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

func TestParseKeys(t *testing.T) {
	k1, k2 := testKey(1), testKey(2)
	tests := []struct {
		name    string
		in      string
		current string
		ids     int
		wantErr bool
	}{
		{name: "one", in: "k1:" + b64(k1), current: "k1", ids: 1},
		{name: "first is current", in: "k2:" + b64(k2) + ", k1:" + b64(k1), current: "k2", ids: 2},
		{name: "raw url base64", in: "k1:" + base64.RawURLEncoding.EncodeToString(k1), current: "k1", ids: 1},
		{name: "empty", in: " ", wantErr: true},
		{name: "no colon", in: "k1" + b64(k1), wantErr: true},
		{name: "empty id", in: ":" + b64(k1), wantErr: true},
		{name: "bad id", in: "k 1:" + b64(k1), wantErr: true},
		{name: "long id", in: strings.Repeat("k", MaxKeyIDLen+1) + ":" + b64(k1), wantErr: true},
		{name: "repeated id", in: "k1:" + b64(k1) + ",k1:" + b64(k2), wantErr: true},
		{name: "not base64", in: "k1:not*base64", wantErr: true},
		{name: "short key", in: "k1:" + b64(k1[:16]), wantErr: true},
		{name: "zero key", in: "k1:" + b64(make([]byte, KeySize)), wantErr: true},
		{name: "trailing comma", in: "k1:" + b64(k1) + ",", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeys(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("ParseKeys: err = %v, want ErrConfig", err)
				}
				if strings.Contains(err.Error(), b64(k1)) || strings.Contains(err.Error(), b64(k1[:16])) {
					t.Fatalf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeys: %v", err)
			}
			if k.Current != tt.current || len(k.ByID) != tt.ids {
				t.Fatalf("got current %q, %d ids; want %q, %d", k.Current, len(k.ByID), tt.current, tt.ids)
			}
		})
	}
}

func TestKeysValidate(t *testing.T) {
	tests := []struct {
		name string
		keys Keys
	}{
		{name: "zero"},
		{name: "current missing", keys: Keys{Current: "k2", ByID: map[string][]byte{"k1": testKey(1)}}},
		{name: "short key", keys: Keys{Current: "k1", ByID: map[string][]byte{"k1": testKey(1)[:31]}}},
		{name: "bad old id", keys: Keys{Current: "k1", ByID: map[string][]byte{"k1": testKey(1), "k/0": testKey(2)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.keys.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate = %v, want ErrConfig", err)
			}
		})
	}
}

func TestKeysNeverPrintKeyMaterial(t *testing.T) {
	k := Keys{Current: "k1", ByID: map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "keys", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), logged.String()} {
		if strings.Contains(s, "0123456789") || !strings.Contains(s, "k1") {
			t.Errorf("printed %q: want the id and no key", s)
		}
	}
}

func mustSealer(t *testing.T, current string, ids ...string) *sealer {
	t.Helper()
	k := Keys{Current: current, ByID: map[string][]byte{}}
	for _, id := range ids {
		k.ByID[id] = testKey(id[len(id)-1])
	}
	s, err := newSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSeal(t *testing.T) {
	secret := []byte("12345678901234567890")
	old := mustSealer(t, "k1", "k1")
	sealed, err := old.seal(secret, "alice", store.TOTP)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	rotated := mustSealer(t, "k2", "k2", "k1")
	tests := []struct {
		name   string
		s      *sealer
		sealed []byte
		user   string
		kind   store.FactorKind
		want   error
	}{
		{name: "round trip", s: old, sealed: sealed, user: "alice", kind: store.TOTP},
		{name: "old key after rotation", s: rotated, sealed: sealed, user: "alice", kind: store.TOTP},
		{name: "other user", s: old, sealed: sealed, user: "bob", kind: store.TOTP, want: ErrBadSeal},
		{name: "other kind", s: old, sealed: sealed, user: "alice", kind: store.Passkey, want: ErrBadSeal},
		{name: "tampered ciphertext", s: old, sealed: flip(len(sealed) - 1), user: "alice", kind: store.TOTP, want: ErrBadSeal},
		{name: "tampered nonce", s: old, sealed: flip(5), user: "alice", kind: store.TOTP, want: ErrBadSeal},
		{name: "tampered version", s: old, sealed: flip(0), user: "alice", kind: store.TOTP, want: ErrBadSeal},
		{name: "truncated", s: old, sealed: sealed[:10], user: "alice", kind: store.TOTP, want: ErrBadSeal},
		{name: "empty", s: old, sealed: nil, user: "alice", kind: store.TOTP, want: ErrBadSeal},
		{name: "retired key", s: mustSealer(t, "k2", "k2"), sealed: sealed, user: "alice", kind: store.TOTP, want: ErrUnknownKey},
		{name: "renamed key id", s: old, sealed: flip(3), user: "alice", kind: store.TOTP, want: ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.open(tt.sealed, tt.user, tt.kind)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("open: err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("open = %q, %v; want the secret", got, err)
			}
		})
	}
}

func TestSealUsesCurrentKeyAndFreshNonce(t *testing.T) {
	s := mustSealer(t, "k2", "k2", "k1")
	a, err := s.seal([]byte("secret"), "alice", store.TOTP)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.seal([]byte("secret"), "alice", store.TOTP)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a, []byte{sealVersion, 2, 'k', '2'}) {
		t.Fatalf("sealed %x: want version 1 and key id k2 first", a)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one secret are equal: nonce reused")
	}
	if _, err := mustSealer(t, "k1", "k1").open(a, "alice", store.TOTP); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("open with only the old key: %v, want ErrUnknownKey", err)
	}
}
