package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/telemetry/authprom"
	"github.com/gin-authkit/authkit/tokens"
)

// Mode chooses how an authkit target checks requests.
type Mode int

const (
	// Session checks the session in Redis on every request (the default
	// of ginauth.Config).
	Session Mode = iota
	// Stateless trusts the access token alone (Config.Stateless).
	Stateless
	// Cached is session mode on a store with the local session cache.
	Cached
	// Metrics is session mode observed by telemetry/authprom (on a
	// registry of its own): the cost of the metrics when they are on.
	Metrics
)

func (m Mode) String() string {
	switch m {
	case Stateless:
		return "authkit-stateless"
	case Cached:
		return "authkit-cached"
	case Metrics:
		return "authkit-session-metrics"
	default:
		return "authkit-session"
	}
}

// Keys chooses the signing key of an authkit target and its Verifier's
// cache. The zero value is the HS256 key of [Env.Secret] and the default
// cache.
type Keys struct {
	// Alg is "HS256" (the default), "EdDSA" (a key whose seed is
	// Env.Secret) or "RS256" (a 2048-bit key, made once per process). A
	// target of another algorithm than HS256 is named after it:
	// authkit-stateless-rs256.
	Alg string
	// NoCache turns the Verifier's cache off (tokens.WithCacheSize(0)),
	// so that every request verifies its token in full.
	NoCache bool
}

// rsaKey is the RS256 targets' key: generating one takes about a
// second, so they share it.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// key returns the signing key that k chooses.
func (k Keys) key(e *Env) (*tokens.Key, error) {
	switch k.Alg {
	case "", "HS256":
		return tokens.NewHMACKey("bench", e.Secret)
	case "EdDSA":
		return tokens.NewEd25519Key("bench", ed25519.NewKeyFromSeed(e.Secret))
	case "RS256":
		priv, err := rsaKey()
		if err != nil {
			return nil, err
		}
		return tokens.NewRSAKey("bench", priv)
	}
	return nil, fmt.Errorf("bench: unknown algorithm %q", k.Alg)
}

// name returns the target name of mode with k's suffix.
func (k Keys) name(mode Mode) string {
	n := mode.String()
	if k.NoCache {
		n += "-nocache"
	}
	if k.Alg != "" && k.Alg != "HS256" {
		n += "-" + strings.ToLower(k.Alg)
	}
	return n
}

// Authkit is ginauth with HS256 tokens on a redisstore, with the routes of
// the Quick start: Required on /me, and RequireRoles("admin") on /admin
// inside the same group. Every setting but the bcrypt cost is the
// default; the logger discards. [Cached] uses the store's local session
// cache on a client of its own; call [Target.Warm] before measuring it.
func Authkit(e *Env, mode Mode) (*Target, error) { return AuthkitKeys(e, mode, Keys{}) }

// AuthkitKeys is [Authkit] with the signing key and Verifier cache of k.
func AuthkitKeys(e *Env, mode Mode, k Keys) (*Target, error) {
	var (
		st      store.Store
		err     error
		sent    *atomic.Int64 // commands the cached store sent
		release = func() {}
	)
	prefix := e.Prefix + "ak-" + randomHex(4) + ":" // each target its own users
	if mode == Cached {
		st, sent, release, err = cachedStore(e, prefix)
	} else {
		st, err = redisstore.New(e.Redis, redisstore.Options{Prefix: prefix})
	}
	if err != nil {
		return nil, err
	}
	t, err := authkitTarget(e, mode, k, st, false)
	if err != nil {
		release()
		return nil, err
	}
	t.close = release
	if sent != nil {
		t.warm = func(path string, creds []Credential) error { return warmCache(t, path, creds, sent) }
	}
	return t, nil
}

// AuthkitAPIKeys is authkit-session whose accounts also have API keys
// (package apikey, on the same redisstore as the users): /me and /admin
// take a session's access token or an API key as the Bearer credential,
// so that one target serves both kinds of request. [Target.APIKeys]
// creates the keys.
func AuthkitAPIKeys(e *Env) (*Target, error) {
	st, err := redisstore.New(e.Redis, redisstore.Options{Prefix: e.Prefix + "ak-" + randomHex(4) + ":"})
	if err != nil {
		return nil, err
	}
	return authkitTarget(e, Session, Keys{}, st, true)
}

