package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/gin-authkit/authkit/store"
)

// KeySize is the length of a sealing key: AES-256.
const KeySize = 32

// MaxKeyIDLen caps a key id, which every sealed secret carries.
const MaxKeyIDLen = 32

// Keys are the AES-256-GCM keys that seal TOTP secrets at rest. Current
// seals every new secret; every key in ByID opens the secrets sealed
// with it, so a key can rotate: put the new key first, keep the old one
// until no stored secret still names it.
//
// Keys hold secret material: their String and LogValue show only ids.
type Keys struct {
	// Current is the id of the key that seals new secrets. Required; it
	// must be in ByID.
	Current string
	// ByID maps each key id (1 to 32 bytes of letters, digits, '.', '_'
	// and '-') to its 32-byte key.
	ByID map[string][]byte
}

// ParseKeys parses keys from the form an environment variable holds:
// comma-separated "id:key" entries, key in standard or URL base64 (with
// or without padding), the first entry current. For example
// "k2:<base64>,k1:<base64>" seals with k2 and still opens secrets sealed
// with k1. Errors wrap [ErrConfig] and never quote key material.
// A key is made with, for example, `openssl rand -base64 32`.
func ParseKeys(s string) (Keys, error) {
	bad := func(format string, args ...any) (Keys, error) {
		return Keys{}, fmt.Errorf("%w: keys: "+format, append([]any{ErrConfig}, args...)...)
	}
	if strings.TrimSpace(s) == "" {
		return bad("empty")
	}
	k := Keys{ByID: make(map[string][]byte)}
	for i, entry := range strings.Split(s, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok {
			return bad("entry %d: want id:base64key", i+1)
		}
		if err := validKeyID(id); err != nil {
			return bad("entry %d: %v", i+1, err)
		}
		if _, dup := k.ByID[id]; dup {
			return bad("entry %d: key id %q repeated", i+1, id)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return bad("entry %d (%s): %v", i+1, id, err)
		}
		if i == 0 {
			k.Current = id
		}
		k.ByID[id] = key
	}
	return k, k.Validate()
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, fmt.Errorf("key is not base64")
}

func validKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id must be 1 to %d bytes", MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("key id byte %d is not a letter, digit, '.', '_' or '-'", i)
		}
	}
	return nil
}

// Validate reports whether k can seal and open: a Current key present,
// valid ids, every key 32 bytes and not all zero. Errors wrap
// [ErrConfig].
func (k Keys) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: keys: "+format, append([]any{ErrConfig}, args...)...)
	}
	if _, ok := k.ByID[k.Current]; !ok {
		return bad("current key id %q has no key", k.Current)
	}
	for _, id := range k.ids() {
		if err := validKeyID(id); err != nil {
			return bad("%v", err)
		}
		key := k.ByID[id]
		if len(key) != KeySize {
			return bad("key %q is %d bytes, want %d", id, len(key), KeySize)
		}
		if !slices.ContainsFunc(key, func(b byte) bool { return b != 0 }) {
			return bad("key %q is all zero", id)
		}
	}
	return nil
}

func (k Keys) ids() []string { return slices.Sorted(maps.Keys(k.ByID)) }

// String shows the key ids, never the keys.
func (k Keys) String() string {
	return fmt.Sprintf("mfa.Keys{Current: %q, IDs: %q}", k.Current, k.ids())
}

// GoString is String, so that %#v does not print the keys either.
func (k Keys) GoString() string { return k.String() }

// LogValue shows the key ids, never the keys.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("current", k.Current), slog.Any("ids", k.ids()))
}

// sealVersion is the first byte of every sealed secret. Format v1:
//
//	version(1) | len(keyID)(1) | keyID | nonce(12) | AES-GCM ciphertext+tag
//
// The additional data binds the header, the factor kind and the
// username, so a sealed secret copied to another user (or kind) does not
// open.
const sealVersion = 1

// sealer seals and opens factor secrets with one set of [Keys].
type sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

func newSealer(k Keys) (*sealer, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	s := &sealer{current: k.Current, aeads: make(map[string]cipher.AEAD, len(k.ByID))}
	for id, key := range k.ByID {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: keys: %q: %v", ErrConfig, id, err)
		}
		if s.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("%w: keys: %q: %v", ErrConfig, id, err)
		}
	}
	return s, nil
}

func additionalData(header []byte, username string, kind store.FactorKind) []byte {
	ad := make([]byte, 0, 32+len(header)+len(kind)+len(username))
	ad = append(ad, "authkit mfa seal\x00"...)
	ad = append(ad, header...)
	ad = append(ad, kind...)
	ad = append(ad, 0)
	return append(ad, username...)
}

// seal encrypts secret for username's factor of kind with the current key.
func (s *sealer) seal(secret []byte, username string, kind store.FactorKind) ([]byte, error) {
	aead := s.aeads[s.current]
	header := append([]byte{sealVersion, byte(len(s.current))}, s.current...)
	out := make([]byte, len(header)+aead.NonceSize(), len(header)+aead.NonceSize()+len(secret)+aead.Overhead())
	copy(out, header)
	if _, err := rand.Read(out[len(header):]); err != nil {
		return nil, fmt.Errorf("mfa: seal: %w", err)
	}
	nonce := out[len(header):]
	return aead.Seal(out, nonce, secret, additionalData(header, username, kind)), nil
}

// open decrypts what seal returned for the same username and kind.
// A key id it has no key for fails with [ErrUnknownKey]; anything else
// that does not open (another user's secret, tampering, an unknown
// version) with [ErrBadSeal].
func (s *sealer) open(sealed []byte, username string, kind store.FactorKind) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown format", ErrBadSeal)
	}
	n := 2 + int(sealed[1])
	if len(sealed) < n {
		return nil, fmt.Errorf("%w: truncated", ErrBadSeal)
	}
	header, id := sealed[:n], string(sealed[2:n])
	aead, ok := s.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, id)
	}
	if len(sealed) < n+aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: truncated", ErrBadSeal)
	}
	nonce, ct := sealed[n:n+aead.NonceSize()], sealed[n+aead.NonceSize():]
	secret, err := aead.Open(nil, nonce, ct, additionalData(header, username, kind))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: %v", ErrBadSeal, id, err)
	}
	return secret, nil
}
