package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// RecoveryCodeCount is how many recovery codes a user is given at a time.
const RecoveryCodeCount = 10

// A recovery code is 80 random bits written as 16 characters of
// Crockford's base32 (digits and lower-case letters without i, l, o and
// u), shown in groups of four: "7k3m-q9x2-…". Stores keep only the
// unsalted SHA-256 of the normalised code, so 80 bits keep a dumped
// digest out of reach of brute force.
const (
	recoveryBytes = 10
	recoveryLen   = 16
	crockford     = "0123456789abcdefghjkmnpqrstvwxyz"
)

var recoveryEnc = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// maxCodeLen bounds what classify reads: longer input is a bad code.
const maxCodeLen = 64

// classify normalises code and says which form it has: [TOTP] (6
// digits, spaces and dashes ignored), [RecoveryCode] (16 Crockford
// base32 characters, case, spaces and dashes ignored, 'o' read as 0 and
// 'i' and 'l' as 1), or "" for neither.
func classify(code string) (string, Method) {
	if len(code) > maxCodeLen {
		return "", ""
	}
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		if !strings.ContainsRune(crockford, r) {
			return "", ""
		}
		b.WriteRune(r)
	}
	c := b.String()
	switch {
	case len(c) == Digits && strings.Trim(c, "0123456789") == "":
		return c, TOTP
	case len(c) == recoveryLen:
		return c, RecoveryCode
	}
	return "", ""
}

// newRecoveryCodes returns RecoveryCodeCount fresh codes in their shown
// form and the digests to store.
func newRecoveryCodes() ([]string, []store.Digest, error) {
	codes := make([]string, 0, RecoveryCodeCount)
	digests := make([]store.Digest, 0, RecoveryCodeCount)
	for range RecoveryCodeCount {
		raw := make([]byte, recoveryBytes)
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, fmt.Errorf("recovery codes: %w", err)
		}
		c := recoveryEnc.EncodeToString(raw)
		digests = append(digests, store.HashSecret([]byte(c)))
		codes = append(codes, c[0:4]+"-"+c[4:8]+"-"+c[8:12]+"-"+c[12:16])
	}
	return codes, digests, nil
}

// useRecoveryCode spends one of the user's recovery codes, c in
// normalised form.
func (s *Service) useRecoveryCode(ctx context.Context, name, c string) error {
	left, err := s.recovery.UseRecoveryCode(ctx, name, store.HashSecret([]byte(c)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("mfa: check code: %w", ErrBadCode)
	case err != nil:
		return fmt.Errorf("mfa: check code: %w", err)
	}
	reason := ""
	if left == 0 {
		reason = "last"
	}
	s.emit(ctx, audit.RecoveryCodeUsed, name, reason)
	return nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes with 10
// fresh ones, to be shown once; the old ones stop working. The caller
// should have verified a current code first. A user without a confirmed
// TOTP factor gets [ErrNotEnrolled].
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, username string) ([]string, error) {
	name, _, err := s.confirmed(ctx, "regenerate recovery codes", username)
	if err != nil {
		return nil, err
	}
	codes, digests, err := newRecoveryCodes()
	if err == nil {
		err = s.recovery.SetRecoveryCodes(ctx, name, digests)
	}
	if err != nil {
		return nil, fmt.Errorf("mfa: regenerate recovery codes: %w", err)
	}
	s.emit(ctx, audit.RecoveryCodesRegenerated, name, "")
	return codes, nil
}
