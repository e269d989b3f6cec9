package ginauth

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// This file holds step-up authentication (RFC 9470): what a principal
// says of how it authenticated, the second-factor requirement of a
// [Rule] ([Rule.WithMFA]), its check, and the parameters of its
// challenge.

// passwordAMR is the amr of a password login, of HTTP Basic and of the
// session cookie. It is shared: the Issuer copies it, and principals are
// read-only.
var passwordAMR = []string{tokens.AMRPassword}

// authnOf is what a token issued for a user who authenticated with amr
// at t says of it: amr, auth_time, and acr ACRMultiFactor when amr
// includes "mfa", so that a client that asked for that class (the
// challenge's acr_values) finds it in the token.
func authnOf(amr []string, t time.Time) tokens.Authn {
	a := tokens.Authn{AMR: amr, Time: t}
	if slices.Contains(amr, tokens.AMRMultiFactor) {
		a.ACR = tokens.ACRMultiFactor
	}
	return a
}

// sessionAuthn is how the user of session s authenticated when nothing
// the client presents says it: a session cookie set before cookies
// carried an authentication context. The store does not keep the amr (the
// refresh token and the cookie carry it), so this is a password login at
// the session's creation. A store that reports no CreatedAt gives no
// auth_time, so no step-up with a maximum age is met.
func sessionAuthn(s store.Session) tokens.Authn {
	return authnOf(passwordAMR, s.CreatedAt)
}

// authTimeOf returns the auth_time of claims, zero when absent.
func authTimeOf(c *tokens.Claims) time.Time {
	if c.AuthTime == nil {
		return time.Time{}
	}
	return c.AuthTime.Time
}

// stepUp is the second-factor requirement of a rule.
type stepUp struct {
	mfa bool // amr must include "mfa"
	// maxAge, when not zero, is how long ago auth_time may lie; negative
	// is a mistake, which nobody meets.
	maxAge time.Duration
}

// and returns the requirement of both s and t: a second factor if either
// needs one, within the shorter of their maximum ages.
func (s stepUp) and(t stepUp) stepUp {
	out := stepUp{mfa: s.mfa || t.mfa, maxAge: s.maxAge}
	if t.maxAge != 0 && (out.maxAge == 0 || t.maxAge < out.maxAge) {
		out.maxAge = t.maxAge
	}
	return out
}

// adds reports whether s asks more than over, which already holds.
func (s stepUp) adds(over stepUp) bool {
	return s.mfa && !over.mfa || s.maxAge != 0 && (over.maxAge == 0 || s.maxAge < over.maxAge)
}

// metBy reports whether p meets s at now. An auth_time in the future
// (clocks apart) counts as now.
func (s stepUp) metBy(p *Principal, now time.Time) bool {
	switch {
	case !s.mfa:
		return true
	case !slices.Contains(p.AMR, tokens.AMRMultiFactor), s.maxAge < 0:
		return false
	case s.maxAge > 0:
		return !p.AuthTime.IsZero() && now.Sub(p.AuthTime) <= s.maxAge
	}
	return true
}

// errStepUp is the refusal of a principal who does not meet a step-up
// requirement; it carries what the challenge asks for.
type errStepUp struct{ maxAge time.Duration }

func (e *errStepUp) Error() string {
	if e.maxAge > 0 {
		return fmt.Sprintf("ginauth: a second factor used within %v is required", e.maxAge)
	}
	return "ginauth: a second factor is required"
}

func (e *errStepUp) Is(target error) bool { return target == ErrStepUpRequired }

// stepUpParams returns the parameters that follow error= in the Bearer
// challenge of a step-up refusal (RFC 9470 §3): error_description,
// acr_values, and max_age in whole seconds when there is a maximum age.
func stepUpParams(err error) string {
	var su *errStepUp
	if !errors.As(err, &su) || su.maxAge <= 0 {
		return `, error_description="A second factor is required", acr_values="` + tokens.ACRMultiFactor + `"`
	}
	secs := strconv.Itoa(max(1, int(math.Ceil(su.maxAge.Seconds()))))
	return `, error_description="A second factor used within the last ` + secs + ` seconds is required", acr_values="` +
		tokens.ACRMultiFactor + `", max_age=` + secs
}

// RequireMFA lets the request through when the principal's amr includes
// "mfa" and, when maxAge is not zero, its auth_time lies at most maxAge
// back; otherwise it answers 401 step_up_required (see the package
// documentation). It authenticates first when no earlier middleware did.
// A [Router] puts it in front of routes whose rule has [Rule.WithMFA].
func (a *Auth) RequireMFA(maxAge time.Duration) gin.HandlerFunc {
	return a.require(SignedIn().WithMFA(maxAge), nil)
}
