package ginauth

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/internal/plainjson"
)

// jsonContentType is the Content-Type gin's c.JSON sets.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeTokenResponse answers 200 with r, byte for byte as c.JSON would:
// every login and refresh ends here, and encoding/json's reflection costs
// a refresh about half a microsecond. A string that encoding/json would escape
// goes to c.JSON itself. FuzzTokenResponseJSON holds the two to each
// other.
func writeTokenResponse(c *gin.Context, r TokenResponse) {
	b, ok := appendTokenResponse(nil, &r)
	if !ok {
		c.JSON(http.StatusOK, r)
		return
	}
	// What c.Render does with render.JSON, without the interface value
	// that would cost an allocation.
	c.Status(http.StatusOK)
	if h := c.Writer.Header(); len(h["Content-Type"]) == 0 {
		h["Content-Type"] = jsonContentType
	}
	if _, err := c.Writer.Write(b); err != nil {
		_ = c.Error(err)
		c.Abort()
	}
}

// appendTokenResponse appends r's JSON encoding, members in field order
// and empty omitempty members left out, as encoding/json writes it. It
// reports false when a string holds a byte that encoding/json would not
// copy as it is; b is then of no use.
func appendTokenResponse(b []byte, r *TokenResponse) ([]byte, bool) {
	if !plainjson.Is(r.AccessToken) || !plainjson.Is(r.TokenType) || !plainjson.Is(r.RefreshToken) ||
		!plainjson.Is(r.Scope) || !plainjson.Is(r.DeviceToken) {
		return b, false
	}
	if b == nil {
		b = make([]byte, 0, len(r.AccessToken)+len(r.RefreshToken)+len(r.Scope)+len(r.DeviceToken)+128)
	}
	b = plainjson.AppendString(append(b, `{"access_token":`...), r.AccessToken)
	b = plainjson.AppendString(append(b, `,"token_type":`...), r.TokenType)
	b = strconv.AppendInt(append(b, `,"expires_in":`...), int64(r.ExpiresIn), 10)
	if r.RefreshToken != "" {
		b = plainjson.AppendString(append(b, `,"refresh_token":`...), r.RefreshToken)
	}
	if r.Scope != "" {
		b = plainjson.AppendString(append(b, `,"scope":`...), r.Scope)
	}
	if r.DeviceToken != "" {
		b = plainjson.AppendString(append(b, `,"device_token":`...), r.DeviceToken)
	}
	return append(b, '}'), true
}
