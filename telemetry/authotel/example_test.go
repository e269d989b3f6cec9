package authotel_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/telemetry/authotel"
	"github.com/gin-authkit/authkit/tokens"
)

// Example traces an Auth; an application passes its own
// TracerProvider (or nil for the global one) and exports the spans with
// its exporter. Here one failed login is traced into memory.
func Example() {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	issuer, verifier := signer()
	auth, err := ginauth.New(ginauth.Config{Store: memstore.New(memstore.Options{}), Issuer: issuer, Verifier: verifier,
		Logger: slog.New(slog.DiscardHandler),
		// observe.Join(metrics, tracer) would feed both.
		Observer: observe.Join(authotel.New(tp))})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.POST("/auth/login", auth.LoginHandler())
	login := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"nobody","password":"a guess"}`))
	login.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(httptest.NewRecorder(), login)

	for _, s := range spans.GetSpans() {
		fmt.Println(s.Name)
	}
	// Output:
	// authkit.store.BeginAttempt
	// authkit.password_wait
	// authkit.password_hash
	// authkit.store.EndAttempt
	// authkit.login
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
