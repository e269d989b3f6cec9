package ginauth_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store"
)

const reporterSecret = "a client secret of at least 32 characters"

func withClients(c *kitConfig) {
	c.Clients = []ginauth.Client{
		{ID: "reporter", Secret: reporterSecret, Roles: []string{"analyst", "user"}},
		{ID: "spa"}, // public: no secret
	}
}

// clientToken asks the token endpoint for a client_credentials token.
func (k *kit) clientToken(id, secret string, extra url.Values) resp {
	k.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for key, vs := range extra {
		form[key] = vs
	}
	return k.doCT("POST", "/oauth/token", form.Encode(), "application/x-www-form-urlencoded",
		"Authorization", "Basic "+b64std(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// TestClientCredentials: a confidential client obtains an access token
// for itself (no refresh token), with its roles or the scope it names;
// the RFC 6749 §5.2 errors for the rest; a client registered in the
// store works the same, and removing it ends its tokens at once.
func TestClientCredentials(t *testing.T) {
	forEachKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withClients)
		r := k.clientToken("reporter", reporterSecret, nil)
		expect(t, r, 200, "")
		tok := r.str("access_token")
		if tok == "" || r.str("refresh_token") != "" || r.str("token_type") != "Bearer" {
			t.Fatalf("answer: %s", r.Body)
		}
		claims, err := k.auth.Config().Verifier.Verify(tok)
		if err != nil || claims.ClientID != "reporter" || claims.Subject != "reporter" || claims.SessionID != "" {
			t.Fatalf("claims %+v, %v", claims, err)
		}
		expect(t, k.do("GET", "/api/reports", nil, bearer(tok)...), 200, "")
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(tok)...), 403, "forbidden")

		scoped := k.clientToken("reporter", reporterSecret, url.Values{"scope": {"user"}})
		expect(t, scoped, 200, "")
		if scoped.str("scope") != "user" {
			t.Errorf("scope = %q", scoped.str("scope"))
		}
		expect(t, k.do("GET", "/api/reports", nil, bearer(scoped.str("access_token"))...), 403, "forbidden")

		for _, tc := range []struct {
			name, id, secret string
			extra            url.Values
			status           int
			code             string
		}{
			{"scope not the client's", "reporter", reporterSecret, url.Values{"scope": {"admin"}}, 400, "invalid_scope"},
			{"wrong secret", "reporter", "wrong", nil, 401, "invalid_client"},
			{"unknown client", "nobody", reporterSecret, nil, 401, "invalid_client"},
			{"public client", "spa", "", nil, 400, "unauthorized_client"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := k.clientToken(tc.id, tc.secret, tc.extra)
				if r.Code != tc.status || r.str("error") != tc.code {
					t.Fatalf("%d %s, want %d %s", r.Code, r.Body, tc.status, tc.code)
				}
			})
		}
		// No client authentication at all.
		r = k.doCT("POST", "/oauth/token", "grant_type=client_credentials", "application/x-www-form-urlencoded")
		if r.Code != 401 || r.str("error") != "invalid_client" {
			t.Fatalf("no client: %d %s", r.Code, r.Body)
		}

		// A client registered in the store.
		cs := k.auth.Config().Store.(store.ClientStore)
		ctx := context.Background()
		secret := "another client secret, 32 characters or more"
		if err := cs.AddClient(ctx, store.OAuthClient{ID: "billing", Secret: store.HashSecret([]byte(secret)), Roles: []string{"admin"}, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		b := k.clientToken("billing", secret, nil)
		expect(t, b, 200, "")
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(b.str("access_token"))...), 200, "")
		if err := cs.RemoveClient(ctx, "billing"); err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("GET", "/api/admin/stats", nil, bearer(b.str("access_token"))...), 401, "invalid_token")
		expect(t, k.clientToken("billing", secret, nil), 401, "")
	})
}