// authkitTarget builds the kit and its engine on st, with API keys on st
// when withKeys.
func authkitTarget(e *Env, mode Mode, k Keys, st store.Store, withKeys bool) (*Target, error) {
	key, err := k.key(e)
	if err != nil {
		return nil, err
	}
	opts := []tokens.Option{tokens.WithIssuer("bench-authkit"), tokens.WithAudience("bench-api")}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		return nil, err
	}
	vopts := opts
	if k.NoCache {
		vopts = append(opts[:len(opts):len(opts)], tokens.WithCacheSize(0))
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, vopts...)
	if err != nil {
		return nil, err
	}
	var keys *apikey.Keys
	if withKeys {
		keyStore, ok := st.(store.APIKeyStore)
		if !ok {
			return nil, fmt.Errorf("authkit: the store keeps no API keys")
		}
		if keys, err = apikey.New(apikey.Config{Store: keyStore, Users: st}); err != nil {
			return nil, err
		}
	}
	users, err := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: BcryptCost}, AllowTestCosts: true, APIKeys: keys})
	if err != nil {
		return nil, err
	}
	var obs observe.Observer
	if mode == Metrics {
		if obs, err = authprom.New(prometheus.NewRegistry()); err != nil {
			return nil, err
		}
	}
	auth, err := ginauth.New(ginauth.Config{
		Store: st, Accounts: users, Issuer: issuer, Verifier: verifier, Realm: "bench",
		Stateless: mode == Stateless,
		Logger:    slog.New(slog.DiscardHandler),
		Observer:  obs,
	})
	if err != nil {
		return nil, err
	}
	for i := range Users {
		name := UserName(i)
		if err := auth.Accounts().CreateUser(context.Background(), name, Password(name), UserRoles); err != nil {
			return nil, fmt.Errorf("authkit: creating %s: %w", name, err)
		}
	}

	r := gin.New()
	r.POST("/login", auth.LoginHandler())
	r.POST("/refresh", auth.RefreshHandler())
	api := r.Group("", auth.Required())
	api.GET("/me", authkitMe)
	api.GET("/admin", auth.RequireRoles("admin"), authkitMe)
	t := &Target{
		Name:   k.name(mode),
		Engine: r,
		credential: func(w *httptest.ResponseRecorder) (Credential, error) {
			access, refresh, err := tokenPair(w)
			return Credential{Header: "Authorization", Value: "Bearer " + access, Refresh: refresh}, err
		},
		refreshRequest: func(c Credential) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/refresh",
				strings.NewReader(`{"refresh_token":`+strconv.Quote(c.Refresh)+`}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
	}
	if mode == Stateless {
		t.issue = func(n int) ([]Credential, error) { return issueAccess(issuer, n) }
	}
	if keys != nil {
		t.Name = "authkit-apikey"
		t.apiKeys = func(n int) ([]Credential, error) { return createKeys(keys, n) }
	}
	return t, nil
}

// createKeys creates n API keys with every role of their owner, the
// users in turn, as POST /auth/apikeys or demo apikey create would.
func createKeys(keys *apikey.Keys, n int) ([]Credential, error) {
	creds := make([]Credential, n)
	for i := range creds {
		raw, _, err := keys.Create(context.Background(), UserName(i%Users), apikey.Spec{Name: "bench", Roles: UserRoles})
		if err != nil {
			return nil, err
		}
		creds[i] = Credential{Header: "Authorization", Value: "Bearer " + raw}
	}
	return creds, nil
}

// issueAccess signs n access tokens as ginauth's password login does,
// the users in turn, each for a session of its own: IssueAuthn(username,
// sid claim, roles, amr ["pwd"] and auth_time now), where the sid claim is the base64url (no padding) of the
// session's 32-byte id. The ids are random and name no stored session,
// which stateless requests never look up. TestIssue holds the tokens to
// a login's.
func issueAccess(issuer *tokens.Issuer, n int) ([]Credential, error) {
	creds := make([]Credential, n)
	sid := make([]byte, 32)
	for i := range creds {
		rand.Read(sid) // never fails: since Go 1.24 it crashes the program instead
		access, _, err := issuer.IssueAuthn(UserName(i), base64.RawURLEncoding.EncodeToString(sid), UserRoles,
			tokens.Authn{AMR: []string{tokens.AMRPassword}, Time: time.Now()})
		if err != nil {
			return nil, err
		}
		creds[i] = Credential{Header: "Authorization", Value: "Bearer " + access}
	}
	return creds, nil
}

func authkitMe(c *gin.Context) {
	p, _ := ginauth.PrincipalFrom(c)
	me(c, p.Username)
}
