package observe

import (
	"context"
	"errors"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// Op names an operation. The set is fixed by the library: a metric may
// use it as a label value.
type Op string

// Operations of a request.
const (
	// Authenticate is the check of a request's credential by the
	// middleware: bearer token, Basic password or session cookie.
	Authenticate Op = "authenticate"
	// Login is a password grant: the login handler, or the token
	// endpoint's password grant.
	Login Op = "login"
	// Refresh is a refresh-token rotation: the refresh handler, or the
	// token endpoint's refresh grant.
	Refresh Op = "refresh"
	// Logout ends the caller's session; LogoutAll every session of the
	// caller.
	Logout    Op = "logout"
	LogoutAll Op = "logout_all"
	// PasswordWait is the wait for a password-hashing slot.
	PasswordWait Op = "password_wait"
	// PasswordHash is the password check once a slot is held: reading
	// the user and comparing the hash, which dominates.
	PasswordHash Op = "password_hash"
)

// StorePrefix starts the Op of every store call: "store." followed by
// the method's name, such as "store.Session" or "store.RotateRefresh".
const StorePrefix = "store."

// Result is how an operation ended. It carries no secret.
type Result struct {
	// Status is the HTTP status the operation's outcome is answered with
	// (200 on success); 0 for store calls and password steps.
	Status int
	// Code is the error code answered ("invalid_token", …; see ginauth's
	// status contract), "" on success. For a store call it is "" on
	// success, "not_found" for an absent, expired, stale or reused
	// record, and "error" when the store failed; for a password wait,
	// "busy" or "canceled" when no slot came.
	Code string
	// Reason refines Code as audit events do ("reused", "store",
	// "password_slots_busy", a throttle counter, …), or "".
	Reason string
}

// End reports how an operation ended. It is called exactly once.
type End func(Result)

// Observer is told of every operation ginauth makes on the request path.
// Its methods run on that path, concurrently: they must be fast and must
// not block.
type Observer interface {
	// Begin marks the start of op and returns the context the operation
	// continues in (ctx itself, or one carrying a span) and the function
	// to call with its result.
	Begin(ctx context.Context, op Op) (context.Context, End)
}

// EventObserver is an Observer that also receives every audit event
// ginauth records, after Config.Audit has.
type EventObserver interface {
	Observer
	Event(ctx context.Context, e audit.Event)
}

// Join returns an Observer that hands every operation and event to each
// of obs in order (nil ones skipped); the context one returns is passed to
// the next.
func Join(obs ...Observer) Observer {
	var j joined
	for _, o := range obs {
		if o != nil {
			j = append(j, o)
		}
	}
	return j
}

type joined []Observer

func (j joined) Begin(ctx context.Context, op Op) (context.Context, End) {
	ends := make([]End, len(j))
	for i, o := range j {
		ctx, ends[i] = o.Begin(ctx, op)
	}
	return ctx, func(r Result) {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i](r)
		}
	}
}

func (j joined) Event(ctx context.Context, e audit.Event) {
	for _, o := range j {
		if eo, ok := o.(EventObserver); ok {
			eo.Event(ctx, e)
		}
	}
}

var _ EventObserver = joined(nil)

// StoreResult is the Result of a store call that returned err.
func StoreResult(err error) Result {
	switch {
	case err == nil:
		return Result{}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid),
		errors.Is(err, store.ErrStale), errors.Is(err, store.ErrReused):
		return Result{Code: "not_found"}
	}
	return Result{Code: "error"}
}

// SlotStats describes the password-hashing slots at one moment; see
// ginauth's Throttle.PasswordConcurrency.
type SlotStats struct {
	// Size is the number of slots.
	Size int
	// Busy is how many are held by a password comparison.
	Busy int
	// Waiting is how many password checks wait for one, known clients
	// and others together.
	Waiting int
}

// CacheStats describes a local cache at one moment: redisstore's cache of
// sessions, sqlstore's cache of users.
type CacheStats struct {
	// Entries is the number of entries held.
	Entries int
	// Hits and Misses count the reads answered from memory and those that
	// went to the backend, since the cache was made.
	Hits, Misses uint64
	// Healthy reports whether the cache is in use: its invalidation
	// channel (redisstore's subscriptions, sqlstore's LISTEN connection)
	// is confirmed. An unhealthy cache holds nothing and every read goes
	// to the backend.
	Healthy bool
}
