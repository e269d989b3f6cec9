package tokens

import (
	"encoding/json"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Authentication method references (RFC 8176) that authkit writes in the
// "amr" claim. An application may write others; these are the ones the
// kit's own flows use.
const (
	// AMRPassword: a password (or another knowledge-based secret) was
	// checked.
	AMRPassword = "pwd"
	// AMROTP: a one-time password, such as a TOTP code, was checked.
	AMROTP = "otp"
	// AMRHardwareKey: proof of possession of a hardware-bound key, such as
	// a passkey on a security key.
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey: proof of possession of a software-secured key, such
	// as a synced passkey.
	AMRSoftwareKey = "swk"
	// AMRMultiFactor: more than one authentication factor was used. It is
	// the value that step-up rules look for.
	AMRMultiFactor = "mfa"
)

// ACRMultiFactor is the authentication context class reference ("acr",
// OpenID Connect Core §2; RFC 9470's acr_values) that authkit gives a
// token whose authentication used more than one factor. It names
// authkit's own class, not a registered one.
const ACRMultiFactor = "urn:authkit:acr:mfa"

// Claims are the claims of an authkit access token.
//
// The registered claims sub (the user), iss, aud, iat, exp and jti are
// always set by [Issuer.Issue]; nbf is not (it would equal iat), but a
// [Verifier] checks it when a token has it. SessionID ties the token to a
// server-side session, so that logging out or revoking the session ends the
// token's use even before it expires.
//
// AMR, AuthTime and ACR describe the authentication behind the token (RFC
// 9068 §2.2.1, RFC 9470 §4): they are set only by [Issuer.IssueAuthn], and
// a Verifier checks their JSON types (as golang-jwt does) but no rule:
// what they must say is for the caller to decide, as a step-up rule does.
//
// ClientID names the OAuth client of a token issued to a client rather than
// to a user's session (the client_credentials grant); such a token has no
// sid. Extra holds the token's application claims: every top-level member
// whose name is none of [ReservedClaims], as its JSON text, written by
// [Issuer.IssueGrant] from [Grant.Extra].
type Claims struct {
	jwt.RegisteredClaims

	// SessionID identifies the session the token belongs to.
	SessionID string `json:"sid"`

	// Roles are the roles of the subject when the token was issued.
	Roles []string `json:"roles,omitempty"`

	// AMR lists how the subject authenticated (RFC 8176 values such as
	// [AMRPassword] and [AMRMultiFactor]); nil when the token does not
	// say.
	AMR []string `json:"amr,omitempty"`

	// AuthTime is when the subject last authenticated actively (entered a
	// password, used a second factor), not when the token was issued; a
	// refreshed token keeps its login's. Nil when the token does not say.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`

	// ACR is the authentication context class reference, such as
	// [ACRMultiFactor]; empty when the token does not say.
	ACR string `json:"acr,omitempty"`

	// ClientID is the OAuth client the token was issued to (RFC 9068
	// §2.2); empty for a token of a user's session.
	ClientID string `json:"client_id,omitempty"`

	// Extra holds the application claims: each top-level member whose
	// name is not reserved (see [ReservedClaims]), by name, as the JSON
	// text of its value (duplicates: the last one). Nil when the token
	// has none. A Verifier checks only that they are valid JSON; what
	// they say is the application's business.
	Extra map[string]json.RawMessage `json:"-"`
}

// ReservedClaims are the claim names that application claims may not take
// ([Grant.Extra]), nor any name that encoding/json would match to one of
// them case-insensitively (such as "SUB", which golang-jwt would decode
// into Subject): the registered claims of RFC 7519 §4.1 (iss, sub, aud,
// exp, nbf, iat, jti); those of JWT access tokens, RFC 9068 §2.2
// (client_id, auth_time, acr, amr) and §2.2.3.1 (roles, groups,
// entitlements); scope and the delegation claims act and may_act (RFC 8693
// §4); cnf, the confirmation of a proof-of-possession key (RFC 7800, used
// by DPoP and mTLS-bound tokens); typ and azp (OpenID Connect Core §2);
// and sid, which ties a token to its session. A Verifier leaves members of
// these names out of [Claims.Extra]. The slice must not be changed.
var ReservedClaims = slices.Clone(reservedClaims[:])

// reservedClaims is ReservedClaims as the package checks it, out of reach
// of callers that change the exported slice.
var reservedClaims = [...]string{
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "amr", "auth_time", "acr",
	"client_id", "scope", "cnf", "typ", "azp", "groups", "entitlements", "act", "may_act",
}

// isReserved reports whether name is one of reservedClaims, exactly or
// under encoding/json's case-insensitive matching (see foldEqual).
func isReserved(name string) bool {
	for _, r := range reservedClaims {
		if name == r || foldEqual(name, r) {
			return true
		}
	}
	return false
}

// claimsBox holds a Claims together with everything it points to, so that
// one allocation makes a complete, independent copy: the four times, and
// (up to six of them) the strings of Audience, Roles and AMR; Extra, when
// there is one, takes two more (its map and its bytes). The
// verifier's cache keeps one box per token and hands every caller a clone,
// so that no caller can change the claims another one sees.
type claimsBox struct {
	c                       Claims
	exp, nbf, iat, authTime jwt.NumericDate
	inline                  [6]string
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
// strings of from's Audience, Roles and AMR, and keeping nil slices nil.
func (b *claimsBox) link(from *Claims) {
	b.c.ExpiresAt = boxDate(&b.exp, from.ExpiresAt)
	b.c.NotBefore = boxDate(&b.nbf, from.NotBefore)
	b.c.IssuedAt = boxDate(&b.iat, from.IssuedAt)
	b.c.AuthTime = boxDate(&b.authTime, from.AuthTime)
	na, nr, nm := len(from.Audience), len(from.Roles), len(from.AMR)
	strs := b.strings(na + nr + nm)
	copy(strs, from.Audience)
	copy(strs[na:], from.Roles)
	copy(strs[na+nr:], from.AMR)
	b.c.Audience, b.c.Roles, b.c.AMR = nil, nil, nil
	if from.Audience != nil {
		b.c.Audience = strs[:na:na]
	}
	if from.Roles != nil {
		b.c.Roles = strs[na : na+nr : na+nr]
	}
	if from.AMR != nil {
		b.c.AMR = strs[na+nr : na+nr+nm : na+nr+nm]
	}
	b.c.Extra = cloneExtra(from.Extra)
}

// cloneExtra returns a deep copy of extra, values and all, in one map and
// one byte slice; nil for nil.
func cloneExtra(extra map[string]json.RawMessage) map[string]json.RawMessage {
	if extra == nil {
		return nil
	}
	n := 0
	for _, v := range extra {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	out := make(map[string]json.RawMessage, len(extra))
	for k, v := range extra {
		start := len(buf)
		buf = append(buf, v...)
		out[k] = buf[start:len(buf):len(buf)]
	}
	return out
}

// strings returns room for n strings: the box's own when they fit. The
// callers cut it with full slice expressions, so that appending to one
// slice never writes into another's elements.
func (b *claimsBox) strings(n int) []string {
	if n <= len(b.inline) {
		return b.inline[:n:n]
	}
	return make([]string, n)
}

// boxDate copies *from into slot and returns slot, or nil for nil.
func boxDate(slot, from *jwt.NumericDate) *jwt.NumericDate {
	if from == nil {
		return nil
	}
	*slot = *from
	return slot
}
