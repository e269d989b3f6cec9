package mfa

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// TOTP parameters: those every authenticator app supports (Google
// Authenticator ignores any other).
const (
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Digits is the length of a TOTP code.
	Digits = 6
	// SecretSize is the length of a TOTP secret in bytes (160 bits, as
	// RFC 4226 recommends for HMAC-SHA1).
	SecretSize = 20
	// QRSize is the width and height of [Enrollment.QR] in pixels.
	QRSize = 256
)

// totpID is the [store.Factor.ID] of every TOTP factor.
const totpID = string(store.TOTP)

var (
	b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

	totpOpts = totp.ValidateOpts{
		Period:    uint(Period / time.Second),
		Digits:    otp.DigitsSix,
		Algorithm: otp.AlgorithmSHA1,
	}
)

// Enrollment is what a user needs to add the factor to an authenticator
// app. Show it once, to the user only: it holds the secret.
type Enrollment struct {
	// Secret is the base32 secret, for typing into an app by hand.
	Secret string
	// URI is the otpauth:// URI the QR code encodes.
	URI string
	// QR is a PNG image of URI, QRSize pixels square.
	QR []byte
}

// LogValue keeps the secret out of logs.
func (e Enrollment) LogValue() slog.Value { return slog.StringValue("mfa.Enrollment(redacted)") }

// EnrollTOTP starts a TOTP enrolment: it generates a secret, stores it
// sealed as the user's pending factor (replacing any earlier pending
// one) and returns it for the user's app. The factor counts only once
// [Service.ConfirmTOTP] has seen a first valid code. A user who already
// has a confirmed factor gets [ErrEnrolled]; a name no account can have,
// an error wrapping store.ErrInvalid.
func (s *Service) EnrollTOTP(ctx context.Context, username string) (Enrollment, error) {
	name, err := store.CanonicalUsername(username)
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: enrol: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.issuer,
		AccountName: name,
		Period:      totpOpts.Period,
		SecretSize:  SecretSize,
		Digits:      totpOpts.Digits,
		Algorithm:   totpOpts.Algorithm,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: enrol: %w", err)
	}
	secret, err := b32.DecodeString(key.Secret())
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: enrol: %w", err)
	}
	sealed, err := s.sealer.seal(secret, name, store.TOTP)
	if err != nil {
		return Enrollment{}, err
	}
	var qr bytes.Buffer
	img, err := key.Image(QRSize, QRSize)
	if err == nil {
		err = png.Encode(&qr, img)
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: enrol: QR code: %w", err)
	}
	f := store.Factor{Kind: store.TOTP, ID: totpID, Data: sealed, CreatedAt: s.now()}
	if err := s.factors.AddFactor(ctx, name, f); err != nil {
		if errors.Is(err, store.ErrExists) {
			return Enrollment{}, fmt.Errorf("mfa: enrol: %w", ErrEnrolled)
		}
		return Enrollment{}, fmt.Errorf("mfa: enrol: %w", err)
	}
	s.emit(ctx, audit.TOTPEnrolled, name, "")
	return Enrollment{Secret: key.Secret(), URI: key.URL(), QR: qr.Bytes()}, nil
}

// ConfirmTOTP activates the user's pending factor with a first valid
// TOTP code and returns 10 fresh recovery codes, to be shown once: only
// their digests are stored. The code's time step counts as used, so the
// same code cannot then complete a login. No pending factor:
// [ErrNotEnrolled]; a confirmed one: [ErrEnrolled]; a wrong code:
// [ErrBadCode]. Recovery codes are not accepted here.
func (s *Service) ConfirmTOTP(ctx context.Context, username, code string) ([]string, error) {
	name, f, err := s.totp(ctx, "confirm", username)
	if err != nil {
		return nil, err
	}
	if f.Confirmed {
		return nil, fmt.Errorf("mfa: confirm: %w", ErrEnrolled)
	}
	c, m := classify(code)
	if m != TOTP {
		return nil, fmt.Errorf("mfa: confirm: %w", ErrBadCode)
	}
	step, err := s.match(name, f, c)
	if err != nil {
		return nil, fmt.Errorf("mfa: confirm: %w", err)
	}
	codes, digests, err := newRecoveryCodes()
	if err != nil {
		return nil, fmt.Errorf("mfa: confirm: %w", err)
	}
	if err := s.use(ctx, name, f, step); err != nil {
		return nil, fmt.Errorf("mfa: confirm: %w", err)
	}
	if err := s.recovery.SetRecoveryCodes(ctx, name, digests); err != nil {
		// Undo the activation: the user never saw codes, and is told
		// the enrolment failed.
		if rerr := s.factors.RemoveFactor(ctx, name, store.TOTP, totpID); rerr != nil {
			err = errors.Join(err, fmt.Errorf("the factor stays active: %w", rerr))
		}
		return nil, fmt.Errorf("mfa: confirm: storing recovery codes: %w", err)
	}
	s.emit(ctx, audit.TOTPConfirmed, name, "")
	return codes, nil
}

