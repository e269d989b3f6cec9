package ginauth

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth/internal/principalhook"
	"github.com/gin-authkit/authkit/store"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// Username identifies the user; empty for an OAuth client acting as
	// itself (ClientID).
	Username string
	// ClientID is the OAuth client of a client_credentials access token
	// (RFC 6749 §4.4), which acts as itself: no user, no session. Empty
	// otherwise.
	ClientID string
	// Roles are the user's roles: from the session (session mode), or from
	// the access token (stateless mode), or from the user record (Basic).
	Roles []string
	// Scheme is how the caller authenticated: "Bearer", "Basic" or "Cookie".
	Scheme string
	// SessionID is the session's public handle; zero for Basic.
	SessionID store.Digest
	// TokenID is the access token's jti; empty unless Scheme is "Bearer"
	// and the credential an access token.
	TokenID string
	// KeyID is the public ID of the API key the caller presented (as a
	// Bearer credential, see package apikey); empty otherwise.
	KeyID string
	// ExpiresAt is when the access token expires; zero unless Scheme is
	// "Bearer".
	ExpiresAt time.Time
	// AMR lists how the caller authenticated, as RFC 8176 method
	// references (tokens.AMRPassword "pwd", tokens.AMRMultiFactor "mfa",
	// …): the access token's amr (Bearer; nil for a token without one);
	// ["pwd"] for HTTP Basic and for the session cookie, whose sessions
	// are password logins. Step-up rules ([Rule.WithMFA]) look for "mfa".
	AMR []string
	// AuthTime is when the caller last authenticated actively: the access
	// token's auth_time (Bearer; zero for a token without one, which meets
	// no step-up with a maximum age); the session's creation for the
	// cookie; the request's own time for HTTP Basic, whose password is
	// checked on every request.
	AuthTime time.Time

	// claims are the access token's application claims (tokens.Claims'
	// Extra), read with Claim; nil for every other credential.
	claims map[string]json.RawMessage
}

// Claim returns the application claim name of p's access token (see
// accounts.Config.Claims), decoded from its JSON into a T as
// encoding/json decodes it: false when p has no such claim or its value
// does not decode into a T. A JSON null decodes into T's zero value.
// Tokens carry them in session and stateless mode alike, verified or
// found in the verifier's cache; the session cookie, HTTP Basic and API
// keys have none.
//
//	tenant, ok := ginauth.Claim[string](p, "tenant")
func Claim[T any](p *Principal, name string) (T, bool) {
	var v T
	raw, ok := p.claim(name)
	if !ok {
		return v, false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		var zero T
		return zero, false
	}
	return v, true
}

// claim returns the JSON text of the application claim name.
func (p *Principal) claim(name string) (json.RawMessage, bool) {
	if p == nil {
		return nil, false
	}
	raw, ok := p.claims[name]
	return raw, ok
}

// HasRole reports whether p has role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// LogValue keeps log lines free of credentials.
func (p *Principal) LogValue() slog.Value {
	if p.ClientID != "" {
		return slog.GroupValue(slog.String("client", p.ClientID), slog.String("scheme", p.Scheme))
	}
	return slog.GroupValue(slog.String("user", p.Username), slog.String("scheme", p.Scheme))
}

// principalKey is the context key; a pointer to an unexported type cannot
// collide with any other package's key.
type principalKey struct{}

var keyPrincipal = &principalKey{}

// PrincipalFrom returns the principal of an authenticated request.
func PrincipalFrom(c *gin.Context) (*Principal, bool) {
	if c == nil || c.Request == nil {
		return nil, false
	}
	return PrincipalFromContext(c.Request.Context())
}

// PrincipalFromContext returns the principal stored in ctx, for code below
// the HTTP layer that receives c.Request.Context().
func PrincipalFromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(*Principal)
	return p, ok && p != nil
}

// withPrincipal returns a copy of ctx carrying p. Only ginauthtest reaches
// it (through principalhook): application code cannot forge a caller.
func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return &principalContext{Context: ctx, p: *p}
}

func init() {
	principalhook.With = func(ctx context.Context, p any) context.Context { return withPrincipal(ctx, p.(*Principal)) }
}

// principalContext carries the outcome of checking a request's credential:
// the principal, or the error to answer if a route requires one. It holds
// the principal itself, so that authenticating costs one allocation for
// both rather than a Principal and a context.WithValue.
type principalContext struct {
	context.Context
	p   Principal
	err error
}

// resultKey finds the principalContext of a request.
type resultKey struct{}

var keyResult = &resultKey{}

// resultOf returns what an earlier check of the request recorded, or nil.
func resultOf(c *gin.Context) *principalContext {
	pc, _ := c.Request.Context().Value(keyResult).(*principalContext)
	return pc
}

// Value implements context.Context.
func (c *principalContext) Value(key any) any {
	switch key {
	case keyPrincipal:
		if c.err != nil {
			return nil // anonymous, or a credential that failed
		}
		return &c.p
	case keyResult:
		return c
	}
	return c.Context.Value(key)
}
