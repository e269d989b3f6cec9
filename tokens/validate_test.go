package tokens

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestClaimRulesMatchValidator holds claimFaults, the claim rules that
// Verify and VerifyReference share, to golang-jwt's Validator with the
// options those rules stand for: on every combination of present, missing,
// early, late and borderline times, and of audience, issuer, subject and
// session, both must find the same faults. (The differential test compares
// parsers; this compares the rules.)
func TestClaimRulesMatchValidator(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	offsets := []time.Duration{
		-time.Hour, -6 * time.Second, -5*time.Second - 1, -5 * time.Second, -4 * time.Second,
		-1, 0, 1, 4 * time.Second, 5 * time.Second, 5*time.Second + 1, 6 * time.Second, time.Hour,
	}
	dates := []*jwt.NumericDate{nil}
	for _, d := range offsets {
		dates = append(dates, &jwt.NumericDate{Time: now.Add(d)}) // exact: NewNumericDate truncates
	}
	valid := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "iss", Subject: "sub", Audience: jwt.ClaimStrings{"aud"},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		},
		SessionID: "sid",
	}
	var cases []Claims
	for _, exp := range dates {
		for _, nbf := range dates {
			for _, iat := range dates {
				c := valid
				c.ExpiresAt, c.NotBefore, c.IssuedAt = exp, nbf, iat
				cases = append(cases, c)
			}
		}
	}
	for _, aud := range []jwt.ClaimStrings{nil, {}, {""}, {"aud"}, {"other"}, {"other", "aud"}, {"", "aud"}, {"AUD"}} {
		for _, iss := range []string{"", "iss", "other", "ISS"} {
			for _, sub := range []string{"", "sub"} {
				for _, sid := range []string{"", "sid"} {
					for _, exp := range []*jwt.NumericDate{valid.ExpiresAt, nil, jwt.NewNumericDate(now.Add(-time.Hour))} {
						c := valid
						c.Audience, c.Issuer, c.Subject, c.SessionID, c.ExpiresAt = aud, iss, sub, sid, exp
						cases = append(cases, c)
					}
				}
			}
		}
	}
	sentinels := []error{
		jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenRequiredClaimMissing, errExpNotAfterIat,
	}
	matches := func(err error) string {
		if err == nil {
			return "none"
		}
		s := ""
		for _, target := range sentinels {
			if errors.Is(err, target) {
				s += "[" + target.Error() + "]"
			}
		}
		return s
	}
	for _, leeway := range []time.Duration{0, DefaultLeeway} {
		v := &Verifier{issuer: "iss", audience: "aud", leeway: leeway}
		validator := jwt.NewValidator(
			jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithIssuer(v.issuer),
			jwt.WithAudience(v.audience), jwt.WithLeeway(leeway), jwt.WithTimeFunc(func() time.Time { return now }),
		)
		for i := range cases {
			c := &cases[i]
			want := validator.Validate(c)
			faults, expired := v.claimFaults(c, now)
			var got error
			if len(faults) > 0 {
				got = faults
			}
			if matches(got) != matches(want) || expired != errors.Is(want, jwt.ErrTokenExpired) {
				t.Fatalf("leeway %v, claims %s:\nrules     %s (expired %v): %v\nValidator %s: %v",
					leeway, dump(c, now), matches(got), expired, got, matches(want), want)
			}
		}
	}
}

// dump shows c's times relative to now.
func dump(c *Claims, now time.Time) string {
	rel := func(d *jwt.NumericDate) string {
		if d == nil {
			return "nil"
		}
		return d.Sub(now).String()
	}
	return fmt.Sprintf("exp=%s nbf=%s iat=%s aud=%q iss=%q sub=%q sid=%q",
		rel(c.ExpiresAt), rel(c.NotBefore), rel(c.IssuedAt), c.Audience, c.Issuer, c.Subject, c.SessionID)
}
