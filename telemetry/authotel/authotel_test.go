package authotel_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/internal/testserver"
	"github.com/gin-authkit/authkit/telemetry/authotel"
)

// traced returns a service traced into an in-memory exporter, behind a
// middleware that starts a server span for each request, as an
// application's HTTP instrumentation would.
func traced(t *testing.T) (*tracetest.InMemoryExporter, *gin.Engine) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	server := func(c *gin.Context) {
		ctx, span := tp.Tracer("test").Start(c.Request.Context(), "request", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
	_, r := testserver.New(t, authotel.New(tp), server)
	return exp, r
}

func post(t *testing.T, r http.Handler, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// TestLoginSpans: one login yields the login span, a child of the
// request's span, with the password steps and store calls as its
// children, and its outcome as attributes.
func TestLoginSpans(t *testing.T) {
	exp, r := traced(t)
	w := post(t, r, "/auth/login", `{"username":"alice","password":"`+testserver.AlicePassword+`"}`)
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	request, login := byName["request"], byName["authkit.login"]
	if login.Name == "" || login.Parent.SpanID() != request.SpanContext.SpanID() {
		t.Fatalf("no authkit.login span under the request's: %v", names(spans))
	}
	for _, name := range []string{"authkit.password_wait", "authkit.password_hash", "authkit.store.BeginAttempt",
		"authkit.store.EndAttempt", "authkit.store.CreateSession"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no %s span in %v", name, names(spans))
			continue
		}
		if s.Parent.SpanID() != login.SpanContext.SpanID() {
			t.Errorf("%s is not a child of authkit.login", name)
		}
	}
	if got := attr(login, "authkit.status"); got != "200" {
		t.Errorf("login status attribute = %q, want 200", got)
	}
	if got := attr(login, "authkit.outcome"); got != "ok" {
		t.Errorf("login outcome attribute = %q, want ok", got)
	}
	if got := attr(byName["authkit.store.CreateSession"], "db.operation.name"); got != "CreateSession" {
		t.Errorf("store span operation = %q", got)
	}
	if !slices.ContainsFunc(login.Events, func(e sdktrace.Event) bool { return e.Name == "authkit.login_succeeded" }) {
		t.Errorf("login span events = %v, want authkit.login_succeeded", login.Events)
	}
}

// TestSpansHoldNoSecret: across a login, an authenticated request, a
// refresh, a refused refresh and a logout, no span attribute or event
// attribute holds a password, a token, a cookie or a username, and each
// request operation has its span with its outcome.
func TestSpansHoldNoSecret(t *testing.T) {
	exp, r := traced(t)
	w := post(t, r, "/auth/login", `{"username":"alice","password":"`+testserver.AlicePassword+`"}`)
	var tok ginauth.TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	secrets := []string{testserver.AlicePassword, tok.AccessToken, tok.RefreshToken, tok.DeviceToken, "alice"}
	cookieLogin := post(t, r, "/auth/login", `{"username":"alice","password":"`+testserver.AlicePassword+`","cookie":true}`)
	for _, c := range cookieLogin.Result().Cookies() {
		secrets = append(secrets, c.Value)
	}
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	r.ServeHTTP(httptest.NewRecorder(), req)
	w = post(t, r, "/auth/refresh", `{"refresh_token":"`+tok.RefreshToken+`"}`)
	var next ginauth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &next)
	secrets = append(secrets, next.AccessToken, next.RefreshToken)
	post(t, r, "/auth/login", `{"username":"alice","password":"wrong-password"}`)
	post(t, r, "/auth/logout", "", "Authorization", "Bearer "+next.AccessToken)

	spans := exp.GetSpans()
	for _, want := range []string{"authkit.login", "authkit.authenticate", "authkit.refresh", "authkit.logout"} {
		if !slices.ContainsFunc(spans, func(s tracetest.SpanStub) bool { return s.Name == want }) {
			t.Errorf("no %s span in %v", want, names(spans))
		}
	}
	for _, s := range spans {
		values := []string{s.Name}
		for _, a := range s.Attributes {
			values = append(values, a.Value.Emit())
		}
		for _, e := range s.Events {
			values = append(values, e.Name)
			for _, a := range e.Attributes {
				values = append(values, a.Value.Emit())
			}
		}
		for _, v := range values {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(v, secret) {
					t.Errorf("span %s holds %q", s.Name, v)
				}
			}
		}
	}
	var failed bool
	for _, s := range spans {
		if s.Name == "authkit.login" && attr(s, "authkit.code") == "invalid_credentials" && attr(s, "authkit.status") == "401" {
			failed = true
		}
	}
	if !failed {
		t.Error("no authkit.login span with status 401 and code invalid_credentials")
	}
}

func names(spans tracetest.SpanStubs) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name)
	}
	return n
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}
