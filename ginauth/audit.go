package ginauth

import (
	"context"
	"encoding/hex"
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// attemptKey marks a request context with the username a login or Basic
// request tried, so that its failure event can name it.
type attemptKey struct{}

var keyAttempt = &attemptKey{}

// Only a name that can be an account's is kept: what a person typed in
// the username field may be a password.
func withAttempt(c *gin.Context, username string) {
	name, err := store.CanonicalUsername(username)
	if err != nil {
		name = "(invalid)"
	}
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), keyAttempt, name))
}

// auditRequest fills in what the request tells about e and hands it to the
// audit hook. Path is the route pattern, never the raw URL, which may
// carry anything a client put in it.
func (a *Auth) auditRequest(c *gin.Context, e audit.Event) {
	e.Time = a.cfg.Now()
	e.ClientIP = a.clientAddr(c)
	e.UserAgent = clip(c.Request.UserAgent(), 256)
	e.Method = c.Request.Method
	e.Path = c.FullPath()
	if p, ok := PrincipalFrom(c); ok {
		if e.Username == "" {
			e.Username = p.Username
		}
		if e.Session == "" && !p.SessionID.IsZero() {
			e.Session = sessionPrefix(p.SessionID)
		}
	}
	if e.Username == "" {
		if name, ok := c.Request.Context().Value(keyAttempt).(string); ok {
			e.Username = name
		}
	}
	a.cfg.Audit(c.Request.Context(), e)
	if a.events != nil {
		a.events.Event(c.Request.Context(), e)
	}
}

// auditFailure records the decision behind an error response.
func (a *Auth) auditFailure(c *gin.Context, err error, e *Error) {
	ev := audit.Event{Status: e.Status, Code: e.Code}
	ev.Kind, ev.Reason = failureKind(err, e.Status)
	var other *otherClientError
	if errors.As(err, &other) {
		ev.Session, ev.PriorClientIP = other.session, other.prior
	}
	a.auditRequest(c, ev)
}

// otherClientError refuses a grace replay of a refresh token from
// another client address than the rotation it retries
// (Config.Refresh.SameClient); its audit event names both.
type otherClientError struct {
	session string // prefix of the session handle
	prior   string // address of the rotation retried
}

func (e *otherClientError) Error() string {
	return "refresh token retried from another client address than its rotation"
}

// sessionPrefix is the first 8 hex digits of the session handle, which
// is what audit events and logs show of it.
func sessionPrefix(id store.Digest) string {
	var buf [8]byte // encoded on the stack: one allocation, the string
	hex.Encode(buf[:], id[:4])
	return string(buf[:])
}

// clientAddr is the client's address, by Config.ClientAddress.
func (a *Auth) clientAddr(c *gin.Context) string {
	if a.cfg.ClientAddress != nil {
		return a.cfg.ClientAddress(c)
	}
	return peerAddress(c)
}

// clip shortens s, which comes from a client, to at most n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
