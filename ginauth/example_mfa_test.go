package ginauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/store/memstore"
	"github.com/gin-authkit/authkit/tokens"
)

// ExampleAuth_MountTOTP gives a user a TOTP second factor, then logs in:
// the password alone answers 401 mfa_required with a ticket, and the
// ticket with a code from the authenticator app completes the login with
// an access token whose amr records both factors.
func ExampleAuth_MountTOTP() {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key, _ := tokens.NewHMACKey("k", []byte("an example secret of at least 32 bytes!"))
	opts := []tokens.Option{tokens.WithIssuer("example"), tokens.WithAudience("example-api"), tokens.WithClock(clock)}
	issuer, _ := tokens.NewIssuer(key, opts...)
	verifier, _ := tokens.NewVerifier([]*tokens.Key{key}, opts...)
	st := memstore.New(memstore.Options{Now: clock})
	// In production the sealing keys come from configuration (mfa.ParseKeys).
	keys := mfa.Keys{Current: "k1", ByID: map[string][]byte{"k1": []byte("32 bytes that seal TOTP secrets!")}}
	second, err := mfa.New(mfa.Config{Factors: st, Recovery: st, Keys: keys, Issuer: "Example", Now: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	users, _ := accounts.New(accounts.Config{Users: st, Hasher: accounts.Bcrypt{Cost: bcrypt.MinCost}, AllowTestCosts: true, TOTP: second})
	auth, err := ginauth.New(ginauth.Config{Store: st, Accounts: users, Issuer: issuer, Verifier: verifier, Realm: "example", Now: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_ = users.CreateUser(ctx, "alice", "correct horse battery", []string{"user"})

	// Enrolment: the app scans the URI; its first code confirms the factor
	// (POST /auth/totp/enroll and /auth/totp/confirm do the same over HTTP).
	enrolment, _ := second.EnrollTOTP(ctx, "alice")
	app := func() string { c, _ := totp.GenerateCode(enrolment.Secret, now); return c }
	recovery, _ := second.ConfirmTOTP(ctx, "alice", app())
	fmt.Println(len(recovery), "recovery codes")
	now = now.Add(mfa.Period) // the next code

	r := gin.New()
	rt := auth.Router(r)
	ag := rt.Group("/auth", ginauth.Open())
	ag.POST("/login", ginauth.Open(), auth.LoginHandler())
	auth.MountTOTP(ag) // POST /auth/mfa, /auth/totp/enroll, confirm, disable
	post := func(path, body string) map[string]any {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r.ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		fmt.Println(w.Code, out["error"], out["methods"])
		return out
	}

	step1 := post("/auth/login", `{"username":"alice","password":"correct horse battery"}`)
	step2 := post("/auth/mfa", fmt.Sprintf(`{"mfa_ticket":%q,"code":%q}`, step1["mfa_ticket"], app()))
	claims, _ := verifier.Verify(step2["access_token"].(string))
	fmt.Println(claims.AMR, claims.ACR)
	// Output:
	// 10 recovery codes
	// 401 mfa_required [totp recovery_code]
	// 200 <nil> <nil>
	// [pwd otp mfa] urn:authkit:acr:mfa
}
