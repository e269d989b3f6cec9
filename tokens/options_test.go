package tokens_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/tokens"
)

func TestConstructorConfig(t *testing.T) {
	k := newTestKeys(t)
	pub, err := tokens.NewECDSAPublicKey("ec-pub", &k.ecPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := tokens.NewHMACKey("hs-1", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	iss, aud := tokens.WithIssuer(testIssuer), tokens.WithAudience(testAudience)

	tests := []struct {
		name string
		key  *tokens.Key   // for NewIssuer
		keys []*tokens.Key // for NewVerifier
		opts []tokens.Option
		// wantIssuer and wantVerifier are the errors of each constructor.
		wantIssuer, wantVerifier error
	}{
		{name: "minimal", opts: []tokens.Option{iss, aud}},
		{name: "all options", opts: []tokens.Option{iss, aud, tokens.WithTTL(time.Hour), tokens.WithLeeway(0), tokens.WithClock(time.Now)}},
		{name: "largest leeway", opts: []tokens.Option{iss, aud, tokens.WithLeeway(tokens.MaxLeeway)}},
		{name: "later option wins", opts: []tokens.Option{tokens.WithIssuer("a"), iss, aud}},
		{name: "no issuer", opts: []tokens.Option{aud}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "no audience", opts: []tokens.Option{iss}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "no options", wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "empty issuer", opts: []tokens.Option{tokens.WithIssuer(""), aud}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "empty audience", opts: []tokens.Option{iss, tokens.WithAudience("")}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "zero TTL", opts: []tokens.Option{iss, aud, tokens.WithTTL(0)}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "negative TTL", opts: []tokens.Option{iss, aud, tokens.WithTTL(-time.Minute)}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "sub-second TTL", opts: []tokens.Option{iss, aud, tokens.WithTTL(500 * time.Millisecond)}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "negative leeway", opts: []tokens.Option{iss, aud, tokens.WithLeeway(-time.Second)}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "leeway too large", opts: []tokens.Option{iss, aud, tokens.WithLeeway(tokens.MaxLeeway + time.Second)}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "nil clock", opts: []tokens.Option{iss, aud, tokens.WithClock(nil)}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "nil option", opts: []tokens.Option{iss, aud, nil}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "verify-only key", key: pub, keys: []*tokens.Key{pub}, opts: []tokens.Option{iss, aud}, wantIssuer: tokens.ErrConfig},
		{name: "zero key", key: &tokens.Key{}, keys: []*tokens.Key{{}}, opts: []tokens.Option{iss, aud}, wantIssuer: tokens.ErrConfig, wantVerifier: tokens.ErrConfig},
		{name: "nil keys", keys: []*tokens.Key{nil}, opts: []tokens.Option{iss, aud}, wantVerifier: tokens.ErrConfig},
		{name: "no keys", keys: []*tokens.Key{}, opts: []tokens.Option{iss, aud}, wantVerifier: tokens.ErrConfig},
		{name: "duplicate kid", keys: []*tokens.Key{k.hs, k.ed, dup}, opts: []tokens.Option{iss, aud}, wantVerifier: tokens.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, keys := tc.key, tc.keys
			if key == nil {
				key = k.hs
			}
			if keys == nil {
				keys = k.all()
			}
			i, err := tokens.NewIssuer(key, tc.opts...)
			if !errors.Is(err, tc.wantIssuer) || (err == nil) != (i != nil) {
				t.Errorf("NewIssuer: (%v, %v), want error %v", i, err, tc.wantIssuer)
			}
			v, err := tokens.NewVerifier(keys, tc.opts...)
			if !errors.Is(err, tc.wantVerifier) || (err == nil) != (v != nil) {
				t.Errorf("NewVerifier: (%v, %v), want error %v", v, err, tc.wantVerifier)
			}
		})
	}
	if _, err := tokens.NewIssuer(nil, iss, aud); !errors.Is(err, tokens.ErrConfig) {
		t.Errorf("NewIssuer(nil): %v, want ErrConfig", err)
	}
	if _, err := tokens.NewVerifier(nil, iss, aud); !errors.Is(err, tokens.ErrConfig) {
		t.Errorf("NewVerifier(nil): %v, want ErrConfig", err)
	}
}

func TestDefaultTTL(t *testing.T) {
	k := newTestKeys(t)
	if got := mustIssuer(t, k.hs).TTL(); got != 15*time.Minute {
		t.Errorf("default TTL = %v, want 15m", got)
	}
}

// TestLeeway checks that WithLeeway moves the boundary of expiry.
func TestLeeway(t *testing.T) {
	k := newTestKeys(t)
	iss := mustIssuer(t, k.hs, tokens.WithTTL(time.Minute))
	tok := mustIssue(t, iss)
	tests := []struct {
		name   string
		leeway time.Duration
		after  time.Duration // time since issuing
		want   error
	}{
		{name: "default, just before expiry", leeway: tokens.DefaultLeeway, after: time.Minute - time.Second},
		{name: "default, 4s after expiry", leeway: tokens.DefaultLeeway, after: time.Minute + 4*time.Second},
		{name: "default, 5s after expiry", leeway: tokens.DefaultLeeway, after: time.Minute + 5*time.Second, want: tokens.ErrExpired},
		{name: "none, at expiry", leeway: 0, after: time.Minute, want: tokens.ErrExpired},
		{name: "none, 1ns before expiry", leeway: 0, after: time.Minute - 1},
		{name: "1m, 59s after expiry", leeway: time.Minute, after: time.Minute + 59*time.Second},
		{name: "none, 1s before issuing", leeway: 0, after: -time.Second, want: tokens.ErrClaims},
		{name: "default, 4s before issuing", leeway: tokens.DefaultLeeway, after: -4 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, []*tokens.Key{k.hs}, tokens.WithLeeway(tc.leeway), tokens.WithClock(clockAt(testNow.Add(tc.after))))
			claims, err := v.Verify(tok)
			checkVerifyResult(t, claims, err, tc.want)
		})
	}
}

// TestZeroValues checks that an Issuer or Verifier not made by its
// constructor fails closed instead of panicking.
func TestZeroValues(t *testing.T) {
	var v tokens.Verifier
	claims, err := v.Verify("a.b.c")
	if claims != nil || !errors.Is(err, tokens.ErrInvalidToken) || !errors.Is(err, tokens.ErrConfig) {
		t.Errorf("zero Verifier: (%v, %v)", claims, err)
	}
	var i tokens.Issuer
	if tok, _, err := i.Issue("u", "s", nil); tok != "" || !errors.Is(err, tokens.ErrConfig) {
		t.Errorf("zero Issuer: (%q, %v)", tok, err)
	}
}
