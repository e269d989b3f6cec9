package ginauth_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-authkit/authkit/ginauth"
)

// BenchmarkAuthenticatedRequest measures one GET /api/me through the
// middleware: session mode (one store round trip) and stateless mode.
// Set AUTHKIT_TEST_REDIS to measure against a real Redis.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	for _, mode := range []struct {
		name      string
		stateless bool
	}{{"session", false}, {"stateless", true}} {
		b.Run(mode.name, func(b *testing.B) {
			k := newKit(b, func(c *ginauth.Config) { c.Stateless = mode.stateless })
			tok := k.login("alice", alicePW)
			req := httptest.NewRequest("GET", "/api/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				k.engine.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
