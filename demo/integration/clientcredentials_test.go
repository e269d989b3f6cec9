package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
	"github.com/gin-authkit/authkit/internal/testredis"
)

// TestClientCredentialsGrant registers a client with "demo client add"
// and drives the demo's token endpoint with
// golang.org/x/oauth2/clientcredentials, unmodified: a token for the
// client itself (no refresh token) with the client's roles, RFC 6749
// §5.2 errors for a wrong secret and a scope the client lacks, and a
// removed client whose token stops working at once.
func TestClientCredentialsGrant(t *testing.T) {
	bin := demotest.Build(t)
	rdb, prefix := testredis.New(t)
	env := map[string]string{
		"REDIS_URL": "redis://" + rdb.(*redis.Client).Options().Addr, "AUTHKIT_REDIS_PREFIX": prefix,
		"AUTHKIT_SECRET": "0123456789abcdef0123456789abcdef-clients", "AUTHKIT_BCRYPT_COST": "4",
	}
	const secret = "a client secret of at least 32 characters"
	if out, errOut, code := demotest.Run(t, bin, env, secret+"\n", "client", "add", "--id", "reporter", "--roles", "analyst", "--secret-stdin"); code != 0 {
		t.Fatalf("client add: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := demotest.Run(t, bin, env, "short\n", "client", "add", "--id", "weak", "--secret-stdin"); code == 0 || !strings.Contains(errOut, "at least 32") {
		t.Fatalf("a short secret: exit %d\n%s%s", code, out, errOut)
	}
	p := demotest.Start(t, bin, env)
	ctx := context.Background()
	cfg := clientcredentials.Config{ClientID: "reporter", ClientSecret: secret, TokenURL: p.URL + "/oauth/token"}

	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" || tok.TokenType != "Bearer" {
		t.Fatalf("token = %+v", tok)
	}
	get := func(path string) int {
		t.Helper()
		resp, err := cfg.Client(ctx).Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/reports"); code != http.StatusOK {
		t.Errorf("/api/reports with the client's token: %d, want 200", code)
	}
	if code := get("/api/admin/stats"); code != http.StatusForbidden {
		t.Errorf("/api/admin/stats: %d, want 403", code)
	}

	for _, tc := range []struct {
		name string
		cfg  clientcredentials.Config
		want string
	}{
		{"wrong secret", clientcredentials.Config{ClientID: "reporter", ClientSecret: strings.Repeat("x", 40), TokenURL: cfg.TokenURL}, "invalid_client"},
		{"scope not the client's", clientcredentials.Config{ClientID: "reporter", ClientSecret: secret, TokenURL: cfg.TokenURL, Scopes: []string{"admin"}}, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Token(ctx)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}

	out, errOut, code := demotest.Run(t, bin, env, "", "client", "list")
	if code != 0 || !strings.Contains(out, "reporter") || strings.Contains(out, secret) {
		t.Fatalf("client list: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := demotest.Run(t, bin, env, "", "client", "remove", "--id", "reporter"); code != 0 {
		t.Fatalf("client remove: exit %d\n%s%s", code, out, errOut)
	}
	resp, err := http.DefaultClient.Do(func() *http.Request {
		r, _ := http.NewRequest("GET", p.URL+"/api/reports", nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a removed client's token: %d, want 401", resp.StatusCode)
	}
}
