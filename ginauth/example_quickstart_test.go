package ginauth_test

import (
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/tokens"
)

// Example_quickStart is the README's quick start: a service with its
// sessions in Redis, login, refresh and logout, and an API guarded by
// rules. It needs a Redis and serves until it fails, so it is compiled
// but not run; [Example] runs the same flow on the in-memory store.
func Example_quickStart() {
	secret := []byte(os.Getenv("AUTHKIT_SECRET")) // at least 32 random bytes, the same on every replica
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"}, // one server, Sentinel or Cluster
		ContextTimeoutEnabled: true,                       // required: else go-redis ignores request deadlines
	})
	st, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	key, err := tokens.NewHMACKey("2026-11", secret)
	if err != nil {
		log.Fatal(err)
	}
	opts := []tokens.Option{tokens.WithIssuer("https://api.example.com"), tokens.WithAudience("api")}
	issuer, err := tokens.NewIssuer(key, opts...)
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := ginauth.New(ginauth.Config{Store: st, Issuer: issuer, Verifier: verifier, Realm: "example"})
	if err != nil {
		log.Fatal(err) // a bad configuration is an error wrapping ginauth.ErrConfig, never a panic
	}

	r := gin.New()
	rt := auth.Router(r) // every route is registered with its rule
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	rt.POST("/auth/refresh", ginauth.Open(), auth.RefreshHandler())
	rt.POST("/auth/logout", ginauth.Open(), auth.LogoutHandler()) // idempotent; authenticates by itself
	api := rt.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(http.StatusOK, gin.H{"username": p.Username, "roles": p.Roles})
	})
	api.GET("/admin/stats", ginauth.AnyRole("admin"), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"sessions": "…"})
	})
	if err := rt.Check(); err != nil {
		log.Fatal(err) // a route registered on gin directly, or a rule that cannot mean what it says
	}
	log.Fatal(r.Run("127.0.0.1:8080"))
}
