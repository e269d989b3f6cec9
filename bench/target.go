package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
)

// Target is one contender on its own gin engine. Every target serves
//
//	POST /login    {"username","password"} → its credential
//	GET  /me       behind its authentication → {"username"}
//
// and some also GET /admin (authentication and the role admin) and
// POST /refresh.
type Target struct {
	Name   string
	Engine *gin.Engine

	// credential reads the credential from a successful login or refresh.
	credential func(*httptest.ResponseRecorder) (Credential, error)
	// refreshRequest builds a refresh of c; nil when the target has none.
	refreshRequest func(c Credential) *http.Request
	// close releases what the target holds besides the Env.
	close func()
	// warm prepares the target for measuring, after the logins; nil when
	// there is nothing to do.
	warm func(path string, creds []Credential) error
	// issue returns n distinct credentials without logging in; nil when
	// the target cannot.
	issue func(n int) ([]Credential, error)
	// apiKeys creates n API keys; nil when the target has none.
	apiKeys func(n int) ([]Credential, error)
}

// Credential is what a client presents after logging in.
type Credential struct {
	// Header and Value are the request header that carries it:
	// Authorization or Cookie.
	Header, Value string
	// Refresh is the refresh token, when the target issues one.
	Refresh string
}

// ErrNoRefresh is returned by [Target.Refresh] for targets without one.
var ErrNoRefresh = errors.New("bench: this target has no refresh")

// ErrNoIssue is returned by [Target.Issue] for targets that cannot issue
// credentials without a login.
var ErrNoIssue = errors.New("bench: this target cannot issue credentials without a login")

// Serve runs r through the engine and returns the answer.
func (t *Target) Serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	t.Engine.ServeHTTP(w, r)
	return w
}

// LoginRequest is a fresh login request for user name.
func LoginRequest(name string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(LoginJSON(name)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// Get is a fresh GET of path that presents c.
func Get(path string, c Credential) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if c.Header != "" {
		r.Header.Set(c.Header, c.Value)
	}
	return r
}

// Login logs user name in through the engine.
func (t *Target) Login(name string) (Credential, error) {
	if t.credential == nil { // the floor authenticates nobody
		return Credential{}, nil
	}
	return t.read("login", t.Serve(LoginRequest(name)))
}

// Issue returns n distinct live credentials, each the access token a login
// of one of the users (in turn) would answer, from the target's own issuer
// but without the login: no bcrypt and no session in the store. Only
// authkit-stateless can use them, since its requests never consult the
// store; other targets answer [ErrNoIssue]. They are for measuring many
// clients at once, each with its own token, where logging in each one
// would take minutes.
func (t *Target) Issue(n int) ([]Credential, error) {
	if t.issue == nil {
		return nil, fmt.Errorf("%s: %w", t.Name, ErrNoIssue)
	}
	return t.issue(n)
}

// ErrNoAPIKeys is returned by [Target.APIKeys] for targets without them.
var ErrNoAPIKeys = errors.New("bench: this target has no API keys")

// APIKeys creates n API keys, the users' in turn, each with every role of
// its owner, and returns them as credentials: "Authorization: Bearer
// ak_…". Only authkit-apikey ([AuthkitAPIKeys]) has them; other targets
// answer [ErrNoAPIKeys].
func (t *Target) APIKeys(n int) ([]Credential, error) {
	if t.apiKeys == nil {
		return nil, fmt.Errorf("%s: %w", t.Name, ErrNoAPIKeys)
	}
	return t.apiKeys(n)
}

// RefreshRequest is a fresh refresh request for c, or nil when the target
// has no refresh.
func (t *Target) RefreshRequest(c Credential) *http.Request {
	if t.refreshRequest == nil {
		return nil
	}
	return t.refreshRequest(c)
}

// Refresh refreshes c through the engine and returns its successor.
func (t *Target) Refresh(c Credential) (Credential, error) {
	r := t.RefreshRequest(c)
	if r == nil {
		return Credential{}, ErrNoRefresh
	}
	return t.read("refresh", t.Serve(r))
}

// Read reads the credential from w, a successful login or refresh.
func (t *Target) Read(w *httptest.ResponseRecorder) (Credential, error) {
	return t.read("answer", w)
}

func (t *Target) read(what string, w *httptest.ResponseRecorder) (Credential, error) {
	if w.Code != http.StatusOK {
		return Credential{}, fmt.Errorf("%s: %s: status %d: %s", t.Name, what, w.Code, w.Body)
	}
	c, err := t.credential(w)
	if err != nil {
		return Credential{}, fmt.Errorf("%s: %s: %w", t.Name, what, err)
	}
	return c, nil
}

// Warm prepares the target for GETs of path with creds: it fills the
// local session cache of authkit-cached and waits until reads no longer
// reach Redis. Other targets need nothing.
func (t *Target) Warm(path string, creds []Credential) error {
	if t.warm == nil {
		return nil
	}
	return t.warm(path, creds)
}

// Close releases what the target holds.
func (t *Target) Close() {
	if t.close != nil {
		t.close()
	}
}

// tokenPair reads the access and refresh tokens of a JSON answer in one
// decoding, as a client would: the harness's own work, which
// BenchmarkRefreshPaired reports apart, should not grow with each
// member it reads.
func tokenPair(w *httptest.ResponseRecorder) (access, refresh string, err error) {
	var m struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		return "", "", err
	}
	if m.Access == "" || m.Refresh == "" {
		return "", "", fmt.Errorf("no access_token and refresh_token in %s", w.Body)
	}
	return m.Access, m.Refresh, nil
}

// jsonField reads one string member of a JSON object body.
func jsonField(w *httptest.ResponseRecorder, name string) (string, error) {
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		return "", err
	}
	s, _ := m[name].(string)
	if s == "" {
		return "", fmt.Errorf("no %q in %s", name, w.Body)
	}
	return s, nil
}

// me answers who the caller is; every target mounts it behind its
// authentication.
func me(c *gin.Context, username string) {
	c.JSON(http.StatusOK, gin.H{"username": username})
}

// unauthorized is the peers' 401.
func unauthorized(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized"})
}

// Floor is bare gin: the same /me handler without any authentication.
func Floor() *Target {
	r := gin.New()
	r.GET("/me", func(c *gin.Context) { me(c, "floor") })
	return &Target{Name: "floor", Engine: r}
}
