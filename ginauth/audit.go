package ginauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/store"
)

// EventKind names what an audit [Event] records.
type EventKind string

// Event kinds. They are stable: log pipelines may filter on them.
const (
	EventLoginSucceeded  EventKind = "login_succeeded"
	EventLoginFailed     EventKind = "login_failed"
	EventThrottled       EventKind = "throttled"
	EventRefreshed       EventKind = "refreshed"
	EventRefreshReused   EventKind = "refresh_reused"
	EventLogout          EventKind = "logout"
	EventLogoutAll       EventKind = "logout_all"
	EventPasswordChanged EventKind = "password_changed"
	EventUserDisabled    EventKind = "user_disabled"
	EventUserEnabled     EventKind = "user_enabled"
	// EventRefreshRetried is a presentation, within RefreshGrace, of the
	// refresh token that the session's last rotation replaced: answered
	// with the same successor (Reason "grace_replay"), or refused with
	// invalid_grant when RefreshGraceSameClient is set and the client
	// address differs (Reason "grace_other_client"). PriorClientIP is the
	// address of the rotation retried. It replaces EventRefreshed: nothing
	// rotated.
	EventRefreshRetried EventKind = "refresh_retried"
	// EventSessionEvicted is a session that MaxSessionsPerUser ended to
	// make room for a login, one event per session ended, before the
	// login's own event; Session names the ended session, Reason is
	// "session_cap".
	EventSessionEvicted EventKind = "session_evicted"
	// EventLocked: a failure brought a throttle counter to its limit;
	// Reason names the counter ("pair", "address", "account", "device").
	EventLocked EventKind = "locked"
	// EventUnlocked: a success cleared a counter's earlier failures;
	// Reason names it ("pair_success", "device_success").
	EventUnlocked EventKind = "unlocked"
	// EventDeviceIssued: a successful password check handed the client a
	// device credential (Device names it).
	EventDeviceIssued EventKind = "device_issued"
	// EventDeviceUsed: a login presented a known device credential and
	// was judged as a known client (Status says how it ended).
	EventDeviceUsed EventKind = "device_used"
	// EventDeviceRevoked: device credentials ended; Reason is "failures"
	// (one device, at Throttle.DeviceLimit), or "logout_all",
	// "password_changed" or "user_disabled" (all of the user's).
	EventDeviceRevoked EventKind = "device_revoked"
	// EventDenied is every other 401, 403 or 429 answer, with its code.
	EventDenied EventKind = "denied"
	// EventUnavailable is a 503: the store or the password slots could not
	// answer; Reason says which.
	EventUnavailable EventKind = "unavailable"
)

// Event is one security-relevant decision, for an audit trail. It never
// carries a secret: no password, token, cookie or session secret, and only
// the first 8 hex characters of the session handle.
type Event struct {
	Time time.Time
	Kind EventKind
	// Status is the HTTP status answered, for request events.
	Status int
	// Code is the error code answered ("invalid_token", …), or "" on
	// success.
	Code string
	// Reason refines Code for operators: "reused", "password_slots_busy",
	// "store", … Never shown to clients.
	Reason string
	// Username is the account concerned, in canonical form; for a failed
	// login, the name tried, or "(invalid)" when no account can have it
	// (what a person typed in the username field may be a password).
	Username string
	// Session is a prefix of the session handle, enough to correlate.
	Session string
	// Device is a prefix of a device credential's digest.
	Device string
	// ClientIP is the client's address (Config.ClientAddress): by default
	// the peer.
	ClientIP  string
	UserAgent string
	Method    string
	Path      string
	// PriorClientIP is, for EventRefreshRetried, the ClientIP of the
	// request whose rotation was retried.
	PriorClientIP string
}

func (e Event) stamp() Event {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return e
}

// LogAudit returns the default audit hook: one slog line per event at
// level Info (Warn for reuse and throttling) on logger.
func LogAudit(logger *slog.Logger) func(context.Context, Event) {
	return func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		switch {
		case e.Kind == EventRefreshReused, e.Kind == EventThrottled, e.Kind == EventUnavailable, e.Kind == EventLocked,
			e.Kind == EventRefreshRetried && e.Status >= http.StatusBadRequest:
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("event", string(e.Kind))}
		add := func(k, v string) {
			if v != "" {
				attrs = append(attrs, slog.String(k, v))
			}
		}
		add("code", e.Code)
		add("reason", e.Reason)
		add("user", e.Username)
		add("session", e.Session)
		add("device", e.Device)
		add("ip", e.ClientIP)
		add("prior_ip", e.PriorClientIP)
		add("user_agent", e.UserAgent)
		add("method", e.Method)
		add("path", e.Path)
		if e.Status != 0 {
			attrs = append(attrs, slog.Int("status", e.Status))
		}
		logger.LogAttrs(ctx, level, "authkit: audit", attrs...)
	}
}

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
func (a *Auth) auditRequest(c *gin.Context, e Event) {
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
}

// auditFailure records the decision behind an error response.
func (a *Auth) auditFailure(c *gin.Context, err error, e *Error) {
	ev := Event{Kind: EventDenied, Status: e.Status, Code: e.Code}
	var other *otherClientError
	switch {
	case errors.As(err, &other):
		ev.Kind, ev.Reason = EventRefreshRetried, "grace_other_client"
		ev.Session, ev.PriorClientIP = other.session, other.prior
	case errors.Is(err, ErrThrottled):
		ev.Kind = EventThrottled
		var t *errThrottled
		if errors.As(err, &t) {
			ev.Reason = t.reason
		}
	case errors.Is(err, store.ErrReused):
		ev.Kind, ev.Reason = EventRefreshReused, "reused"
	case errors.Is(err, ErrBadCredentials):
		ev.Kind = EventLoginFailed
	case e.Status == http.StatusServiceUnavailable:
		ev.Kind, ev.Reason = EventUnavailable, "store"
		if errors.Is(err, errPasswordBusy) {
			ev.Reason = "password_slots_busy"
		}
	}
	a.auditRequest(c, ev)
}

// otherClientError refuses a grace replay of a refresh token from
// another client address than the rotation it retries
// (Config.RefreshGraceSameClient); its audit event names both.
type otherClientError struct {
	session string // prefix of the session handle
	prior   string // address of the rotation retried
}

func (e *otherClientError) Error() string {
	return "refresh token retried from another client address than its rotation"
}

func sessionPrefix(id store.Digest) string { return id.String()[:8] }

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
