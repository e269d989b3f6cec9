package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// limitRotate is the limit's refresh: one script that checks the session
// (present, not expired) and the presented refresh digest against the
// current one, swaps in the successor's, and returns the owner and
// roles for the new access token. Any other digest ends the session (a
// replay, or a forgery). KEYS: the session. ARGV: the presented digest,
// the successor's, now in Unix milliseconds.
var limitRotate = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'user', 'roles', 'exp', 'rt')
if not s[1] or tonumber(s[3]) <= tonumber(ARGV[3]) then return false end
if s[4] ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'rt', ARGV[2])
return {s[1], s[2]}
`)

// limitRefreshToken returns a new refresh token of session sid, the
// session id, a dot and a 256-bit secret in hex, and the digest stored
// for it.
func limitRefreshToken(sid string) (token, digest string) {
	secret := randomHex(32)
	return sid + "." + secret, limitDigest(secret)
}

func limitDigest(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}

// Limit is the one-round-trip limit, written by hand: an HS256 access
// token verified with golang-jwt (method, issuer, audience and expiry
// required), then one HGETALL of the session hash it names, which must
// exist, belong to the token's subject and not have expired. It is the
// least a middleware can do that checks a server-side session in Redis on
// every request, and so the yardstick of authkit's session mode.
//
// Its refresh is the one-script rotation, the yardstick of authkit's:
// the refresh token names its session, and [limitRotate] checks and
// swaps its digest in one round trip; a new access token is signed with
// golang-jwt. It keeps no grace period, sequence number or client
// address, which authkit's rotation does.
func Limit(e *Env) *Target {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(limitIssuer),
		jwt.WithAudience(limitAudience), jwt.WithExpirationRequired())
	keyFunc := func(*jwt.Token) (any, error) { return e.Secret, nil }
	sessionKey := func(sid string) string { return e.Prefix + "limit:s:" + sid }

	sign := func(user, sid string, now time.Time) (string, error) {
		return jwt.NewWithClaims(jwt.SigningMethodHS256, limitClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Subject: user, Issuer: limitIssuer, Audience: jwt.ClaimStrings{limitAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(limitAccessTTL)),
			},
			SessionID: sid,
		}).SignedString(e.Secret)
	}

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
		refresh, digest := limitRefreshToken(sid)
		_, err = e.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, sessionKey(sid), "user", body.Username, "roles", strings.Join(roles, ","),
				"exp", now.Add(limitSessionTTL).UnixMilli(), "rt", digest)
			p.PExpire(ctx, sessionKey(sid), limitSessionTTL)
			return nil
		})
		if err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		tok, err := sign(body.Username, sid, now)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal_error"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"access_token": tok, "refresh_token": refresh})
	}

	rotate := func(c *gin.Context) {
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := c.ShouldBindJSON(&body); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_request"})
			return
		}
		sid, secret, ok := strings.Cut(body.RefreshToken, ".")
		if !ok || sid == "" {
			unauthorized(c)
			return
		}
		now := time.Now()
		refresh, digest := limitRefreshToken(sid)
		owner, err := limitRotate.Run(c.Request.Context(), e.Redis, []string{sessionKey(sid)},
			limitDigest(secret), digest, now.UnixMilli()).StringSlice()
		if errors.Is(err, redis.Nil) {
			unauthorized(c)
			return
		}
		if err != nil || len(owner) != 2 {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		tok, err := sign(owner[0], sid, now)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal_error"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"access_token": tok, "refresh_token": refresh})
	}

	r := gin.New()
	r.POST("/login", login)
	r.POST("/refresh", rotate)
	r.GET("/me", authenticate, func(c *gin.Context) {
		u, _ := c.Request.Context().Value(keyLimitUser).(*limitUser)
		me(c, u.name)
	})
	return &Target{
		Name:   "limit",
		Engine: r,
		credential: func(w *httptest.ResponseRecorder) (Credential, error) {
			tok, refresh, err := tokenPair(w)
			return Credential{Header: "Authorization", Value: "Bearer " + tok, Refresh: refresh}, err
		},
		refreshRequest: func(c Credential) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/refresh",
				strings.NewReader(`{"refresh_token":`+strconv.Quote(c.Refresh)+`}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
	}
}
