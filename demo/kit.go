package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/passkey"
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

// newAccounts builds the account service with its second factors (TOTP
// and passkeys, on the factor store of st) and its API keys (on st, whose
// users own them), for serve and for the CLI:
// no tokens, no HTTP. issuer provides the keys derived from the token
// signing key: the TOTP secrets' sealing key when AUTHKIT_MFA_KEYS is
// unset, and the passkeys' user-handle key. Its audit events (password
// changed, user disabled or enabled, factors) go to logger, like the
// server's.
func newAccounts(cfg config, st store.Store, issuer *tokens.Issuer, logger *slog.Logger) (*accounts.Manager, error) {
	factors, ok := st.(store.FactorBackend)
	challenges, ok2 := st.(store.ChallengeStore)
	if !ok || !ok2 {
		return nil, withKind(errConfig, "the store keeps no second factors")
	}
	keys := cfg.mfaKeys
	if keys.Current == "" {
		keys = mfa.Keys{Current: "derived", ByID: map[string][]byte{"derived": issuer.DeriveSecret("authkit demo totp secrets")}}
	}
	totp, err := mfa.New(mfa.Config{Factors: factors, Recovery: factors, Keys: keys, Issuer: tokenIssuer, Audit: audit.Log(logger)})
	if err != nil {
		return nil, withKind(errConfig, "%s: %v", envMFAKeys, err)
	}
	passkeys, err := passkey.New(passkey.Config{
		RPID: cfg.PasskeyRPID, RPDisplayName: "authkit demo", Origins: cfg.PasskeyOrigins,
		Factors: factors, Challenges: challenges,
		UserHandleKey: issuer.DeriveSecret("authkit demo passkey user handles"),
	})
	if err != nil {
		return nil, withKind(errConfig, "%s, %s: %v", envPasskeyRPID, envPasskeyOrig, err)
	}
	keyStore, ok := st.(store.APIKeyStore)
	if !ok {
		return nil, withKind(errConfig, "the store keeps no API keys")
	}
	apiKeys, err := apikey.New(apikey.Config{Store: keyStore, Users: st})
	if err != nil {
		return nil, withKind(errConfig, "%v", err)
	}
	m, err := accounts.New(accounts.Config{
		Users:          st,
		Hasher:         accounts.Bcrypt{Cost: cfg.BcryptCost},
		AllowTestCosts: cfg.testCost(),
		Audit:          audit.Log(logger),
		Logger:         logger,
		TOTP:           totp,
		Passkeys:       passkeys,
		APIKeys:        apiKeys,
	})
	if err != nil {
		return nil, withKind(errConfig, "%v", err)
	}
	return m, nil
}

// signingKey returns the key tokens are signed with: cfg's, or for the
// in-memory store without one a random HMAC key (tokens then die with
// the process; serve refuses it with Redis).
func signingKey(cfg config) (*tokens.Key, error) {
	if cfg.signingKey != nil {
		return cfg.signingKey, nil
	}
	secret := cfg.secret
	if secret == nil {
		secret = make([]byte, 32)
		rand.Read(secret) // never fails: since Go 1.24 it crashes the program instead
	}
	key, err := tokens.NewHMACKey(tokenKeyID, secret)
	if err != nil {
		return nil, withKind(errConfig, "%s: %v", envSecret, err)
	}
	return key, nil
}

// newIssuer returns the issuer and verifier of the demo's tokens on key.
func newIssuer(cfg config, key *tokens.Key) (*tokens.Issuer, *tokens.Verifier, error) {
	opts := []tokens.Option{tokens.WithIssuer(tokenIssuer), tokens.WithAudience(tokenAudience)}
	if cfg.AccessTTL != 0 {
		opts = append(opts, tokens.WithTTL(cfg.AccessTTL))
	}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		return nil, nil, withKind(errConfig, "%s: %v", envAccessTTL, err)
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		return nil, nil, withKind(errConfig, "token verifier: %v", err)
	}
	return issuer, verifier, nil
}

// newAuth builds the kit on st for serve, observed by obs (nil: not
// observed).
func newAuth(cfg config, st store.Store, logger *slog.Logger, obs observe.Observer) (*ginauth.Auth, error) {
	key, err := signingKey(cfg)
	if err != nil {
		return nil, err
	}
	issuer, verifier, err := newIssuer(cfg, key)
	if err != nil {
		return nil, err
	}
	users, err := newAccounts(cfg, st, issuer, logger)
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
