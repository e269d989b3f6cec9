package bench

import (
	"net/http"
	"net/http/httptest"
	"time"

	jwt "github.com/appleboy/gin-jwt/v2"
	"github.com/gin-gonic/gin"
)

// GinJWT is github.com/appleboy/gin-jwt/v2 with HS256: stateless, the
// user's name and roles in the token. Its login checks the password as
// the other peers do; its refresh re-signs a token that is still valid.
func GinJWT(e *Env) (*Target, error) {
	type user struct {
		name  string
		roles []string
	}
	mw, err := jwt.New(&jwt.GinJWTMiddleware{
		Realm:       "bench",
		Key:         e.Secret,
		Timeout:     15 * time.Minute,
		MaxRefresh:  time.Hour,
		IdentityKey: "sub",
		PayloadFunc: func(data any) jwt.MapClaims {
			u := data.(user)
			return jwt.MapClaims{"sub": u.name, "roles": u.roles}
		},
		Authenticator: func(c *gin.Context) (any, error) {
			var body loginBody
			if err := c.ShouldBindJSON(&body); err != nil {
				return nil, jwt.ErrMissingLoginValues
			}
			roles, err := e.checkPassword(c.Request.Context(), body.Username, body.Password)
			if err != nil {
				return nil, jwt.ErrFailedAuthentication
			}
			return user{body.Username, roles}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	r := gin.New()
	r.POST("/login", mw.LoginHandler)
	r.POST("/refresh", mw.RefreshHandler)
	r.GET("/me", mw.MiddlewareFunc(), func(c *gin.Context) {
		name, _ := c.Get("sub")
		s, _ := name.(string)
		me(c, s)
	})
	return &Target{
		Name:   "gin-jwt",
		Engine: r,
		credential: func(w *httptest.ResponseRecorder) (Credential, error) {
			tok, err := jsonField(w, "token")
			return Credential{Header: "Authorization", Value: "Bearer " + tok}, err
		},
		refreshRequest: func(c Credential) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/refresh", nil)
			r.Header.Set(c.Header, c.Value)
			return r
		},
	}, nil
}
