// Package audit holds the security events that authkit's packages
// report: logins, refreshes, lock-outs, device credentials, password
// changes and every refusal, as one [Event] type that ginauth (HTTP) and
// accounts (no HTTP) share, and [Log], the default hook that writes each
// as one log/slog line. An event never carries a secret: no password,
// token, cookie or session secret.
package audit

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Kind names what an [Event] records.
type Kind string

// Event kinds. They are stable: log pipelines may filter on them.
const (
	LoginSucceeded  Kind = "login_succeeded"
	LoginFailed     Kind = "login_failed"
	Throttled       Kind = "throttled"
	Refreshed       Kind = "refreshed"
	RefreshReused   Kind = "refresh_reused"
	Logout          Kind = "logout"
	LogoutAll       Kind = "logout_all"
	PasswordChanged Kind = "password_changed"
	UserDisabled    Kind = "user_disabled"
	UserEnabled     Kind = "user_enabled"
	// RefreshRetried is a presentation, within RefreshGrace, of the
	// refresh token that the session's last rotation replaced: answered
	// with the same successor (Reason "grace_replay"), or refused with
	// invalid_grant when RefreshGraceSameClient is set and the client
	// address differs (Reason "grace_other_client"). PriorClientIP is the
	// address of the rotation retried. It replaces Refreshed: nothing
	// rotated.
	RefreshRetried Kind = "refresh_retried"
	// SessionEvicted is a session that MaxSessionsPerUser ended to
	// make room for a login, one event per session ended, before the
	// login's own event; Session names the ended session, Reason is
	// "session_cap".
	SessionEvicted Kind = "session_evicted"
	// Locked: a failure brought a throttle counter to its limit;
	// Reason names the counter ("pair", "address", "account", "device").
	Locked Kind = "locked"
	// Unlocked: a success cleared a counter's earlier failures;
	// Reason names it ("pair_success", "device_success").
	Unlocked Kind = "unlocked"
	// DeviceIssued: a successful password check handed the client a
	// device credential (Device names it).
	DeviceIssued Kind = "device_issued"
	// DeviceUsed: a login presented a known device credential and
	// was judged as a known client (Status says how it ended).
	DeviceUsed Kind = "device_used"
	// DeviceRevoked: device credentials ended; Reason is "failures"
	// (one device, at Throttle.DeviceLimit), or "logout_all",
	// "password_changed" or "user_disabled" (all of the user's).
	DeviceRevoked Kind = "device_revoked"
	// Denied is every other 401, 403 or 429 answer, with its code.
	Denied Kind = "denied"
	// Unavailable is a 503: the store or the password slots could not
	// answer; Reason says which.
	Unavailable Kind = "unavailable"
)

// Event is one security-relevant decision, for an audit trail. It never
// carries a secret: no password, token, cookie or session secret, and only
// the first 8 hex characters of the session handle.
type Event struct {
	Time time.Time
	Kind Kind
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
	// ClientIP is the client's address (ginauth.Config.ClientAddress): by default
	// the peer.
	ClientIP  string
	UserAgent string
	Method    string
	Path      string
	// PriorClientIP is, for RefreshRetried, the ClientIP of the
	// request whose rotation was retried.
	PriorClientIP string
}

// Hook receives audit events. It must not block: it runs on the request
// path.
type Hook func(context.Context, Event)

// Log returns the default audit hook: one slog line per event at level
// Info (Warn for reuse, throttling, locks and 503s) on logger.
func Log(logger *slog.Logger) Hook {
	return func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		switch {
		case e.Kind == RefreshReused, e.Kind == Throttled, e.Kind == Unavailable, e.Kind == Locked,
			e.Kind == RefreshRetried && e.Status >= http.StatusBadRequest:
			level = slog.LevelWarn
		}
		if !logger.Enabled(ctx, level) {
			return // LogAttrs would drop the line: spare building it
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
