package observe_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
)

type key string

// trail records the order of calls, and passes a context value on.
type trail struct {
	name   string
	calls  *[]string
	events bool
}

func (t trail) Begin(ctx context.Context, op observe.Op) (context.Context, observe.End) {
	*t.calls = append(*t.calls, fmt.Sprintf("%s begin %s after %v", t.name, op, ctx.Value(key("last"))))
	return context.WithValue(ctx, key("last"), t.name), func(r observe.Result) {
		*t.calls = append(*t.calls, fmt.Sprintf("%s end %s", t.name, r.Code))
	}
}

type eventTrail struct{ trail }

func (t eventTrail) Event(_ context.Context, e audit.Event) {
	*t.calls = append(*t.calls, t.name+" event "+string(e.Kind))
}

// TestJoin: each observer begins in the context the one before returned,
// they end in reverse order, and events reach those that take them.
func TestJoin(t *testing.T) {
	var calls []string
	o := observe.Join(trail{name: "a", calls: &calls}, nil, eventTrail{trail{name: "b", calls: &calls}})
	_, end := o.Begin(context.Background(), observe.Refresh)
	end(observe.Result{Code: "invalid_grant"})
	o.(observe.EventObserver).Event(context.Background(), audit.Event{Kind: audit.RefreshReused})
	want := []string{"a begin refresh after <nil>", "b begin refresh after a", "b end invalid_grant", "a end invalid_grant", "b event refresh_reused"}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("calls = %q, want %q", calls, want)
	}
}

func TestStoreResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"not found", fmt.Errorf("x: %w", store.ErrNotFound), "not_found"},
		{"reused", store.ErrReused, "not_found"},
		{"stale", store.ErrStale, "not_found"},
		{"failure", errors.New("connection refused"), "error"},
		{"deadline", context.DeadlineExceeded, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := observe.StoreResult(tc.err).Code; got != tc.want {
				t.Errorf("StoreResult(%v).Code = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
