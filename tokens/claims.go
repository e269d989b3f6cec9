package tokens

import "github.com/golang-jwt/jwt/v5"

// Claims are the claims of an authkit access token.
//
// The registered claims sub (the user), iss, aud, iat, exp and jti are
// always set by [Issuer.Issue]; nbf is not (it would equal iat), but a
// [Verifier] checks it when a token has it. SessionID ties the token to a
// server-side session, so that logging out or revoking the session ends the
// token's use even before it expires.
type Claims struct {
	jwt.RegisteredClaims

	// SessionID identifies the session the token belongs to.
	SessionID string `json:"sid"`

	// Roles are the roles of the subject when the token was issued.
	Roles []string `json:"roles,omitempty"`
}

// claimsBox holds a Claims together with everything it points to, so that
// one allocation makes a complete, independent copy: the three times, and
// (up to four of them) the strings of Audience and Roles. The verifier's
// cache keeps one box per token and hands every caller a clone, so that no
// caller can change the claims another one sees.
type claimsBox struct {
	c             Claims
	exp, nbf, iat jwt.NumericDate
	inline        [4]string
}

// clone returns a deep copy of the box's claims (strings are immutable and
// shared).
func (b *claimsBox) clone() *Claims {
	nb := new(claimsBox)
	*nb = *b
	nb.link(&b.c)
	return &nb.c
}

// link points b.c's times and slices at b's own storage, copying the
// strings of from's Audience and Roles, and keeping nil slices nil.
func (b *claimsBox) link(from *Claims) {
	b.c.ExpiresAt = boxDate(&b.exp, from.ExpiresAt)
	b.c.NotBefore = boxDate(&b.nbf, from.NotBefore)
	b.c.IssuedAt = boxDate(&b.iat, from.IssuedAt)
	na, nr := len(from.Audience), len(from.Roles)
	var strs []string
	if na+nr <= len(b.inline) {
		strs = b.inline[: na+nr : na+nr]
	} else {
		strs = make([]string, na+nr)
	}
	copy(strs, from.Audience)
	copy(strs[na:], from.Roles)
	// Full slice expressions, so that appending never writes into the
	// other slice's elements.
	b.c.Audience, b.c.Roles = nil, nil
	if from.Audience != nil {
		b.c.Audience = strs[:na:na]
	}
	if from.Roles != nil {
		b.c.Roles = strs[na : na+nr : na+nr]
	}
}

// boxDate copies *from into slot and returns slot, or nil for nil.
func boxDate(slot, from *jwt.NumericDate) *jwt.NumericDate {
	if from == nil {
		return nil
	}
	*slot = *from
	return slot
}
