package ginauth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/tokens"
)

// stepUpEngine mounts login and refresh, and routes with step-up rules,
// on k's Auth in place of the demo's routes.
func stepUpEngine(k *kit) *ginauth.Router {
	r := gin.New()
	rt := k.auth.Router(r)
	rt.POST("/auth/login", ginauth.Open(), k.auth.LoginHandler())
	rt.POST("/auth/refresh", ginauth.Open(), k.auth.RefreshHandler())
	ok := func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(200, gin.H{"amr": p.AMR, "auth_time": p.AuthTime.Unix()})
	}
	rt.GET("/whoami", ginauth.SignedIn(), ok)
	rt.GET("/mfa", ginauth.SignedIn().WithMFA(0), ok)
	rt.GET("/fresh", ginauth.SignedIn().WithMFA(5*time.Minute), ok)
	rt.GET("/admin-mfa", ginauth.AnyRole("admin").WithMFA(0), ok)
	// The group needs a role, its route a recent second factor.
	g := rt.Group("/g", ginauth.AnyRole("admin"))
	g.GET("/fresh", ginauth.SignedIn().WithMFA(time.Minute), ok)
	// The group needs a second factor within 10 minutes, its route one
	// within 2: the shorter holds.
	m := rt.Group("/m", ginauth.SignedIn().WithMFA(10*time.Minute))
	m.GET("/any", ginauth.SignedIn(), ok)
	m.GET("/short", ginauth.SignedIn().WithMFA(2*time.Minute), ok)
	k.engine = r
	return rt
}

// reissue logs user in and returns an access token of the login's
// session whose amr and auth_time are authn's, signed with the kit's key
// (as a login with a second factor will issue).
func (k *kit) reissue(user, pw string, authn tokens.Authn) string {
	k.t.Helper()
	tr := k.login(user, pw)
	key, err := tokens.NewHMACKey("k1", []byte(testSecret))
	if err != nil {
		k.t.Fatal(err)
	}
	opts := []tokens.Option{tokens.WithIssuer("authkit-test"), tokens.WithAudience("api"), tokens.WithClock(k.clock.Now)}
	ver, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		k.t.Fatal(err)
	}
	c, err := ver.Verify(tr.AccessToken)
	if err != nil {
		k.t.Fatal(err)
	}
	iss, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		k.t.Fatal(err)
	}
	tok, _, err := iss.IssueAuthn(c.Subject, c.SessionID, c.Roles, authn)
	if err != nil {
		k.t.Fatal(err)
	}
	return tok
}

var mfaAMR = []string{tokens.AMRPassword, tokens.AMROTP, tokens.AMRMultiFactor}

// stepUpChallenge is the Bearer challenge of a step-up refusal in the
// kit's realm, with max_age when maxAge is set.
func stepUpChallenge(maxAge int) string {
	ch := `Bearer realm="test-realm", error="insufficient_user_authentication", `
	if maxAge == 0 {
		return ch + `error_description="A second factor is required", acr_values="urn:authkit:acr:mfa"`
	}
	s := strconv.Itoa(maxAge)
	return ch + `error_description="A second factor used within the last ` + s + ` seconds is required", acr_values="urn:authkit:acr:mfa", max_age=` + s
}

// decodeJWTPayload returns the claims of a token as JSON values.
func decodeJWTPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const basicChallenge = `Basic realm="test-realm", charset="UTF-8"`

