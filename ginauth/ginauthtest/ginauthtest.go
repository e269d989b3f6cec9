// Package ginauthtest holds test helpers for applications that use
// ginauth.
package ginauthtest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/internal/principalhook"
)

// AssertRoutesAnnotated fails the test when a route of rt's engine was
// registered without the router (directly on gin) or with a rule that
// cannot mean what it says (see ginauth.Router.Check), so that no route
// is unprotected by accident.
func AssertRoutesAnnotated(t testing.TB, rt *ginauth.Router) {
	t.Helper()
	if err := rt.Check(); err != nil {
		t.Error(err)
	}
}

// AssertError fails the test unless status is wantStatus and, when
// wantCode is not empty, body is exactly an authkit error body:
// {"error": wantCode, "message": "<non-empty>"} and nothing else.
func AssertError(t testing.TB, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status = %d, want %d; body %s", status, wantStatus, body)
	}
	if wantCode == "" {
		return
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	if got["error"] != wantCode {
		t.Fatalf("error = %v, want %q; body %s", got["error"], wantCode, body)
	}
	if msg, _ := got["message"].(string); len(got) != 2 || msg == "" {
		t.Fatalf("error body must be exactly {error, message}: %s", body)
	}
}

// WithPrincipal returns a copy of ctx carrying p, for tests of code below
// the HTTP layer that calls ginauth.PrincipalFromContext. Outside tests a
// principal comes only from authenticating a request.
func WithPrincipal(ctx context.Context, p *ginauth.Principal) context.Context {
	return principalhook.With(ctx, p)
}