// CheckCode checks a second factor for the user: a 6-digit TOTP code
// from the current time step or the one before or after, or an unused
// recovery code (case, spaces and dashes ignored), and reports which it
// was. Each TOTP time step is accepted once, and never one older than
// the last accepted: a replay fails with [ErrReplayed] (which wraps
// [ErrBadCode]). A wrong code of either form is [ErrBadCode]; a user
// without a confirmed factor gets [ErrNotEnrolled]. Guesses are not
// throttled here: the caller counts failures.
func (s *Service) CheckCode(ctx context.Context, username, code string) (Method, error) {
	name, f, err := s.confirmed(ctx, "check code", username)
	if err != nil {
		return "", err
	}
	c, m := classify(code)
	switch m {
	case TOTP:
		step, err := s.match(name, f, c)
		if err == nil {
			err = s.use(ctx, name, f, step)
		}
		if err != nil {
			return "", fmt.Errorf("mfa: check code: %w", err)
		}
		return TOTP, nil
	case RecoveryCode:
		if err := s.useRecoveryCode(ctx, name, c); err != nil {
			return "", err
		}
		return RecoveryCode, nil
	}
	return "", fmt.Errorf("mfa: check code: %w", ErrBadCode)
}

// CurrentCode returns the TOTP code of the user's factor (pending or
// confirmed) for the current time step. It is for tests and demos only,
// behind an explicit test flag: anyone who can call it needs no
// authenticator. Never expose it on a route.
func (s *Service) CurrentCode(ctx context.Context, username string) (string, error) {
	name, f, err := s.totp(ctx, "current code", username)
	if err != nil {
		return "", err
	}
	secret, err := s.sealer.open(f.Data, name, store.TOTP)
	if err != nil {
		return "", fmt.Errorf("mfa: current code: %w", err)
	}
	return codeAt(secret, stepOf(s.now()))
}

// stepOf returns the RFC 6238 time step of t.
func stepOf(t time.Time) uint64 {
	if t.Unix() < 0 {
		return 0
	}
	return uint64(t.Unix()) / uint64(totpOpts.Period)
}

// codeAt asks the library for the code of a time step, given as the
// step's first second.
func codeAt(secret []byte, step uint64) (string, error) {
	t := time.Unix(int64(step*uint64(totpOpts.Period)), 0)
	return totp.GenerateCodeCustom(b32.EncodeToString(secret), t, totpOpts)
}

// match returns the time step among the current one and its neighbours
// whose code is code and which the factor has not yet passed. All three
// codes are computed and compared in constant time.
func (s *Service) match(name string, f store.Factor, code string) (uint64, error) {
	secret, err := s.sealer.open(f.Data, name, store.TOTP)
	if err != nil {
		return 0, err
	}
	now := stepOf(s.now())
	var step uint64
	seen := false
	for st := max(now, 2) - 1; st <= now+1; st++ {
		want, err := codeAt(secret, st)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			seen = true
			if step == 0 && store.Accepts(f.Counter, st) {
				step = st
			}
		}
	}
	switch {
	case step != 0:
		return step, nil
	case seen:
		return 0, ErrReplayed
	}
	return 0, ErrBadCode
}

// use records step as the factor's last accepted use, atomically
// refusing a step not above the last one. The factor read before must
// be the one used: if it was removed and enrolled again in between, the
// code was checked against the old secret and must not confirm the new
// one, so the new one is removed too and the user starts again.
func (s *Service) use(ctx context.Context, name string, f store.Factor, step uint64) error {
	g, err := s.factors.UseFactor(ctx, name, store.TOTP, totpID, step, s.now())
	switch {
	case errors.Is(err, store.ErrReused):
		return ErrReplayed
	case errors.Is(err, store.ErrNotFound):
		return ErrNotEnrolled
	case err != nil:
		return err
	case !bytes.Equal(g.Data, f.Data):
		if err := s.factors.RemoveFactor(ctx, name, store.TOTP, totpID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("the factor changed while its code was checked, and removing it failed: %w", err)
		}
		return fmt.Errorf("the factor changed while its code was checked: %w", ErrNotEnrolled)
	}
	return nil
}
