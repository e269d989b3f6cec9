// Package ginauthtest holds test helpers for applications that use
// ginauth.
package ginauthtest

import (
	"context"
	"encoding/json"
	"net/http/httptest"
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

// Response is what [AssertError] checks of an HTTP response: its status
// code and its body.
type Response struct {
	Status int
	Body   []byte
}

// Recorded returns the response w recorded.
func Recorded(w *httptest.ResponseRecorder) Response {
	return Response{Status: w.Code, Body: w.Body.Bytes()}
}

// WantError is the answer a test expects: the status code and, unless
// Code is empty, an authkit error body whose error is Code.
type WantError struct {
	Status int
	Code   string
}

// AssertError fails the test unless got has want's status and, when
// want.Code is not empty, got's body is exactly an authkit error body:
// {"error": want.Code, "message": "<non-empty>"} and nothing else, but
// for mfa_required, whose body may also carry the login's "mfa_ticket",
// "methods" and "expires_in".
func AssertError(t testing.TB, got Response, want WantError) {
	t.Helper()
	if got.Status != want.Status {
		t.Fatalf("status = %d, want %d; body %s", got.Status, want.Status, got.Body)
	}
	if want.Code == "" {
		return
	}
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, got.Body)
	}
	if body["error"] != want.Code {
		t.Fatalf("error = %v, want %q; body %s", body["error"], want.Code, got.Body)
	}
	if want.Code == "mfa_required" {
		for _, k := range []string{"mfa_ticket", "methods", "expires_in"} {
			delete(body, k)
		}
	}
	if msg, _ := body["message"].(string); len(body) != 2 || msg == "" {
		t.Fatalf("error body must be exactly {error, message}: %s", got.Body)
	}
}

// WithPrincipal returns a copy of ctx carrying p, for tests of code below
// the HTTP layer that calls ginauth.PrincipalFromContext. Outside tests a
// principal comes only from authenticating a request.
func WithPrincipal(ctx context.Context, p *ginauth.Principal) context.Context {
	return principalhook.With(ctx, p)
}
