package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// Digest is the SHA-256 of a secret (a session secret or a refresh token).
// Stores keep digests only.
type Digest [32]byte

// HashSecret returns the digest of secret.
func HashSecret(secret []byte) Digest { return sha256.Sum256(secret) }

// String returns the digest as 64 lower-case hex characters.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// LogValue shows only a short prefix, enough to correlate log lines
// without putting a session handle in the logs.
func (d Digest) LogValue() slog.Value { return slog.StringValue(d.String()[:8] + "…") }

// IsZero reports whether d is the zero digest.
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest parses the hex form produced by [Digest.String].
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return Digest{}, fmt.Errorf("%w: digest must be %d hex characters", ErrInvalid, 2*len(d))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return Digest{}, fmt.Errorf("%w: digest: %v", ErrInvalid, err)
	}
	return d, nil
}
