package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/ginauth"
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

// openRedis returns a client for cfg's Redis and a store on it.
func openRedis(cfg config) (*redis.Client, *redisstore.Store, error) {
	client := redis.NewClient(cfg.redis)
	st, err := redisstore.New(client, redisstore.Options{Prefix: cfg.RedisPrefix})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("redis store: %w", err)
	}
	return client, st, nil
}

// openMemory returns the in-memory store.
func openMemory() store.Store { return memstore.New(memstore.Options{}) }

// newAuth builds the kit on st. A nil cfg.secret gets a random key: tokens
// then die with the process, which suits the in-memory store and the CLI
// (which issues no tokens).
func newAuth(cfg config, st store.Store, logger *slog.Logger) (*ginauth.Auth, error) {
	secret := cfg.secret
	if secret == nil {
		secret = make([]byte, 32)
		rand.Read(secret) // never fails: since Go 1.24 it crashes the program instead
	}
	key, err := tokens.NewHMACKey(tokenKeyID, secret)
	if err != nil {
		return nil, withKind(errConfig, "%s: %v", envSecret, err)
	}
	opts := []tokens.Option{tokens.WithIssuer(tokenIssuer), tokens.WithAudience(tokenAudience), tokens.WithTTL(cfg.AccessTTL)}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		return nil, withKind(errConfig, "%s: %v", envAccessTTL, err)
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		return nil, withKind(errConfig, "token verifier: %v", err)
	}
	auth, err := ginauth.New(ginauth.Config{
		Store:    st,
		Issuer:   issuer,
		Verifier: verifier,
		Realm:    cfg.Realm,
		// Bearer for API clients, Basic for curl and scripts, and the
		// browser session cookie (with CSRF protection) for the page.
		Extractors:         []ginauth.Extractor{ginauth.Bearer(), ginauth.Basic(), ginauth.Cookie(ginauth.CookieConfig{})},
		SessionLifetime:    cfg.RefreshTTL,
		SessionIdleTimeout: cfg.IdleTimeout(),
		BcryptCost:         cfg.BcryptCost,
		ErrorHandler:       quietBasicForScripts,
		Logger:             logger,
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