// TestStepUp runs each case of the step-up contract over HTTP, in
// session and in stateless mode: 401 step_up_required with the RFC 9470
// challenge (and the Basic one) for a missing or stale second factor,
// 403 for a missing role once step-up is met, and 401 when both lack.
func TestStepUp(t *testing.T) {
	for _, mode := range []struct {
		name      string
		stateless bool
	}{{"session", false}, {"stateless", true}} {
		t.Run(mode.name, func(t *testing.T) {
			k := newKit(t, func(c *kitConfig) { c.Stateless = mode.stateless })
			stepUpEngine(k)
			now := k.clock.Now()
			aliceMFA := k.reissue("alice", alicePW, tokens.Authn{AMR: mfaAMR, Time: now})
			aliceOld := k.reissue("alice", alicePW, tokens.Authn{AMR: mfaAMR, Time: now.Add(-6 * time.Minute)})
			aliceNoTime := k.reissue("alice", alicePW, tokens.Authn{AMR: mfaAMR})
			aliceNoAMR := k.reissue("alice", alicePW, tokens.Authn{})
			aliceOTPOnly := k.reissue("alice", alicePW, tokens.Authn{AMR: []string{tokens.AMROTP}, Time: now})
			alicePwd := k.login("alice", alicePW).AccessToken
			bobMFA := k.reissue("bob", bobPW, tokens.Authn{AMR: mfaAMR, Time: now})
			bobPwd := k.login("bob", bobPW).AccessToken
			basic := []string{"Authorization", "Basic " + b64std("alice:"+alicePW)}

			tests := []struct {
				name    string
				path    string
				headers []string
				status  int
				code    string
				maxAge  int // of the challenge; -1: none expected
			}{
				{name: "no credentials", path: "/mfa", status: 401, code: "authentication_required", maxAge: -1},
				{name: "token without amr", path: "/mfa", headers: bearer(aliceNoAMR), status: 401, code: "step_up_required"},
				{name: "password login", path: "/mfa", headers: bearer(alicePwd), status: 401, code: "step_up_required"},
				{name: "amr without mfa", path: "/mfa", headers: bearer(aliceOTPOnly), status: 401, code: "step_up_required"},
				{name: "mfa", path: "/mfa", headers: bearer(aliceMFA), status: 200},
				{name: "mfa without auth_time, no max age", path: "/mfa", headers: bearer(aliceNoTime), status: 200},
				{name: "mfa fresh", path: "/fresh", headers: bearer(aliceMFA), status: 200},
				{name: "mfa too old", path: "/fresh", headers: bearer(aliceOld), status: 401, code: "step_up_required", maxAge: 300},
				{name: "mfa without auth_time, max age", path: "/fresh", headers: bearer(aliceNoTime), status: 401, code: "step_up_required", maxAge: 300},
				{name: "password login, max age", path: "/fresh", headers: bearer(alicePwd), status: 401, code: "step_up_required", maxAge: 300},
				{name: "mfa and role", path: "/admin-mfa", headers: bearer(aliceMFA), status: 200},
				{name: "mfa, missing role", path: "/admin-mfa", headers: bearer(bobMFA), status: 403, code: "forbidden", maxAge: -1},
				{name: "neither mfa nor role", path: "/admin-mfa", headers: bearer(bobPwd), status: 401, code: "step_up_required"},
				{name: "group role, route mfa: both met", path: "/g/fresh", headers: bearer(aliceMFA), status: 200},
				{name: "group role, route mfa: mfa too old", path: "/g/fresh", headers: bearer(aliceOld), status: 401, code: "step_up_required", maxAge: 60},
				{name: "group role, route mfa: role missing", path: "/g/fresh", headers: bearer(bobMFA), status: 403, code: "forbidden", maxAge: -1},
				{name: "group role, route mfa: neither", path: "/g/fresh", headers: bearer(bobPwd), status: 401, code: "step_up_required", maxAge: 60},
				{name: "group mfa: met", path: "/m/any", headers: bearer(bobMFA), status: 200},
				{name: "group mfa: too old", path: "/m/any", headers: bearer(aliceOld), status: 200},
				{name: "group and route max ages: shorter", path: "/m/short", headers: bearer(aliceOld), status: 401, code: "step_up_required", maxAge: 120},
				{name: "group mfa: password", path: "/m/any", headers: bearer(bobPwd), status: 401, code: "step_up_required", maxAge: 600},
				{name: "basic", path: "/mfa", headers: basic, status: 401, code: "step_up_required"},
				{name: "basic, max age", path: "/fresh", headers: basic, status: 401, code: "step_up_required", maxAge: 300},
				{name: "basic, signed in", path: "/whoami", headers: basic, status: 200},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r := k.do("GET", tc.path, nil, tc.headers...)
					if tc.status == 200 {
						if r.Code != 200 {
							t.Fatalf("status %d %s, want 200", r.Code, r.Body)
						}
						return
					}
					expect(t, r, tc.status, tc.code)
					if tc.maxAge < 0 {
						return
					}
					got := r.Header().Values("WWW-Authenticate")
					want := []string{stepUpChallenge(tc.maxAge), basicChallenge}
					if !slices.Equal(got, want) {
						t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, want)
					}
					if want := "Authentication required – please log in with a second factor"; r.str("message") != want {
						t.Errorf("message %q, want %q", r.str("message"), want)
					}
				})
			}
		})
	}
}

