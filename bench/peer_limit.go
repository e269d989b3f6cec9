package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

// The limit's token claims and lifetimes.
const (
	limitIssuer     = "bench-limit"
	limitAudience   = "bench-api"
	limitAccessTTL  = 15 * time.Minute
	limitSessionTTL = 24 * time.Hour
)

// limitClaims are the registered claims and the session id.
type limitClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// limitUser is the principal of the limit, kept in the request context
// under a pointer key.
type limitUser struct {
	name  string
	roles []string
}

type limitKey struct{}

var keyLimitUser = &limitKey{}

// Limit is the one-round-trip limit, written by hand: an HS256 access
// token verified with golang-jwt (method, issuer, audience and expiry
// required), then one HGETALL of the session hash it names, which must
// exist, belong to the token's subject and not have expired. It is the
// least a middleware can do that checks a server-side session in Redis on
// every request, and so the yardstick of authkit's session mode.
func Limit(e *Env) *Target {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(limitIssuer),
		jwt.WithAudience(limitAudience), jwt.WithExpirationRequired())
	keyFunc := func(*jwt.Token) (any, error) { return e.Secret, nil }
	sessionKey := func(sid string) string { return e.Prefix + "limit:s:" + sid }

	authenticate := func(c *gin.Context) {
		raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			unauthorized(c)
			return
		}
		var claims limitClaims
		if _, err := parser.ParseWithClaims(raw, &claims, keyFunc); err != nil || claims.SessionID == "" {
			unauthorized(c)
			return
		}
		m, err := e.Redis.HGetAll(c.Request.Context(), sessionKey(claims.SessionID)).Result()
		if err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		exp, _ := strconv.ParseInt(m["exp"], 10, 64)
		if len(m) == 0 || m["user"] != claims.Subject || time.Now().UnixMilli() >= exp {
			unauthorized(c)
			return
		}
		u := &limitUser{name: claims.Subject, roles: strings.Split(m["roles"], ",")}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), keyLimitUser, u))
		c.Next()
	}

	login := func(c *gin.Context) {
		var body loginBody
		if err := c.ShouldBindJSON(&body); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_request"})
			return
		}
		ctx := c.Request.Context()
		roles, err := e.checkPassword(ctx, body.Username, body.Password)
		if errors.Is(err, errBadLogin) {
			unauthorized(c)
			return
		}
		if err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		now := time.Now()
		sid := randomHex(16)
		_, err = e.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, sessionKey(sid), "user", body.Username, "roles", strings.Join(roles, ","),
				"exp", now.Add(limitSessionTTL).UnixMilli())
			p.PExpire(ctx, sessionKey(sid), limitSessionTTL)
			return nil
		})
		if err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, limitClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Subject: body.Username, Issuer: limitIssuer, Audience: jwt.ClaimStrings{limitAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(limitAccessTTL)),
			},
			SessionID: sid,
		}).SignedString(e.Secret)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal_error"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"access_token": tok})
	}

	r := gin.New()
	r.POST("/login", login)
	r.GET("/me", authenticate, func(c *gin.Context) {
		u, _ := c.Request.Context().Value(keyLimitUser).(*limitUser)
		me(c, u.name)
	})
	return &Target{
		Name:   "limit",
		Engine: r,
		credential: func(w *httptest.ResponseRecorder) (Credential, error) {
			tok, err := jsonField(w, "access_token")
			return Credential{Header: "Authorization", Value: "Bearer " + tok}, err
		},
	}
}
