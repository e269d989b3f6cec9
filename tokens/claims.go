package tokens

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of an authkit access token.
//
// The registered claims sub (the user), iss, aud, iat, nbf, exp and jti are
// always set by [Issuer.Issue]; SessionID ties the token to a server-side
// session, so that logging out or revoking the session ends the token's use
// even before it expires.
type Claims struct {
	jwt.RegisteredClaims

	// SessionID identifies the session the token belongs to.
	SessionID string `json:"sid"`

	// Roles are the roles of the subject when the token was issued.
	Roles []string `json:"roles,omitempty"`
}

var _ jwt.ClaimsValidator = (*Claims)(nil)

var errExpNotAfterIat = errors.New("exp is not after iat")

// Validate checks the rules that golang-jwt cannot express with options: sub,
// sid and iat must be present and exp must come after iat. golang-jwt calls it
// while parsing, after its own checks of time, issuer and audience; it checks
// neither the signature nor the time, so on its own it proves nothing about a
// token: use [Verifier.Verify].
func (c *Claims) Validate() error {
	switch {
	case c.Subject == "":
		return fmt.Errorf("%w: sub claim is required", jwt.ErrTokenRequiredClaimMissing)
	case c.SessionID == "":
		return fmt.Errorf("%w: sid claim is required", jwt.ErrTokenRequiredClaimMissing)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat claim is required", jwt.ErrTokenRequiredClaimMissing)
	case c.ExpiresAt != nil && !c.ExpiresAt.After(c.IssuedAt.Time):
		// A token that was never valid must not pass as merely expired.
		return errExpNotAfterIat
	}
	return nil
}
