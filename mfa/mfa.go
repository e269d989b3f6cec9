package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// DefaultIssuer is the otpauth issuer when [Config.Issuer] is empty.
const DefaultIssuer = "authkit"

// Config configures a [Service]. Zero values mean the defaults stated
// per field.
type Config struct {
	// Factors keeps the TOTP factor, its secret sealed. Required.
	Factors store.FactorStore
	// Recovery keeps the digests of the recovery codes. Required; often
	// the same store as Factors.
	Recovery store.RecoveryCodeStore
	// Keys seal the TOTP secrets at rest (see [ParseKeys]). Required: a
	// store dump without them holds no usable secret.
	Keys Keys
	// Issuer names the service in the authenticator app (the otpauth
	// URI's issuer and label prefix). Default [DefaultIssuer].
	Issuer string
	// Now is the clock codes are checked against. Default time.Now.
	// Tests inject a fixed clock instead of sleeping.
	Now func() time.Time
	// Audit receives enrolment, confirmation, disabling, recovery-code
	// use and regeneration events. Default audit.Log(slog.Default());
	// give it ginauth.Config.Audit to keep one trail.
	Audit audit.Hook
}

// Service enrols, checks and removes users' TOTP factors and their
// recovery codes. It is safe for concurrent use.
type Service struct {
	factors  store.FactorStore
	recovery store.RecoveryCodeStore
	sealer   *sealer
	issuer   string
	now      func() time.Time
	audit    audit.Hook
}

// New validates cfg and returns a Service. Errors wrap [ErrConfig].
func New(cfg Config) (*Service, error) {
	if cfg.Factors == nil {
		return nil, fmt.Errorf("%w: Config.Factors is required", ErrConfig)
	}
	if cfg.Recovery == nil {
		return nil, fmt.Errorf("%w: Config.Recovery is required", ErrConfig)
	}
	sl, err := newSealer(cfg.Keys)
	if err != nil {
		return nil, err
	}
	s := &Service{factors: cfg.Factors, recovery: cfg.Recovery, sealer: sl,
		issuer: cfg.Issuer, now: cfg.Now, audit: cfg.Audit}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.audit == nil {
		s.audit = audit.Log(slog.Default())
	}
	return s, nil
}

// Method says what [Service.CheckCode] accepted.
type Method string

// The methods [Service.CheckCode] accepts.
const (
	// TOTP is a code from the user's authenticator app.
	TOTP Method = "totp"
	// RecoveryCode is one of the user's single-use recovery codes.
	RecoveryCode Method = "recovery_code"
)

// AMR returns the RFC 8176 authentication method reference for m: "otp"
// for both. A recovery code is a one-time password issued to the user
// in advance, and RFC 8176 has no value of its own for it; a relying
// party that must tell them apart reads m itself.
func (m Method) AMR() string { return "otp" }

// Status is what a user has enrolled.
type Status struct {
	// TOTP is true when a confirmed TOTP factor is present (a pending
	// enrolment does not count).
	TOTP bool
	// RecoveryCodes is how many unused recovery codes are left.
	RecoveryCodes int
}

// Status reports the user's TOTP factor and recovery codes.
func (s *Service) Status(ctx context.Context, username string) (Status, error) {
	name, f, err := s.totp(ctx, "status", username)
	switch {
	case errors.Is(err, ErrNotEnrolled):
		return Status{}, nil
	case err != nil:
		return Status{}, err
	}
	n, err := s.recovery.RecoveryCodes(ctx, name)
	if err != nil {
		return Status{}, fmt.Errorf("mfa: status: %w", err)
	}
	return Status{TOTP: f.Confirmed, RecoveryCodes: n}, nil
}

// totp returns the canonical username and the user's TOTP factor,
// pending or confirmed. An absent factor, or a username no account can
// have, is [ErrNotEnrolled].
func (s *Service) totp(ctx context.Context, op, username string) (string, store.Factor, error) {
	name, err := store.CanonicalUsername(username)
	if err != nil {
		return "", store.Factor{}, fmt.Errorf("mfa: %s: %w", op, ErrNotEnrolled)
	}
	fs, err := s.factors.Factors(ctx, name)
	if err != nil {
		return "", store.Factor{}, fmt.Errorf("mfa: %s: %w", op, err)
	}
	for _, f := range fs {
		if f.Kind == store.TOTP && f.ID == totpID {
			return name, f, nil
		}
	}
	return name, store.Factor{}, fmt.Errorf("mfa: %s: %w", op, ErrNotEnrolled)
}

// confirmed is totp, requiring the factor to be confirmed.
func (s *Service) confirmed(ctx context.Context, op, username string) (string, store.Factor, error) {
	name, f, err := s.totp(ctx, op, username)
	if err == nil && !f.Confirmed {
		err = fmt.Errorf("mfa: %s: %w", op, ErrNotEnrolled)
	}
	return name, f, err
}

func (s *Service) emit(ctx context.Context, kind audit.Kind, username, reason string) {
	s.audit(ctx, audit.Event{Time: s.now(), Kind: kind, Username: username, Reason: reason})
}

// DisableTOTP removes the user's TOTP factor, pending or confirmed, and
// the recovery codes. The caller must have verified the password and a
// current code (or a recovery code) first; a confirmed factor's removal
// is audited as [audit.TOTPDisabled]. No factor: [ErrNotEnrolled].
func (s *Service) DisableTOTP(ctx context.Context, username string) error {
	name, f, err := s.totp(ctx, "disable", username)
	if err != nil {
		return err
	}
	if err := s.factors.RemoveFactor(ctx, name, store.TOTP, totpID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("mfa: disable: %w", ErrNotEnrolled)
		}
		return fmt.Errorf("mfa: disable: %w", err)
	}
	if f.Confirmed {
		s.emit(ctx, audit.TOTPDisabled, name, "")
	}
	if err := s.recovery.SetRecoveryCodes(ctx, name, nil); err != nil {
		return fmt.Errorf("mfa: disable: factor removed, recovery codes not: %w", err)
	}
	return nil
}
