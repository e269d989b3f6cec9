package ginauth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// ExampleAuth_TokenHandler_clientCredentials lets a service obtain an
// access token for itself with the client_credentials grant (RFC 6749
// §4.4) and call an API that needs one of its roles. golang.org/x/oauth2's
// clientcredentials package sends the same request.
func ExampleAuth_TokenHandler_clientCredentials() {
	key, _ := tokens.NewHMACKey("k", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api")}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	auth, err := ginauth.New(ginauth.Config{
		Store: memstore.New(memstore.Options{}), Issuer: issuer, Verifier: verifier,
		// Or register clients in the store: store.ClientStore.
		Clients: []ginauth.Client{{ID: "billing", Secret: "a client secret of at least 32 characters", Roles: []string{"invoices"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := gin.New()
	rt := auth.Router(r)
	rt.POST("/oauth/token", ginauth.Open(), auth.TokenHandler())
	rt.GET("/invoices", ginauth.AnyRole("invoices"), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(http.StatusOK, gin.H{"client": p.ClientID})
	})

	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("billing", url.QueryEscape("a client secret of at least 32 characters"))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	var tok ginauth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &tok)
	fmt.Println(w.Code, tok.TokenType, tok.RefreshToken == "")

	req = httptest.NewRequest(http.MethodGet, "/invoices", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body)
	// Output:
	// 200 Bearer true
	// 200 {"client":"billing"}
}