// TestStepUpMaxAgeClock moves the injected clock past a route's maximum
// age: a second factor fresh at first goes stale, and the route answers
// 401 with max_age while a route without a maximum age still lets it in.
func TestStepUpMaxAgeClock(t *testing.T) {
	k := newKit(t)
	stepUpEngine(k)
	tok := k.reissue("alice", alicePW, tokens.Authn{AMR: mfaAMR, Time: k.clock.Now()})
	steps := []struct {
		advance time.Duration
		path    string
		status  int
	}{
		{0, "/fresh", 200},
		{5 * time.Minute, "/fresh", 200}, // exactly the maximum age
		{time.Second, "/fresh", 401},
		{0, "/mfa", 200},
		{0, "/g/fresh", 401},
	}
	for i, s := range steps {
		k.clock.Advance(s.advance)
		r := k.do("GET", s.path, nil, bearer(tok)...)
		if r.Code != s.status {
			t.Fatalf("step %d (%s after %v): status %d %s, want %d", i, s.path, s.advance, r.Code, r.Body, s.status)
		}
		if s.status == 401 && !strings.Contains(r.Header().Get("WWW-Authenticate"), "max_age=") {
			t.Errorf("step %d: challenge %q without max_age", i, r.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestPrincipalAuthentication checks what the principal says of how the
// caller authenticated: a password login's token and a refreshed one
// carry amr ["pwd"] and the login's time (the session's creation); HTTP
// Basic is ["pwd"] at the request's time; the session cookie is ["pwd"]
// at the session's creation.
func TestPrincipalAuthentication(t *testing.T) {
	forEachKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t)
		stepUpEngine(k)
		loginAt := k.clock.Now()
		tr := k.login("alice", alicePW)
		k.clock.Advance(2 * time.Minute)
		r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tr.RefreshToken})
		if r.Code != 200 {
			t.Fatalf("refresh: %d %s", r.Code, r.Body)
		}
		refreshed := r.str("access_token")
		k.clock.Advance(time.Minute)
		for _, tc := range []struct {
			name    string
			headers []string
			at      time.Time
		}{
			{"login token", bearer(tr.AccessToken), loginAt},
			{"refreshed token", bearer(refreshed), loginAt},
			{"basic", []string{"Authorization", "Basic " + b64std("alice:"+alicePW)}, k.clock.Now()},
		} {
			r := k.do("GET", "/whoami", nil, tc.headers...)
			if r.Code != 200 {
				t.Fatalf("%s: %d %s", tc.name, r.Code, r.Body)
			}
			amr, _ := r.body["amr"].([]any)
			if len(amr) != 1 || amr[0] != "pwd" {
				t.Errorf("%s: amr %v, want [pwd]", tc.name, r.body["amr"])
			}
			if got, _ := r.body["auth_time"].(float64); int64(got) != tc.at.Unix() {
				t.Errorf("%s: auth_time %v, want %d", tc.name, r.body["auth_time"], tc.at.Unix())
			}
		}
		// The refreshed token says so on the wire too, with no acr.
		payload := decodeJWTPayload(t, refreshed)
		if payload["auth_time"] != float64(loginAt.Unix()) || payload["acr"] != nil {
			t.Errorf("refreshed token's claims: %v", payload)
		}
	})
}

// TestStepUpRoutes checks the listing of step-up rules, and that Check
// reports the ones that cannot mean what they say.
func TestStepUpRoutes(t *testing.T) {
	k := newMemKit(t)
	rt := stepUpEngine(k)
	var got []string
	for _, r := range rt.Routes() {
		got = append(got, r.String())
	}
	want := []string{
		"GET /admin-mfa  roles: admin, mfa",
		"POST /auth/login  public",
		"POST /auth/refresh  public",
		"GET /fresh  authenticated, mfa within 5m0s",
		"GET /g/fresh  roles: admin, mfa within 1m0s",
		"GET /m/any  authenticated, mfa within 10m0s",
		"GET /m/short  authenticated, mfa within 2m0s",
		"GET /mfa  authenticated, mfa",
		"GET /whoami  authenticated",
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes\n got %q\nwant %q", got, want)
	}
	if err := rt.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	for _, r := range rt.Routes() {
		if r.Path == "/g/fresh" && (!r.MFA || r.MFAMaxAge != time.Minute || len(r.AllOf) != 1) {
			t.Errorf("route %+v", r)
		}
	}

	rt.GET("/open-mfa", ginauth.Open().WithMFA(0), func(*gin.Context) {})
	rt.GET("/negative", ginauth.SignedIn().WithMFA(-time.Second), func(*gin.Context) {})
	err := rt.Check()
	if !errors.Is(err, ginauth.ErrUnannotatedRoute) ||
		!strings.Contains(err.Error(), "GET /open-mfa  MISCONFIGURED: step-up on an open rule (it is not open)") ||
		!strings.Contains(err.Error(), "GET /negative  MISCONFIGURED: negative step-up max age (nobody meets it)") {
		t.Errorf("Check: %v", err)
	}
	// Neither is open; nobody meets a negative maximum age.
	tok := k.reissue("alice", alicePW, tokens.Authn{AMR: mfaAMR, Time: k.clock.Now()})
	for _, c := range []struct {
		path    string
		headers []string
		status  int
	}{
		{"/open-mfa", nil, 401}, {"/open-mfa", bearer(tok), 200},
		{"/negative", nil, 401}, {"/negative", bearer(tok), 401},
	} {
		if r := k.do("GET", c.path, nil, c.headers...); r.Code != c.status {
			t.Errorf("%s %v: %d, want %d", c.path, c.headers != nil, r.Code, c.status)
		}
	}
}

// TestRequireMFAMiddleware checks Auth.RequireMFA on a plain gin route.
func TestRequireMFAMiddleware(t *testing.T) {
	k := newMemKit(t)
	stepUpEngine(k)
	tok := k.reissue("alice", alicePW, tokens.Authn{AMR: mfaAMR, Time: k.clock.Now().Add(-time.Hour)})
	r := gin.New()
	r.GET("/x", k.auth.RequireMFA(time.Minute), func(c *gin.Context) { c.Status(204) })
	r.GET("/y", k.auth.RequireMFA(0), func(c *gin.Context) { c.Status(204) })
	k.engine = r
	expect(t, k.do("GET", "/x", nil, bearer(tok)...), 401, "step_up_required")
	if got := k.do("GET", "/y", nil, bearer(tok)...); got.Code != 204 {
		t.Errorf("/y: %d %s", got.Code, got.Body)
	}
}
