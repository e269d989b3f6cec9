package ginauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
)

// begin starts op of the request with Config.Observer, which must be
// set: the request runs in the observer's context until end, which
// reports err (nil: answered with okStatus) and restores the request's
// context, keeping the username a login tried.
func (a *Auth) begin(c *gin.Context, op observe.Op) (end func(err error, okStatus int)) {
	parent := c.Request.Context()
	ctx, done := a.obs.Begin(parent, op)
	c.Request = c.Request.WithContext(ctx)
	return func(err error, okStatus int) {
		done(outcome(err, okStatus))
		c.Request = c.Request.WithContext(rebase(c.Request.Context(), parent))
	}
}

// rebase returns parent with what an observed operation added to its
// context ctx and later steps read: the username a login tried.
func rebase(ctx, parent context.Context) context.Context {
	if name, ok := ctx.Value(keyAttempt).(string); ok {
		return context.WithValue(parent, keyAttempt, name)
	}
	return parent
}

// outcome is the observe.Result of an operation that ended with err: the
// status and code of the status contract, and the reason its audit event
// gives.
func outcome(err error, okStatus int) observe.Result {
	if err == nil {
		return observe.Result{Status: okStatus}
	}
	row := unavailable
	for _, r := range contract {
		if errors.Is(err, r.err) {
			row = r
			break
		}
	}
	_, reason := failureKind(err, row.status)
	return observe.Result{Status: row.status, Code: row.code, Reason: reason}
}

// failureKind is the audit kind and reason of an error answered with
// status.
func failureKind(err error, status int) (audit.Kind, string) {
	var other *otherClientError
	var t *errThrottled
	switch {
	case errors.As(err, &other):
		return audit.RefreshRetried, "grace_other_client"
	case errors.As(err, &t):
		return audit.Throttled, t.reason
	case errors.Is(err, ErrThrottled):
		return audit.Throttled, ""
	case errors.Is(err, store.ErrReused):
		return audit.RefreshReused, "reused"
	case errors.Is(err, ErrBadCredentials):
		return audit.LoginFailed, ""
	case status == http.StatusServiceUnavailable && errors.Is(err, errPasswordBusy):
		return audit.Unavailable, "password_slots_busy"
	case status == http.StatusServiceUnavailable:
		return audit.Unavailable, "store"
	}
	return audit.Denied, ""
}

// acquireSlot waits for a password-hashing slot, observed as
// observe.PasswordWait.
func (a *Auth) acquireSlot(c *gin.Context, known bool) (release func(), err error) {
	ctx := c.Request.Context()
	if a.obs == nil {
		return a.slots.acquire(ctx, known, a.cfg.Throttle.PasswordWait)
	}
	ctx, end := a.obs.Begin(ctx, observe.PasswordWait)
	release, err = a.slots.acquire(ctx, known, a.cfg.Throttle.PasswordWait)
	var r observe.Result
	switch {
	case errors.Is(err, errPasswordBusy):
		r.Code = "busy"
	case err != nil:
		r.Code = "canceled"
	}
	end(r)
	return release, err
}

// verifyHash checks the password with Accounts, observed as
// observe.PasswordHash.
func (a *Auth) verifyHash(c *gin.Context, username, password string) (store.User, error) {
	ctx := c.Request.Context()
	if a.obs == nil {
		return a.accounts.Verify(ctx, username, password)
	}
	ctx, end := a.obs.Begin(ctx, observe.PasswordHash)
	u, err := a.accounts.Verify(ctx, username, password)
	r := outcome(err, 0)
	r.Status = 0
	end(r)
	return u, err
}

// PasswordSlots reports the password-hashing slots now (see
// Throttle.PasswordConcurrency), for a gauge read at scrape time.
func (a *Auth) PasswordSlots() observe.SlotStats { return a.slots.stats() }
