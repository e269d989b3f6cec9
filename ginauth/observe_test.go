package ginauth_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
)

// opLog is an observe.EventObserver that records every operation ended,
// with the operation it ran within, and every event.
type opLog struct {
	mu     sync.Mutex
	ended  []endedOp
	events []audit.Kind
}

type endedOp struct {
	op, parent observe.Op
	r          observe.Result
}

type parentKey struct{}

func (l *opLog) Begin(ctx context.Context, op observe.Op) (context.Context, observe.End) {
	parent, _ := ctx.Value(parentKey{}).(observe.Op)
	return context.WithValue(ctx, parentKey{}, op), func(r observe.Result) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.ended = append(l.ended, endedOp{op, parent, r})
	}
}

func (l *opLog) Event(_ context.Context, e audit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e.Kind)
}

// take returns what was recorded and forgets it.
func (l *opLog) take() ([]endedOp, []audit.Kind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops, evs := l.ended, l.events
	l.ended, l.events = nil, nil
	return ops, evs
}

// TestObserver: each request operation reports its outcome in the
// status contract's terms, the store calls and password steps run within
// it (in its context), and audit events reach an EventObserver.
func TestObserver(t *testing.T) {
	obs := &opLog{}
	k := newMemKit(t, func(c *kitConfig) { c.Observer = obs })
	has := func(ops []endedOp, want endedOp) bool { return slices.Contains(ops, want) }

	tok := k.login("alice", alicePW)
	ops, evs := obs.take()
	for _, want := range []endedOp{
		{op: observe.Login, r: observe.Result{Status: 200}},
		{op: observe.PasswordWait, parent: observe.Login},
		{op: observe.PasswordHash, parent: observe.Login},
		{op: observe.StorePrefix + "BeginAttempt", parent: observe.Login},
		{op: observe.StorePrefix + "CreateSession", parent: observe.Login},
	} {
		if !has(ops, want) {
			t.Errorf("login: no %+v in %+v", want, ops)
		}
	}
	if !slices.Contains(evs, audit.LoginSucceeded) {
		t.Errorf("login: events %v lack login_succeeded", evs)
	}

	expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
	ops, _ = obs.take()
	want := []endedOp{
		{op: observe.StorePrefix + "Session", parent: observe.Authenticate},
		{op: observe.Authenticate, r: observe.Result{Status: 200}},
	}
	if !slices.Equal(ops, want) {
		t.Errorf("authenticated request: %+v, want %+v", ops, want)
	}

	expect(t, k.do("GET", "/api/me", nil), 401, "authentication_required")
	ops, _ = obs.take()
	if want := (endedOp{op: observe.Authenticate, r: observe.Result{Status: 401, Code: "authentication_required"}}); !has(ops, want) {
		t.Errorf("anonymous request: %+v lacks %+v", ops, want)
	}

	r := k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
	expect(t, r, 200, "")
	ops, _ = obs.take()
	if want := (endedOp{op: observe.Refresh, r: observe.Result{Status: 200}}); !has(ops, want) {
		t.Errorf("refresh: %+v lacks %+v", ops, want)
	}

	// Past the grace period, the rotated token is reuse.
	k.clock.Advance(11e9)
	expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}), 401, "invalid_grant")
	ops, evs = obs.take()
	if want := (endedOp{op: observe.Refresh, r: observe.Result{Status: 401, Code: "invalid_grant", Reason: "reused"}}); !has(ops, want) {
		t.Errorf("reuse: %+v lacks %+v", ops, want)
	}
	if !slices.Contains(evs, audit.RefreshReused) {
		t.Errorf("reuse: events %v lack refresh_reused", evs)
	}

	tok = k.login("bob", bobPW)
	obs.take()
	expect(t, k.do("POST", "/auth/logout", nil, bearer(tok.AccessToken)...), 204, "")
	ops, _ = obs.take()
	if want := (endedOp{op: observe.Logout, r: observe.Result{Status: 204}}); !has(ops, want) {
		t.Errorf("logout: %+v lacks %+v", ops, want)
	}
	if want := (endedOp{op: observe.StorePrefix + "RevokeSession", parent: observe.Logout}); !has(ops, want) {
		t.Errorf("logout: %+v lacks %+v", ops, want)
	}

	expect(t, k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": "wrong-password-1"}), 401, "invalid_credentials")
	ops, _ = obs.take()
	if want := (endedOp{op: observe.Login, r: observe.Result{Status: 401, Code: "invalid_credentials"}}); !has(ops, want) {
		t.Errorf("failed login: %+v lacks %+v", ops, want)
	}
	if want := (endedOp{op: observe.PasswordHash, parent: observe.Login, r: observe.Result{Code: "invalid_credentials"}}); !has(ops, want) {
		t.Errorf("failed login: %+v lacks %+v", ops, want)
	}
	for _, o := range ops {
		if !strings.HasPrefix(string(o.op), observe.StorePrefix) && o.parent != "" && o.op != observe.PasswordWait && o.op != observe.PasswordHash {
			t.Errorf("%s ran within %s", o.op, o.parent)
		}
	}
}

// TestPasswordSlots: the slots' gauge reports their number, and none busy
// or waiting at rest.
func TestPasswordSlots(t *testing.T) {
	k := newMemKit(t, func(c *kitConfig) { c.Throttle.PasswordConcurrency = 3 })
	k.login("alice", alicePW)
	if got, want := k.auth.PasswordSlots(), (observe.SlotStats{Size: 3}); got != want {
		t.Errorf("PasswordSlots() = %+v, want %+v", got, want)
	}
}
