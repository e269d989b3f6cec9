package ginauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
	"github.com/gin-authkit/authkit/internal/testpg"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/passkey"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/sqlstore"
	"github.com/gin-authkit/authkit/tokens"
)

func init() { gin.SetMode(gin.TestMode) }

const (
	testRealm  = "test-realm"
	testSecret = "0123456789abcdef0123456789abcdef-test-only"
	alicePW    = "alice-password-1"
	bobPW      = "bob-password-12"
)

// clock is a settable clock shared by tokens, store and Auth.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counter is a go-redis hook counting round trips (a pipeline is one).
type counter struct{ n atomic.Int64 }

func (*counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

type kit struct {
	t      testing.TB
	clock  *clock
	auth   *ginauth.Auth
	engine *gin.Engine
	router *ginauth.Router // the engine's routes, with their rules
	rdb    redis.UniversalClient
	trips  *counter
	prefix string
	// users is where the kit's users live: the store, or with
	// newSplitKit a store of its own.
	users store.UserStore
	// totp is the accounts' second factor, with kitConfig.totp.
	totp *mfa.Service
	// keys are the accounts' API keys, with kitConfig.apiKeys.
	keys *apikey.Keys
}

// kitConfig is what a kit option may change: the Auth's config, and the
// hasher of the accounts.Manager the kit builds unless Accounts is set.
type kitConfig struct {
	*ginauth.Config
	hasher accounts.Hasher
	// users is the Manager's source of users: the store, or with
	// newSplitKit a store of its own (which k.users keeps).
	users store.UserSource
	// totp gives the accounts a TOTP second factor (mfa.Service) on the
	// factor store of the users' store.
	totp bool
	// passkeys gives the accounts passkeys (RP example.com) on the same.
	passkeys bool
	// apiKeys gives the accounts API keys, kept in the session store.
	apiKeys bool
	// claims is the accounts' hook of application claims.
	claims func(context.Context, store.User) (map[string]any, error)
}

// kitMaker builds a kit; the tests of the status contract run on each.
type kitMaker = func(testing.TB, ...func(*kitConfig)) *kit

// forEachKit runs test on the Redis kit and on the split kit, whose
// users live apart from the sessions.
func forEachKit(t *testing.T, test func(t *testing.T, newK kitMaker)) {
	for _, m := range []struct {
		name string
		newK kitMaker
	}{{"redis", newKit}, {"split", newSplitKit}} {
		t.Run(m.name, func(t *testing.T) { test(t, m.newK) })
	}
}

// newKit builds an Auth on the test Redis with alice (admin, user) and bob
// (user), and an engine with the routes of the demo. Options may change
// the config before New.
func newKit(t testing.TB, opts ...func(*kitConfig)) *kit {
	t.Helper()
	rdb, prefix := testredis.New(t)
	return newKitOn(t, rdb, prefix, opts...)
}

func newKitOn(t testing.TB, rdb redis.UniversalClient, prefix string, opts ...func(*kitConfig)) *kit {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	trips := &counter{}
	rdb.AddHook(trips)
	st, err := newRedisStore(rdb, prefix, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	k := newKitWith(t, st, nil, clk, opts...)
	k.rdb, k.trips, k.prefix = rdb, trips, prefix
	return k
}

// newSplitKit is newKit with the users in a memstore of their own (a
// stand-in for an application's user table) and the sessions in the
// test Redis, configured for external users.
func newSplitKit(t testing.TB, opts ...func(*kitConfig)) *kit {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	rdb, prefix := testredis.New(t)
	trips := &counter{}
	rdb.AddHook(trips)
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now, ExternalUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	k := newKitWith(t, st, memstore.New(memstore.Options{Now: clk.Now}), clk, opts...)
	k.rdb, k.trips, k.prefix = rdb, trips, prefix
	return k
}

// newPGKit is newSplitKit with the users (and their second factors) in
// PostgreSQL (store/sqlstore, a schema of its own), the sessions in the
// test Redis.
func newPGKit(t testing.TB, opts ...func(*kitConfig)) *kit {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	db := testpg.New(t)
	if err := sqlstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	users, err := sqlstore.New(db, sqlstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testredis.New(t)
	trips := &counter{}
	rdb.AddHook(trips)
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: clk.Now, ExternalUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	k := newKitWith(t, st, users, clk, opts...)
	k.rdb, k.trips, k.prefix = rdb, trips, prefix
	return k
}

// forEachFactorKit runs test on the kits of forEachKit and on the
// PostgreSQL kit: the second factors live with the users.
func forEachFactorKit(t *testing.T, test func(t *testing.T, newK kitMaker)) {
	forEachKit(t, test)
	t.Run("postgres", func(t *testing.T) { test(t, newPGKit) })
}

// newMemKit is newKit on the in-memory store.
func newMemKit(t testing.TB, opts ...func(*kitConfig)) *kit {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newKitWith(t, memstore.New(memstore.Options{Now: clk.Now}), nil, clk, opts...)
}

// newKitWith builds the kit's Auth on st, with the users in users (nil:
// in st), creates alice and bob, and mounts the demo's routes.
func newKitWith(t testing.TB, st store.SessionBackend, users store.UserStore, clk *clock, opts ...func(*kitConfig)) *kit {
	t.Helper()
	k := &kit{t: t, clock: clk, users: users}
	key, err := tokens.NewHMACKey("k1", []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	common := []tokens.Option{tokens.WithIssuer("authkit-test"), tokens.WithAudience("api"), tokens.WithClock(k.clock.Now)}
	iss, err := tokens.NewIssuer(key, common...)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := tokens.NewVerifier([]*tokens.Key{key}, common...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kitConfig{Config: &ginauth.Config{
		Store: st, Issuer: iss, Verifier: ver, Realm: testRealm, Now: k.clock.Now,
		// Tests are about verdicts: a store slowed down by a busy machine
		// must not turn one into a 503. The tests of deadlines set theirs.
		StoreTimeout: 2 * time.Second,
		Logger:       slog.New(slog.DiscardHandler),
		Audit:        audited.record,
		Extractors:   []ginauth.Extractor{ginauth.Bearer(), ginauth.Basic()},
		Cookie:       &ginauth.CookieConfig{},
	}, hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}}
	acfg := accounts.Config{AllowTestCosts: true, StoreTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	if users != nil {
		cfg.users, acfg.Sessions = users, st
	} else {
		k.users = st.(store.UserStore)
		cfg.users = k.users
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.totp {
		fs, ok := cfg.users.(store.FactorBackend)
		if !ok {
			t.Fatalf("the kit's users (%T) keep no factors", cfg.users)
		}
		keys, err := mfa.ParseKeys("k1:" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
		if err != nil {
			t.Fatal(err)
		}
		k.totp, err = mfa.New(mfa.Config{Factors: fs, Recovery: fs, Keys: keys, Now: clk.Now, Audit: cfg.Audit})
		if err != nil {
			t.Fatal(err)
		}
		acfg.TOTP = k.totp
	}
	if cfg.passkeys {
		acfg.Passkeys, err = passkey.New(passkey.Config{
			RPID: "example.com", Origins: []string{"https://example.com"},
			Factors: cfg.users.(store.FactorStore), Challenges: st.(store.ChallengeStore),
			UserHandleKey: []byte("passkey user handles of the kit 0"), Now: clk.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if cfg.apiKeys {
		k.keys, err = apikey.New(apikey.Config{Store: st.(store.APIKeyStore), Users: cfg.users, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		acfg.APIKeys = k.keys
	}
	if cfg.Accounts == nil {
		acfg.Users, acfg.Hasher, acfg.Audit, acfg.Claims = cfg.users, cfg.hasher, cfg.Audit, cfg.claims
		if cfg.Accounts, err = accounts.New(acfg); err != nil {
			t.Fatal(err)
		}
	}
	k.auth, err = ginauth.New(*cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k.auth.Accounts().CreateUser(ctx, "alice", alicePW, []string{"admin", "user"}); err != nil {
		t.Fatal(err)
	}
	if err := k.auth.Accounts().CreateUser(ctx, "bob", bobPW, []string{"user"}); err != nil {
		t.Fatal(err)
	}
	k.engine, k.router = demoEngine(k.auth)
	return k
}

// demoEngine mounts the routes the demo serves, through the router.
func demoEngine(auth *ginauth.Auth) (*gin.Engine, *ginauth.Router) {
	r := gin.New()
	rt := auth.Router(r)
	rt.GET("/healthz", ginauth.Open(), auth.HealthHandler())
	a := rt.Group("/auth", ginauth.Open())
	a.POST("/login", ginauth.Open(), auth.LoginHandler())
	a.POST("/refresh", ginauth.Open(), auth.RefreshHandler())
	auth.MountTOTP(a)                                       // mfa, totp/enroll, totp/confirm, totp/disable
	auth.MountPasskeys(a)                                   // passkeys/...
	auth.MountAPIKeys(a)                                    // apikeys/...
	a.POST("/logout", ginauth.Open(), auth.LogoutHandler()) // authenticates by itself
	a.POST("/logout-all", ginauth.SignedIn(), auth.LogoutAllHandler())
	rt.POST("/oauth/token", ginauth.Open(), auth.TokenHandler())
	rt.POST("/oauth/revoke", ginauth.Open(), auth.RevokeHandler())
	// Checked once, never answered: a public page that knows who is
	// logged in, and an API whose rules read what it found.
	known := rt.Group("", ginauth.Open(), auth.Authenticate())
	known.GET("/whoami", ginauth.Open(), func(c *gin.Context) {
		if p, ok := ginauth.PrincipalFrom(c); ok {
			c.JSON(200, gin.H{"username": p.Username})
			return
		}
		c.JSON(200, gin.H{"username": nil})
	})
	api := known.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(200, gin.H{"username": p.Username, "roles": p.Roles})
	})
	api.POST("/me", ginauth.SignedIn(), func(c *gin.Context) { c.Status(204) })
	api.GET("/admin/stats", ginauth.AnyRole("admin"), func(c *gin.Context) { c.JSON(200, gin.H{"ok": true}) })
	api.GET("/reports", ginauth.AnyRole("admin", "analyst"), func(c *gin.Context) { c.JSON(200, gin.H{"ok": true}) })
	api.GET("/both", ginauth.AllRoles("admin", "user"), func(c *gin.Context) { c.JSON(200, gin.H{"ok": true}) })
	api.GET("/step-up", ginauth.SignedIn().WithMFA(5*time.Minute), func(c *gin.Context) { c.JSON(200, gin.H{"ok": true}) })
	return r, rt
}

type resp struct {
	*httptest.ResponseRecorder
	body map[string]any
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

// do sends a request with a JSON body (a string is sent as it is);
// headers are name, value pairs.
func (k *kit) do(method, path string, body any, headers ...string) resp {
	k.t.Helper()
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, _ := json.Marshal(b)
		raw = string(j)
	}
	return k.doCT(method, path, raw, "application/json", headers...)
}

func (k *kit) doCT(method, path, body, contentType string, headers ...string) resp {
	k.t.Helper()
	return k.doHost("example.com", method, path, body, append([]string{"Content-Type", contentType}, headers...)...)
}

// doHost sends a request to host; headers are name, value pairs.
func (k *kit) doHost(host, method, path, body string, headers ...string) resp {
	k.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == remoteAddr {
			req.RemoteAddr = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	k.engine.ServeHTTP(w, req)
	r := resp{ResponseRecorder: w, body: map[string]any{}}
	_ = json.Unmarshal(w.Body.Bytes(), &r.body)
	audited.secretsOf(req, body, r)
	return r
}

// remoteAddr, given as a header name to doHost, sets the request's peer
// address instead (what gin's ClientIP reports without trusted proxies).
const remoteAddr = "(remote address)"

// from returns the header pair that makes a request come from ip.
func from(ip string) []string { return []string{remoteAddr, net.JoinHostPort(ip, "40000")} }

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// login logs in and returns the token pair.
func (k *kit) login(user, pw string) ginauth.TokenResponse {
	k.t.Helper()
	r := k.do("POST", "/auth/login", map[string]string{"username": user, "password": pw})
	if r.Code != 200 {
		k.t.Fatalf("login %s: %d %s", user, r.Code, r.Body)
	}
	var tr ginauth.TokenResponse
	if err := json.Unmarshal(r.Body.Bytes(), &tr); err != nil {
		k.t.Fatal(err)
	}
	return tr
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// expect checks status, error code and, for errors, the body's shape.
func expect(t testing.TB, r resp, status int, code string) {
	t.Helper()
	ginauthtest.AssertError(t, ginauthtest.Recorded(r.ResponseRecorder), ginauthtest.WantError{Status: status, Code: code})
}

func newRedisStore(rdb redis.UniversalClient, prefix string, now func() time.Time) (*redisstore.Store, error) {
	return redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: now})
}
