package ginauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// Example shows the main flow: protect a route group, log in, call the
// API with the access token, and meet 401 and 403.
func Example() {
	key, _ := tokens.NewHMACKey("2026-01", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{})
	// The default policy (bcrypt cost 12) needs no Accounts; a cheap cost
	// keeps the example fast and must never reach production.
	users, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	auth, err := ginauth.New(ginauth.Config{Store: st, Accounts: users, Issuer: issuer, Verifier: verifier})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = auth.Accounts().CreateUser(context.Background(), "bob", "correct horse battery", []string{"user"})

	r := gin.New()
	rt := auth.Router(r)
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	api := rt.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(http.StatusOK, gin.H{"username": p.Username})
	})
	api.GET("/admin", ginauth.AnyRole("admin"), func(c *gin.Context) { c.Status(http.StatusOK) })

	send := func(method, path, body, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}

	w := send("GET", "/api/me", "", "")
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body)

	w = send("POST", "/auth/login", `{"username":"bob","password":"correct horse battery"}`, "")
	var tok ginauth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &tok)
	fmt.Println(w.Code, tok.TokenType, tok.ExpiresIn)

	w = send("GET", "/api/me", "", tok.AccessToken)
	fmt.Println(w.Code, w.Body)

	w = send("GET", "/api/admin", "", tok.AccessToken)
	fmt.Println(w.Code, w.Body)
	// Output:
	// 401 Bearer realm="authkit" {"error":"authentication_required","message":"Authentication required – please log in"}
	// 200 Bearer 900
	// 200 {"username":"bob"}
	// 403 {"error":"forbidden","message":"Access denied – contact your administrator"}
}

// ExampleAuth_Router registers routes with the rule each one needs: the
// router enforces the rule, and lists every route of the engine with it,
// for reviews and docs. A route registered on gin directly is listed as
// unannotated, and Check fails on it.
func ExampleAuth_Router() {
	key, _ := tokens.NewHMACKey("k", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{})
	users, _ := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	auth, _ := ginauth.New(ginauth.Config{Store: st, Accounts: users, Issuer: issuer, Verifier: verifier})

	r := gin.New()
	rt := auth.Router(r)
	rt.GET("/healthz", ginauth.Open(), auth.HealthHandler())
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	// Checked once, never answered: open pages can tell who is signed in.
	site := rt.Group("", ginauth.Open(), auth.Authenticate())
	site.GET("/", ginauth.Open(), func(*gin.Context) {})
	api := site.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), func(*gin.Context) {})
	api.GET("/reports", ginauth.AnyRole("admin", "analyst"), func(*gin.Context) {})
	api.DELETE("/users/:name", ginauth.AllRoles("admin", "security"), func(*gin.Context) {})
	r.GET("/oops", func(*gin.Context) {}) // on gin directly: no rule

	for _, route := range rt.Routes() {
		fmt.Println(route)
	}
	fmt.Println(errors.Is(rt.Check(), ginauth.ErrUnannotatedRoute))
	// Output:
	// GET /  public
	// GET /api/me  authenticated
	// GET /api/reports  roles: admin|analyst
	// DELETE /api/users/:name  roles: admin & security
	// POST /auth/login  public
	// GET /healthz  public
	// GET /oops  UNANNOTATED
	// true
}

// ExampleThrottle shows known clients: after a stranger's failures lock
// an account, a new client with the right password gets 429, while the
// client that logged in before, sending back its device credential, gets
// in.
func ExampleThrottle() {
	key, _ := tokens.NewHMACKey("2026-01", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{})
	users, _ := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	auth, err := ginauth.New(ginauth.Config{
		Store: st, Accounts: users, Issuer: issuer, Verifier: verifier,
		Throttle: ginauth.Throttle{AccountLimit: 6}, // small, for the example
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = auth.Accounts().CreateUser(context.Background(), "bob", "correct horse battery", []string{"user"})
	r := gin.New()
	r.POST("/auth/login", auth.LoginHandler())

	login := func(peer, password, device string) *httptest.ResponseRecorder {
		body := `{"username":"bob","password":"` + password + `"}`
		req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = peer + ":40000"
		if device != "" {
			req.Header.Set(ginauth.DeviceHeader, device)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}

	// Bob logs in from his laptop and keeps the device credential.
	var tok ginauth.TokenResponse
	_ = json.Unmarshal(login("192.0.2.1", "correct horse battery", "").Body.Bytes(), &tok)
	// A stranger fails six times, from three addresses: bob is locked.
	for i := range 6 {
		login(fmt.Sprintf("198.51.100.%d", i/2), "guess", "")
	}
	fmt.Println("new client:", login("192.0.2.2", "correct horse battery", "").Code)
	fmt.Println("bob's laptop:", login("192.0.2.1", "correct horse battery", tok.DeviceToken).Code)
	// Output:
	// new client: 429
	// bob's laptop: 200
}

// ExampleRule_WithMFA requires a second factor on a route, and one used
// within the last five minutes on another, inside a group for admins. A
// password login does not meet either: the answer is 401 with an RFC
// 9470 challenge that tells the client what to come back with.
func ExampleRule_WithMFA() {
	key, _ := tokens.NewHMACKey("k", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{})
	users, _ := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true})
	auth, _ := ginauth.New(ginauth.Config{Store: st, Accounts: users, Issuer: issuer, Verifier: verifier, Realm: "example"})
	_ = users.CreateUser(context.Background(), "alice", "correct horse battery", []string{"admin"})

	r := gin.New()
	rt := auth.Router(r)
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	api := rt.Group("/api", ginauth.SignedIn())
	api.GET("/account/email", ginauth.SignedIn().WithMFA(0), func(*gin.Context) {})
	admin := api.Group("/admin", ginauth.AnyRole("admin"))
	admin.DELETE("/users/:name", ginauth.SignedIn().WithMFA(5*time.Minute), func(*gin.Context) {})
	for _, route := range rt.Routes() {
		fmt.Println(route)
	}

	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(`{"username":"alice","password":"correct horse battery"}`))
	req.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(w, req)
	var login ginauth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &login)

	w = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodDelete, "/api/admin/users/bob", nil)
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body)
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	// Output:
	// GET /api/account/email  authenticated, mfa
	// DELETE /api/admin/users/:name  roles: admin, mfa within 5m0s
	// POST /auth/login  public
	// 401 {"error":"step_up_required","message":"Authentication required – please log in with a second factor"}
	// Bearer realm="example", error="insufficient_user_authentication", error_description="A second factor used within the last 300 seconds is required", acr_values="urn:authkit:acr:mfa", max_age=300
}
