package bench

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-contrib/sessions"
	sessionsredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
)

// sessionCookie names the gin-contrib/sessions cookie.
const sessionCookie = "gcs"

// Sessions is github.com/gin-contrib/sessions with its Redis store
// (boj/redistore on redigo): a signed cookie holds the session id, and
// each authenticated request reads the session with one GET and decodes
// it (gob).
func Sessions(e *Env) (*Target, error) {
	st, err := sessionsredis.NewStore(Users, "tcp", e.Addr(), "", "", e.Secret)
	if err != nil {
		return nil, err
	}
	if err := sessionsredis.SetKeyPrefix(st, e.Prefix+"gcs:"); err != nil {
		return nil, err
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	rs, err := sessionsredis.GetRedisStore(st)
	if err != nil {
		return nil, err
	}

	r := gin.New()
	r.Use(sessions.Sessions(sessionCookie, st))
	r.POST("/login", func(c *gin.Context) {
		var body loginBody
		if err := c.ShouldBindJSON(&body); err != nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_request"})
			return
		}
		roles, err := e.checkPassword(c.Request.Context(), body.Username, body.Password)
		if err != nil {
			unauthorized(c)
			return
		}
		s := sessions.Default(c)
		s.Set("user", body.Username)
		s.Set("roles", strings.Join(roles, ","))
		if err := s.Save(); err != nil {
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	r.GET("/me", func(c *gin.Context) {
		name, ok := sessions.Default(c).Get("user").(string)
		if !ok {
			unauthorized(c)
			return
		}
		me(c, name)
	})
	return &Target{
		Name:   "sessions-redis",
		Engine: r,
		credential: func(w *httptest.ResponseRecorder) (Credential, error) {
			for _, ck := range w.Result().Cookies() {
				if ck.Name == sessionCookie {
					return Credential{Header: "Cookie", Value: ck.Name + "=" + ck.Value}, nil
				}
			}
			return Credential{}, errors.New("no session cookie")
		},
		close: func() { _ = rs.Close() },
	}, nil
}
