package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/tokens"
)

// The iss and aud claims of the demo's access tokens, and the id of its
// key. A token minted by another service that shares the secret but not
// these is refused.
const (
	tokenIssuer   = "authkit-demo"
	tokenAudience = "authkit-demo-api"
	tokenKeyID    = "demo-hs256"
)

// openRedis returns a client for cfg's Redis and a store on it; the store
// logs what CheckEviction finds to logger.
func openRedis(cfg config, logger *slog.Logger) (redis.UniversalClient, *redisstore.Store, error) {
	client := cfg.redis.newClient()
	st, err := redisstore.New(client, redisstore.Options{Prefix: cfg.RedisPrefix, Logger: logger, WaitReplicas: cfg.WaitReplicas})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("redis store: %w", err)
	}
	return client, st, nil
}

// openMemory returns the in-memory store.
func openMemory() store.Store { return memstore.New(memstore.Options{}) }

// testCost reports whether the configured bcrypt cost is one that only
// tests should use: accounts refuses it unless AllowTestCosts says so, and
// serve logs a warning.
func (c config) testCost() bool { return c.BcryptCost != 0 && c.BcryptCost < accounts.MinBcryptCost }

// newAccounts builds the account service alone, for the CLI: no tokens,
// no HTTP. Its audit events (password changed, user disabled or enabled)
// go to logger, like the server's.
func newAccounts(cfg config, users store.UserStore, logger *slog.Logger) (*accounts.Manager, error) {
	m, err := accounts.New(accounts.Config{
		Users:          users,
		Hasher:         accounts.Bcrypt{Cost: cfg.BcryptCost},
		AllowTestCosts: cfg.testCost(),
		Audit:          audit.Log(logger),
		Logger:         logger,
	})
	if err != nil {
		return nil, withKind(errConfig, "%v", err)
	}
	return m, nil
}

// newAuth builds the kit on st for serve, observed by obs (nil: not
// observed). A nil cfg.secret gets a random
// key: tokens then die with the process, which suits the in-memory store
// (serve refuses it with Redis).
func newAuth(cfg config, st store.Store, logger *slog.Logger, obs observe.Observer) (*ginauth.Auth, error) {
	secret := cfg.secret
	if secret == nil {
		secret = make([]byte, 32)
		rand.Read(secret) // never fails: since Go 1.24 it crashes the program instead
	}
	key := cfg.signingKey
	if key == nil {
		var err error
		if key, err = tokens.NewHMACKey(tokenKeyID, secret); err != nil {
			return nil, withKind(errConfig, "%s: %v", envSecret, err)
		}
	}
	opts := []tokens.Option{tokens.WithIssuer(tokenIssuer), tokens.WithAudience(tokenAudience)}
	if cfg.AccessTTL != 0 {
		opts = append(opts, tokens.WithTTL(cfg.AccessTTL))
	}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		return nil, withKind(errConfig, "%s: %v", envAccessTTL, err)
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		return nil, withKind(errConfig, "token verifier: %v", err)
	}
	users, err := newAccounts(cfg, st, logger)
	if err != nil {
		return nil, err
	}
	auth, err := ginauth.New(ginauth.Config{
		Store:    st,
		Accounts: users,
		Issuer:   issuer,
		Verifier: verifier,
		Realm:    cfg.Realm,
		// Bearer for API clients, Basic for curl and scripts, and the
		// browser session cookie (with CSRF protection) for the page.
		Extractors:   []ginauth.Extractor{ginauth.Bearer(), ginauth.Basic()},
		Cookie:       &ginauth.CookieConfig{AlwaysSecure: cfg.CookieSecure},
		Sessions:     ginauth.SessionConfig{Lifetime: cfg.RefreshTTL},
		StoreTimeout: cfg.StoreTimeout,
		ErrorHandler: quietBasicForScripts,
		Logger:       logger,
		Observer:     obs,
	})
	if err != nil {
		return nil, withKind(errConfig, "%v", err)
	}
	return auth, nil
}

// quietBasicForScripts drops the Basic challenge from 401s answered to the
// page's own fetch calls (marked X-Requested-With: fetch): a browser that
// sees "WWW-Authenticate: Basic" pops up its password dialog, which the
// page does not want. curl and scripts still see both challenges.
func quietBasicForScripts(c *gin.Context, e *ginauth.Error) {
	if c.GetHeader("X-Requested-With") == "" {
		return
	}
	challenges := e.Header.Values("WWW-Authenticate")
	e.Header.Del("WWW-Authenticate")
	for _, ch := range challenges {
		if !strings.HasPrefix(ch, ginauth.SchemeBasic+" ") {
			e.Header.Add("WWW-Authenticate", ch)
		}
	}
}
