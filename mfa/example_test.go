package mfa_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/store/memstore"
)

// Example walks a user through enrolment, confirmation and a login's
// second step, on a fixed clock. The authenticator app is played by
// the TOTP library itself.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// In production: mfa.ParseKeys(os.Getenv("AUTHKIT_MFA_KEYS")).
	keys, err := mfa.ParseKeys("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	if err != nil {
		fmt.Println(err)
		return
	}
	st := memstore.New(memstore.Options{})
	svc, err := mfa.New(mfa.Config{
		Factors: st, Recovery: st, Keys: keys, Issuer: "Example",
		Now:   func() time.Time { return now },
		Audit: func(_ context.Context, e audit.Event) { fmt.Println("audit:", e.Kind, e.Username) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A logged-in user asks to enrol: show e.QR (a PNG) or e.URI.
	e, err := svc.EnrollTOTP(ctx, "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(e.URI, "otpauth://totp/Example:alice?"))

	// The user types the app's first code: the factor becomes active and
	// the recovery codes are shown, once.
	code, _ := totp.GenerateCode(e.Secret, now)
	recovery, err := svc.ConfirmTOTP(ctx, "alice", code)
	fmt.Println(len(recovery), err)

	// At a later login, after the password: the next code.
	now = now.Add(mfa.Period)
	code, _ = totp.GenerateCode(e.Secret, now)
	m, err := svc.CheckCode(ctx, "alice", code)
	fmt.Println(m, m.AMR(), err)

	// The same code again is refused: each time step counts once.
	_, err = svc.CheckCode(ctx, "alice", code)
	fmt.Println(err)

	// A recovery code stands in for a lost phone, once.
	m, err = svc.CheckCode(ctx, "alice", strings.ToUpper(recovery[0]))
	fmt.Println(m, m.AMR(), err)
	fmt.Println(svc.Status(ctx, "alice"))
	// Output:
	// audit: totp_enrolled alice
	// true
	// audit: totp_confirmed alice
	// 10 <nil>
	// totp otp <nil>
	// mfa: check code: mfa: bad code: time step already used
	// audit: recovery_code_used alice
	// recovery_code otp <nil>
	// {true 9} <nil>
}

// ExampleParseKeys reads the sealing keys from an environment
// variable's form; the first key seals, all open. Keys print their ids
// only, and errors never quote key material.
func ExampleParseKeys() {
	k, err := mfa.ParseKeys("k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	fmt.Println(k, err)
	_, err = mfa.ParseKeys("k1:c2hvcnQ=")
	fmt.Println(err)
	// Output:
	// mfa.Keys{Current: "k2", IDs: ["k1" "k2"]} <nil>
	// mfa: invalid config: keys: entry 1 (k1): key is 5 bytes, want 32
}
