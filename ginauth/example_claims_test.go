package ginauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// ExampleClaim puts a tenant id and an e-mail address in every access
// token (accounts.Config.Claims), and reads them in a handler without a
// lookup.
func ExampleClaim() {
	key, _ := tokens.NewHMACKey("2026-01", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{})
	users, err := accounts.New(accounts.Config{
		Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true,
		// Called at every access-token issue for a user: login and refresh.
		Claims: func(ctx context.Context, u store.User) (map[string]any, error) {
			return map[string]any{"tenant": "acme", "email": u.Username + "@example.com"}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	auth, err := ginauth.New(ginauth.Config{Store: st, Accounts: users, Issuer: issuer, Verifier: verifier})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = auth.Accounts().CreateUser(context.Background(), "alice", "correct horse battery", []string{"user"})

	r := gin.New()
	rt := auth.Router(r)
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	api := rt.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		tenant, _ := ginauth.Claim[string](p, "tenant")
		email, _ := ginauth.Claim[string](p, "email")
		c.JSON(http.StatusOK, gin.H{"user": p.Username, "tenant": tenant, "email": email})
	})

	req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"alice","password":"correct horse battery"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	var tok ginauth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &tok)

	req = httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body)
	// Output:
	// 200 {"email":"alice@example.com","tenant":"acme","user":"alice"}
}
