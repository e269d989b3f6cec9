package authprom_test

import (
	"bufio"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/telemetry/authprom"
	"github.com/gin-authkit/authkit/tokens"
)

// Example registers authkit's metrics, observes an Auth with them and
// serves them; here one failed login is scraped.
func Example() {
	reg := prometheus.NewRegistry()
	metrics, err := authprom.New(reg)
	if err != nil {
		log.Fatal(err)
	}
	issuer, verifier := signer()
	auth, err := ginauth.New(ginauth.Config{Store: memstore.New(memstore.Options{}), Issuer: issuer, Verifier: verifier,
		Logger:   slog.New(slog.DiscardHandler),
		Observer: metrics})
	if err != nil {
		log.Fatal(err)
	}
	// Gauges read the Auth at each scrape.
	if err := metrics.WatchPasswordSlots(auth); err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.POST("/auth/login", auth.LoginHandler())
	// Serve the metrics on a listener of their own, apart from the API.
	scrape := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	login := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"nobody","password":"a guess"}`))
	login.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(httptest.NewRecorder(), login)
	w := httptest.NewRecorder()
	scrape.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	lines := bufio.NewScanner(w.Body)
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "authkit_logins_total") || strings.HasPrefix(l, "authkit_password_slots ") {
			fmt.Println(l)
		}
	}
	// Output:
	// authkit_logins_total{code="invalid_credentials",reason="none",status="401"} 1
	// authkit_password_slots 2
}

// signer returns an example token issuer and its verifier.
func signer() (*tokens.Issuer, *tokens.Verifier) {
	key, err := tokens.NewHMACKey("k1", []byte("an example secret of at least 32 bytes"))
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
	return issuer, verifier
}
