package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Hasher turns passwords into stored hashes and checks them, in one
// encoding. [Manager] owns one for new hashes and may accept others for
// hashes written before a change of configuration.
type Hasher interface {
	// Hash returns the encoded hash of password.
	Hash(ctx context.Context, password []byte) ([]byte, error)
	// Compare returns nil when password matches hash, an error wrapping
	// [ErrPasswordMismatch] when it does not, [ErrHashUnsupported] when
	// hash is not in this Hasher's encoding, and [ErrHashTooCostly] when
	// checking it would cost more than the Hasher's ceiling (it is then
	// never computed).
	Compare(ctx context.Context, hash, password []byte) error
	// NeedsRehash reports whether hash, which Compare accepted, differs
	// from what Hash would write now (another cost or parameters).
	NeedsRehash(hash []byte) bool
}

// Errors of a [Hasher].
var (
	ErrPasswordMismatch = errors.New("accounts: password does not match")
	ErrHashUnsupported  = errors.New("accounts: unsupported hash encoding")
	ErrHashTooCostly    = errors.New("accounts: stored hash exceeds the cost ceiling")
)

// MinBcryptCost is the lowest bcrypt cost [Bcrypt] accepts outside tests:
// below it an offline attack on a leaked hash is cheap.
const MinBcryptCost = 10

// Bcrypt is the default [Hasher].
type Bcrypt struct {
	// Cost of new hashes. Default [DefaultBcryptCost]; at least
	// [MinBcryptCost] unless the owner allows test-only costs.
	Cost int
	// MaxCost is the highest cost Compare computes. A stored hash above it
	// is refused unread, so one planted or mistyped record (cost 18 takes
	// over a minute) cannot hold the password slots. Default Cost + 2.
	MaxCost int
}

var _ Hasher = Bcrypt{}

func (b Bcrypt) cost() int {
	if b.Cost == 0 {
		return DefaultBcryptCost
	}
	return b.Cost
}

func (b Bcrypt) maxCost() int {
	if b.MaxCost == 0 {
		return b.cost() + 2
	}
	return b.MaxCost
}

// Hash implements [Hasher].
func (b Bcrypt) Hash(_ context.Context, password []byte) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword(password, b.cost())
	if err != nil {
		return nil, fmt.Errorf("accounts: bcrypt: %w", err)
	}
	return h, nil
}

// Compare implements [Hasher].
func (b Bcrypt) Compare(_ context.Context, hash, password []byte) error {
	if !isBcrypt(hash) {
		return ErrHashUnsupported
	}
	cost, err := bcrypt.Cost(hash)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHashUnsupported, err)
	}
	if cost > b.maxCost() {
		return fmt.Errorf("%w: bcrypt cost %d, ceiling %d", ErrHashTooCostly, cost, b.maxCost())
	}
	if err := bcrypt.CompareHashAndPassword(hash, password); err != nil {
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return ErrPasswordMismatch
		}
		return fmt.Errorf("%w: %v", ErrHashUnsupported, err)
	}
	return nil
}

// NeedsRehash implements [Hasher].
func (b Bcrypt) NeedsRehash(hash []byte) bool {
	cost, err := bcrypt.Cost(hash)
	return err != nil || cost != b.cost()
}

func isBcrypt(h []byte) bool {
	return bytes.HasPrefix(h, []byte("$2a$")) || bytes.HasPrefix(h, []byte("$2b$")) || bytes.HasPrefix(h, []byte("$2y$"))
}

// Argon2id is a [Hasher] for argon2id (RFC 9106), stored in the PHC string
// format "$argon2id$v=19$m=…,t=…,p=…$salt$hash". Zero fields mean the
// defaults below (RFC 9106's second recommended option, with less memory).
type Argon2id struct {
	// Time is the number of passes. Default 3.
	Time uint32
	// Memory is in KiB. Default 64 MiB.
	Memory uint32
	// Threads is the parallelism. Default 2.
	Threads uint8
	// MaxTime and MaxMemory bound what Compare computes for a stored hash.
	// Default: twice Time and Memory.
	MaxTime, MaxMemory uint32
}

var _ Hasher = Argon2id{}

const (
	argonSaltLen = 16
	argonKeyLen  = 32
)

func (a Argon2id) params() (t, m uint32, p uint8) {
	t, m, p = a.Time, a.Memory, a.Threads
	if t == 0 {
		t = 3
	}
	if m == 0 {
		m = 64 << 10
	}
	if p == 0 {
		p = 2
	}
	return t, m, p
}

// Hash implements [Hasher].
func (a Argon2id) Hash(_ context.Context, password []byte) ([]byte, error) {
	t, m, p := a.params()
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("accounts: argon2id salt: %w", err)
	}
	key := argon2.IDKey(password, salt, t, m, p, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Appendf(nil, "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, m, t, p, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// phc is a parsed argon2id hash.
type phc struct {
	t, m      uint32
	p         uint8
	salt, key []byte
}

func parseArgon2id(h []byte) (phc, error) {
	parts := strings.Split(string(h), "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, ErrHashUnsupported
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("%w: argon2id version %q", ErrHashUnsupported, parts[2])
	}
	var x phc
	var p uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &x.m, &x.t, &p); err != nil || p == 0 || p > 255 || x.t == 0 {
		return phc{}, fmt.Errorf("%w: argon2id parameters %q", ErrHashUnsupported, parts[3])
	}
	x.p = uint8(p)
	var err1, err2 error
	x.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	x.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(x.salt) < 8 || len(x.key) < 16 || len(x.key) > 64 {
		return phc{}, fmt.Errorf("%w: argon2id salt or key", ErrHashUnsupported)
	}
	return x, nil
}

// Compare implements [Hasher].
func (a Argon2id) Compare(_ context.Context, hash, password []byte) error {
	x, err := parseArgon2id(hash)
	if err != nil {
		return err
	}
	t, m, _ := a.params()
	maxT, maxM := a.MaxTime, a.MaxMemory
	if maxT == 0 {
		maxT = 2 * t
	}
	if maxM == 0 {
		maxM = 2 * m
	}
	if x.t > maxT || x.m > maxM {
		return fmt.Errorf("%w: argon2id t=%d m=%d, ceiling t=%d m=%d", ErrHashTooCostly, x.t, x.m, maxT, maxM)
	}
	key := argon2.IDKey(password, x.salt, x.t, x.m, x.p, uint32(len(x.key)))
	if subtle.ConstantTimeCompare(key, x.key) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// NeedsRehash implements [Hasher].
func (a Argon2id) NeedsRehash(hash []byte) bool {
	x, err := parseArgon2id(hash)
	t, m, p := a.params()
	return err != nil || x.t != t || x.m != m || x.p != p || len(x.salt) != argonSaltLen || len(x.key) != argonKeyLen
}
