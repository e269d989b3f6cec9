package mfa_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"image/png"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
)

// t0 is the fixtures' clock: 10 s into a time step.
var t0 = time.Date(2026, 3, 4, 5, 6, 10, 0, time.UTC)

// clock is an injected clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type fixture struct {
	t      testing.TB
	ctx    context.Context
	store  *memstore.Store
	clock  *clock
	svc    *mfa.Service
	mu     sync.Mutex
	events []audit.Kind
}

func keys(t testing.TB, s string) mfa.Keys {
	t.Helper()
	k, err := mfa.ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const (
	key1 = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	key2 = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
)

// newFixture returns a Service on a fresh memstore, at t0, sealing with
// key1, with factors and recovery codes wrapped by wrap when given.
func newFixture(t testing.TB, wrap ...func(*memstore.Store) (store.FactorStore, store.RecoveryCodeStore)) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), store: memstore.New(memstore.Options{}), clock: &clock{now: t0}}
	var fs store.FactorStore = f.store
	var rs store.RecoveryCodeStore = f.store
	if len(wrap) > 0 {
		fs, rs = wrap[0](f.store)
	}
	f.svc = f.service(fs, rs, keys(t, key1))
	return f
}

func (f *fixture) service(fs store.FactorStore, rs store.RecoveryCodeStore, k mfa.Keys) *mfa.Service {
	f.t.Helper()
	svc, err := mfa.New(mfa.Config{
		Factors: fs, Recovery: rs, Keys: k, Now: f.clock.Now,
		Audit: func(_ context.Context, e audit.Event) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.events = append(f.events, e.Kind)
		},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

// code returns the library's code for secret at the clock plus offset.
func (f *fixture) code(secret string, offset time.Duration) string {
	f.t.Helper()
	c, err := totp.GenerateCode(secret, f.clock.Now().Add(offset))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// enrol enrols and confirms user a step before t0, and returns the
// secret and the recovery codes, with the clock back at t0.
func (f *fixture) enrol(user string) (string, []string) {
	f.t.Helper()
	e, err := f.svc.EnrollTOTP(f.ctx, user)
	if err != nil {
		f.t.Fatalf("EnrollTOTP: %v", err)
	}
	f.clock.Set(t0.Add(-5 * time.Minute))
	defer f.clock.Set(t0)
	codes, err := f.svc.ConfirmTOTP(f.ctx, user, f.code(e.Secret, 0))
	if err != nil {
		f.t.Fatalf("ConfirmTOTP: %v", err)
	}
	return e.Secret, codes
}

func (f *fixture) status(user string) mfa.Status {
	f.t.Helper()
	st, err := f.svc.Status(f.ctx, user)
	if err != nil {
		f.t.Fatalf("Status: %v", err)
	}
	return st
}

func TestNewConfig(t *testing.T) {
	st := memstore.New(memstore.Options{})
	k := keys(t, key1)
	tests := []struct {
		name string
		cfg  mfa.Config
	}{
		{name: "no factors", cfg: mfa.Config{Recovery: st, Keys: k}},
		{name: "no recovery", cfg: mfa.Config{Factors: st, Keys: k}},
		{name: "no keys", cfg: mfa.Config{Factors: st, Recovery: st}},
		{name: "current key missing", cfg: mfa.Config{Factors: st, Recovery: st, Keys: mfa.Keys{Current: "k9", ByID: k.ByID}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mfa.New(tt.cfg); !errors.Is(err, mfa.ErrConfig) {
				t.Fatalf("New: err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestTOTPWindow(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
		want   error
	}{
		{name: "two steps back", offset: -2 * mfa.Period, want: mfa.ErrBadCode},
		{name: "one step back", offset: -mfa.Period},
		{name: "current step", offset: 0},
		{name: "one step ahead", offset: mfa.Period},
		{name: "two steps ahead", offset: 2 * mfa.Period, want: mfa.ErrBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			secret, _ := f.enrol("alice")
			m, err := f.svc.CheckCode(f.ctx, "alice", f.code(secret, tt.offset))
			if tt.want != nil {
				if !errors.Is(err, tt.want) || errors.Is(err, mfa.ErrReplayed) {
					t.Fatalf("CheckCode = %q, %v; want %v", m, err, tt.want)
				}
				return
			}
			if err != nil || m != mfa.TOTP || m.AMR() != "otp" {
				t.Fatalf("CheckCode = %q, %v; want totp", m, err)
			}
		})
	}
}

func TestTOTPReplay(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.enrol("alice")
	steps := []struct {
		name   string
		offset time.Duration
		want   error
	}{
		{name: "current code", offset: 0},
		{name: "same code again", offset: 0, want: mfa.ErrReplayed},
		{name: "next step's code", offset: mfa.Period},
		{name: "older code after newer", offset: 0, want: mfa.ErrReplayed},
		{name: "previous step's code", offset: -mfa.Period, want: mfa.ErrReplayed},
	}
	for _, s := range steps {
		m, err := f.svc.CheckCode(f.ctx, "alice", f.code(secret, s.offset))
		if s.want == nil && (err != nil || m != mfa.TOTP) || s.want != nil && !errors.Is(err, s.want) {
			t.Fatalf("%s: CheckCode = %q, %v; want %v", s.name, m, err, s.want)
		}
		if s.want != nil && !errors.Is(err, mfa.ErrBadCode) {
			t.Fatalf("%s: %v does not wrap ErrBadCode", s.name, err)
		}
	}
}

func TestConfirmingCodeCannotLogIn(t *testing.T) {
	f := newFixture(t)
	e, err := f.svc.EnrollTOTP(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	code := f.code(e.Secret, 0)
	if _, err := f.svc.ConfirmTOTP(f.ctx, "alice", code); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CheckCode(f.ctx, "alice", code); !errors.Is(err, mfa.ErrReplayed) {
		t.Fatalf("CheckCode with the confirming code: %v, want ErrReplayed", err)
	}
}

var recoveryForm = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)

// TestTOTPEnrolConfirmCheck walks one user through the whole flow.
func TestTOTPEnrolConfirmCheck(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	if st := f.status("alice"); st != (mfa.Status{}) {
		t.Fatalf("Status before enrolling = %+v", st)
	}
	e, err := f.svc.EnrollTOTP(ctx, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Secret) != 32 || !strings.HasPrefix(e.URI, "otpauth://totp/authkit:alice?") || !strings.Contains(e.URI, "issuer=authkit") {
		t.Fatalf("enrolment: secret %d chars, URI %q", len(e.Secret), e.URI)
	}
	img, err := png.Decode(bytes.NewReader(e.QR))
	if err != nil || img.Bounds().Dx() != mfa.QRSize {
		t.Fatalf("QR: %v, %v", img.Bounds(), err)
	}
	if st := f.status("alice"); st != (mfa.Status{}) {
		t.Fatalf("Status while pending = %+v", st)
	}
	if _, err := f.svc.CheckCode(ctx, "alice", f.code(e.Secret, 0)); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("CheckCode while pending: %v, want ErrNotEnrolled", err)
	}
	if cur, err := f.svc.CurrentCode(ctx, "alice"); err != nil || cur != f.code(e.Secret, 0) {
		t.Fatalf("CurrentCode = %q, %v; want %q", cur, err, f.code(e.Secret, 0))
	}
	if _, err := f.svc.ConfirmTOTP(ctx, "alice", f.code(e.Secret, 5*mfa.Period)); !errors.Is(err, mfa.ErrBadCode) {
		t.Fatalf("ConfirmTOTP with a wrong code: %v, want ErrBadCode", err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, "alice", f.code(e.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryForm.MatchString(c) || seen[c] {
			t.Fatalf("recovery code %q: bad form or repeated", c)
		}
		seen[c] = true
	}
	if st := f.status("alice"); st != (mfa.Status{TOTP: true, RecoveryCodes: 10}) {
		t.Fatalf("Status after confirming = %+v", st)
	}
	if _, err := f.svc.EnrollTOTP(ctx, "alice"); !errors.Is(err, mfa.ErrEnrolled) {
		t.Fatalf("EnrollTOTP again: %v, want ErrEnrolled", err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, "alice", f.code(e.Secret, mfa.Period)); !errors.Is(err, mfa.ErrEnrolled) {
		t.Fatalf("ConfirmTOTP again: %v, want ErrEnrolled", err)
	}
	f.clock.Set(t0.Add(time.Hour))
	if m, err := f.svc.CheckCode(ctx, "ALICE", f.code(e.Secret, 0)); err != nil || m != mfa.TOTP {
		t.Fatalf("CheckCode = %q, %v", m, err)
	}
	recovery := []struct {
		name, code string
		want       error
	}{
		{name: "as shown", code: codes[0]},
		{name: "used before", code: codes[0], want: mfa.ErrBadCode},
		{name: "upper case without dashes", code: strings.ToUpper(strings.ReplaceAll(codes[1], "-", ""))},
		{name: "spaces for dashes", code: " " + strings.ReplaceAll(codes[2], "-", " ") + " "},
		{name: "never issued", code: "0000-0000-0000-0000", want: mfa.ErrBadCode},
		{name: "too short", code: codes[3][:18], want: mfa.ErrBadCode},
		{name: "not a code", code: "hello", want: mfa.ErrBadCode},
	}
	for _, r := range recovery {
		m, err := f.svc.CheckCode(ctx, "alice", r.code)
		if r.want == nil && (err != nil || m != mfa.RecoveryCode || m.AMR() != "otp") || r.want != nil && !errors.Is(err, r.want) {
			t.Fatalf("recovery code %s: CheckCode = %q, %v; want %v", r.name, m, err, r.want)
		}
	}
	if st := f.status("alice"); st.RecoveryCodes != 7 {
		t.Fatalf("Status after three recovery codes = %+v", st)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, "bob", "123456"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("ConfirmTOTP without enrolling: %v, want ErrNotEnrolled", err)
	}
	want := []audit.Kind{audit.TOTPEnrolled, audit.TOTPConfirmed, audit.RecoveryCodeUsed, audit.RecoveryCodeUsed, audit.RecoveryCodeUsed}
	if !slices.Equal(f.events, want) {
		t.Fatalf("audit events %v, want %v", f.events, want)
	}
}

func TestEnrolAgainReplacesPending(t *testing.T) {
	f := newFixture(t)
	first, err := f.svc.EnrollTOTP(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.EnrollTOTP(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, "alice", f.code(first.Secret, 0)); !errors.Is(err, mfa.ErrBadCode) {
		t.Fatalf("confirming with the replaced secret: %v, want ErrBadCode", err)
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, "alice", f.code(second.Secret, 0)); err != nil {
		t.Fatalf("confirming with the new secret: %v", err)
	}
}

func TestConfirmRefusesRecoveryCodeForm(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.EnrollTOTP(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, "alice", "0000-0000-0000-0000"); !errors.Is(err, mfa.ErrBadCode) {
		t.Fatalf("ConfirmTOTP with a recovery code: %v, want ErrBadCode", err)
	}
}

func TestDisableTOTP(t *testing.T) {
	f := newFixture(t)
	secret, codes := f.enrol("alice")
	if err := f.svc.DisableTOTP(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if st := f.status("alice"); st != (mfa.Status{}) {
		t.Fatalf("Status after disabling = %+v", st)
	}
	for _, c := range []string{f.code(secret, 0), codes[0]} {
		if _, err := f.svc.CheckCode(f.ctx, "alice", c); !errors.Is(err, mfa.ErrNotEnrolled) {
			t.Fatalf("CheckCode(%q) after disabling: %v, want ErrNotEnrolled", c, err)
		}
	}
	if err := f.svc.DisableTOTP(f.ctx, "alice"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("DisableTOTP again: %v, want ErrNotEnrolled", err)
	}
	if _, err := f.svc.RegenerateRecoveryCodes(f.ctx, "alice"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("RegenerateRecoveryCodes after disabling: %v, want ErrNotEnrolled", err)
	}
	secret2, _ := f.enrol("alice")
	if _, err := f.svc.CheckCode(f.ctx, "alice", f.code(secret2, 0)); err != nil {
		t.Fatalf("CheckCode after enrolling again: %v", err)
	}
	if n := strings.Count(kinds(f.events), string(audit.TOTPDisabled)); n != 1 {
		t.Fatalf("%d disable events in %v", n, f.events)
	}
}

func kinds(ks []audit.Kind) string {
	var b strings.Builder
	for _, k := range ks {
		b.WriteString(string(k) + " ")
	}
	return b.String()
}

func TestDisablePendingEnrolment(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.EnrollTOTP(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DisableTOTP(f.ctx, "alice"); err != nil {
		t.Fatalf("DisableTOTP of a pending enrolment: %v", err)
	}
	if _, err := f.svc.CurrentCode(f.ctx, "alice"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("CurrentCode after cancelling: %v, want ErrNotEnrolled", err)
	}
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	_, old := f.enrol("alice")
	fresh, err := f.svc.RegenerateRecoveryCodes(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CheckCode(f.ctx, "alice", old[0]); !errors.Is(err, mfa.ErrBadCode) {
		t.Fatalf("old recovery code: %v, want ErrBadCode", err)
	}
	if m, err := f.svc.CheckCode(f.ctx, "alice", fresh[0]); err != nil || m != mfa.RecoveryCode {
		t.Fatalf("new recovery code: %q, %v", m, err)
	}
	if !strings.Contains(kinds(f.events), string(audit.RecoveryCodesRegenerated)) {
		t.Fatalf("no regenerate event in %v", f.events)
	}
}

func TestRecoveryCodeConcurrentUse(t *testing.T) {
	f := newFixture(t)
	_, codes := f.enrol("alice")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.svc.CheckCode(f.ctx, "alice", codes[0]) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, mfa.ErrBadCode):
			t.Fatalf("CheckCode: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses of one recovery code succeeded, want 1", won, n)
	}
}

func TestTOTPConcurrentUse(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.enrol("alice")
	code := f.code(secret, 0)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.svc.CheckCode(f.ctx, "alice", code) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, mfa.ErrReplayed):
			t.Fatalf("CheckCode: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses of one code succeeded, want 1", won, n)
	}
}

// TestStoredSecretIsSealed reads the store as a dump would.
func TestStoredSecretIsSealed(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.enrol("alice")
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := f.store.Factors(f.ctx, "alice")
	if err != nil || len(fs) != 1 {
		t.Fatalf("Factors = %v, %v", fs, err)
	}
	data := fs[0].Data
	for _, s := range [][]byte{raw, []byte(secret), []byte(strings.ToLower(secret))} {
		if bytes.Contains(data, s) {
			t.Fatalf("stored data %x holds the secret", data)
		}
	}
}

// TestSecretCopiedToAnotherUser plants alice's sealed secret as bob's:
// it does not open, and the failure is not a bad code (the store was
// tampered with: a 503, not a 401).
func TestSecretCopiedToAnotherUser(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.enrol("alice")
	fs, err := f.store.Factors(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	planted := fs[0]
	planted.Confirmed, planted.Counter = false, 0
	if err := f.store.AddFactor(f.ctx, "bob", planted); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UseFactor(f.ctx, "bob", store.TOTP, "totp", 1, t0); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.CheckCode(f.ctx, "bob", f.code(secret, 0))
	if !errors.Is(err, mfa.ErrBadSeal) || errors.Is(err, mfa.ErrBadCode) {
		t.Fatalf("CheckCode with alice's secret as bob's: %v, want ErrBadSeal", err)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	secret, _ := f.enrol("alice")
	rotated := f.service(f.store, f.store, keys(t, key2+","+key1))
	if _, err := rotated.CheckCode(f.ctx, "alice", f.code(secret, 0)); err != nil {
		t.Fatalf("old secret under rotated keys: %v", err)
	}
	if _, err := rotated.EnrollTOTP(f.ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	only2 := f.service(f.store, f.store, keys(t, key2))
	if _, err := only2.CurrentCode(f.ctx, "carol"); err != nil {
		t.Fatalf("new secret sealed with the current key: %v", err)
	}
	if _, err := only2.CheckCode(f.ctx, "alice", f.code(secret, mfa.Period)); !errors.Is(err, mfa.ErrUnknownKey) {
		t.Fatalf("old secret after its key was retired: %v, want ErrUnknownKey", err)
	}
}

func TestUsernames(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.EnrollTOTP(f.ctx, "not a name"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("EnrollTOTP with a bad name: %v, want store.ErrInvalid", err)
	}
	if _, err := f.svc.CheckCode(f.ctx, "not a name", "123456"); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("CheckCode with a bad name: %v, want ErrNotEnrolled", err)
	}
	if st, err := f.svc.Status(f.ctx, "not a name"); err != nil || st != (mfa.Status{}) {
		t.Fatalf("Status with a bad name = %+v, %v", st, err)
	}
}

// failing wraps memstore and fails the named operations like a store
// that cannot be reached.
type failing struct {
	*memstore.Store
	fail      map[string]bool
	beforeUse func()
}

var errDown = errors.New("connection refused")

func (s *failing) Factors(ctx context.Context, u string) ([]store.Factor, error) {
	if s.fail["Factors"] {
		return nil, errDown
	}
	return s.Store.Factors(ctx, u)
}

func (s *failing) UseFactor(ctx context.Context, u string, k store.FactorKind, id string, c uint64, at time.Time) (store.Factor, error) {
	if s.beforeUse != nil {
		s.beforeUse()
	}
	if s.fail["UseFactor"] {
		return store.Factor{}, errDown
	}
	return s.Store.UseFactor(ctx, u, k, id, c, at)
}

func (s *failing) SetRecoveryCodes(ctx context.Context, u string, codes []store.Digest) error {
	if s.fail["SetRecoveryCodes"] {
		return errDown
	}
	return s.Store.SetRecoveryCodes(ctx, u, codes)
}

func (s *failing) UseRecoveryCode(ctx context.Context, u string, code store.Digest) (int, error) {
	if s.fail["UseRecoveryCode"] {
		return 0, errDown
	}
	return s.Store.UseRecoveryCode(ctx, u, code)
}

func withFailing(fl *failing) func(*memstore.Store) (store.FactorStore, store.RecoveryCodeStore) {
	return func(st *memstore.Store) (store.FactorStore, store.RecoveryCodeStore) {
		fl.Store = st
		return fl, fl
	}
}

// TestStoreFailures: an unreachable store is neither a bad code nor an
// absent factor, so the caller can answer 503.
func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name string
		op   string
		code func(secret string, codes []string) string
	}{
		{name: "factors", op: "Factors", code: func(s string, _ []string) string { return "123456" }},
		{name: "use factor", op: "UseFactor", code: func(s string, _ []string) string { return totpCode(t, s) }},
		{name: "use recovery code", op: "UseRecoveryCode", code: func(_ string, c []string) string { return c[0] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl := &failing{fail: map[string]bool{}}
			f := newFixture(t, withFailing(fl))
			secret, codes := f.enrol("alice")
			fl.fail[tt.op] = true
			_, err := f.svc.CheckCode(f.ctx, "alice", tt.code(secret, codes))
			if !errors.Is(err, errDown) || errors.Is(err, mfa.ErrBadCode) || errors.Is(err, mfa.ErrNotEnrolled) {
				t.Fatalf("CheckCode: %v, want the store's error alone", err)
			}
		})
	}
}

func totpCode(t *testing.T, secret string) string {
	c, err := totp.GenerateCode(secret, t0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConfirmRollsBackWithoutRecoveryCodes: when the codes cannot be
// stored, the factor is not left active behind the user's back.
func TestConfirmRollsBackWithoutRecoveryCodes(t *testing.T) {
	fl := &failing{fail: map[string]bool{"SetRecoveryCodes": true}}
	f := newFixture(t, withFailing(fl))
	e, err := f.svc.EnrollTOTP(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmTOTP(f.ctx, "alice", f.code(e.Secret, 0)); !errors.Is(err, errDown) {
		t.Fatalf("ConfirmTOTP: %v, want the store's error", err)
	}
	if fs, _ := f.store.Factors(f.ctx, "alice"); len(fs) != 0 {
		t.Fatalf("factors after a failed confirmation: %+v", fs)
	}
}

// TestFactorReplacedDuringCheck: the factor is disabled and enrolled
// again between CheckCode's read and its use. The old secret's code
// must not confirm the new enrolment.
func TestFactorReplacedDuringCheck(t *testing.T) {
	fl := &failing{fail: map[string]bool{}}
	f := newFixture(t, withFailing(fl))
	secret, _ := f.enrol("alice")
	fl.beforeUse = func() {
		fl.beforeUse = nil
		if err := f.svc.DisableTOTP(f.ctx, "alice"); err != nil {
			t.Error(err)
		}
		if _, err := f.svc.EnrollTOTP(f.ctx, "alice"); err != nil {
			t.Error(err)
		}
	}
	if _, err := f.svc.CheckCode(f.ctx, "alice", f.code(secret, 0)); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("CheckCode across a re-enrolment: %v, want ErrNotEnrolled", err)
	}
	if fs, _ := f.store.Factors(f.ctx, "alice"); len(fs) != 0 {
		t.Fatalf("factors left: %+v", fs)
	}
}

// TestConfirmDoubleSubmit: a confirmation form sent twice at once
// activates the factor once (the other gets ErrReplayed, or ErrEnrolled
// if it read the factor late), and the recovery codes returned are the
// ones stored.
func TestConfirmDoubleSubmit(t *testing.T) {
	f := newFixture(t)
	e, err := f.svc.EnrollTOTP(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	code := f.code(e.Secret, 0)
	var (
		wg    sync.WaitGroup
		codes [2][]string
		errs  [2]error
	)
	for i := range 2 {
		wg.Go(func() { codes[i], errs[i] = f.svc.ConfirmTOTP(f.ctx, "alice", code) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			won = i
		case !errors.Is(err, mfa.ErrReplayed) && !errors.Is(err, mfa.ErrEnrolled):
			t.Fatalf("ConfirmTOTP: %v", err)
		}
	}
	if won < 0 || errs[1-won] == nil {
		t.Fatalf("ConfirmTOTP twice: %v; want one success", errs)
	}
	if m, err := f.svc.CheckCode(f.ctx, "alice", codes[won][0]); err != nil || m != mfa.RecoveryCode {
		t.Fatalf("the winner's recovery code: %q, %v", m, err)
	}
}

// BenchmarkCheckCode is the cost of a login's second factor: one store
// read, opening the sealed secret, three HMAC-SHA1 codes and one store
// write (memstore, so nearly all of it is this package's work).
func BenchmarkCheckCode(b *testing.B) {
	f := newFixture(b)
	e, err := f.svc.EnrollTOTP(f.ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	start := t0.Add(mfa.Period)
	codes := make([]string, b.N)
	for i := range codes {
		if codes[i], err = totp.GenerateCode(e.Secret, start.Add(time.Duration(i)*mfa.Period)); err != nil {
			b.Fatal(err)
		}
	}
	f.clock.Set(t0)
	code, _ := totp.GenerateCode(e.Secret, t0)
	if _, err := f.svc.ConfirmTOTP(f.ctx, "alice", code); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		f.clock.Set(start.Add(time.Duration(i) * mfa.Period))
		if _, err := f.svc.CheckCode(f.ctx, "alice", codes[i]); err != nil {
			b.Fatal(err)
		}
	}
}
