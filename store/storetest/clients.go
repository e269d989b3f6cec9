package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// RunClients runs the contract of a [store.ClientStore]: clients added
// once per ID (of concurrent adds of one ID exactly one wins), listed by
// ID, removed once, never aliasing the caller's roles. Each subtest gets
// a fresh store from newStore; now is the clock it must use.
func RunClients(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.ClientStore) {
	t.Helper()
	runCases(t, clientCases, func(t *testing.T, clk *clock) *clenv {
		return &clenv{s: notNil(t, newStore(t, clk.Now)), clock: clk, ctx: t.Context()}
	})
}

// clenv is what a client case works with.
type clenv struct {
	s     store.ClientStore
	clock *clock
	ctx   context.Context
}

var clientCases = []caseOf[clenv]{
	{"AddGetListOrder", testClientAddList},
	{"Duplicate", testClientDuplicate},
	{"DuplicateConcurrent", testClientDuplicateConcurrent},
	{"Invalid", testClientInvalid},
	{"Unknown", testClientUnknown},
	{"Remove", testClientRemove},
	{"Copies", testClientCopies},
	{"ContextDone", testClientContextDone},
}

// client returns a client with id, a fresh secret digest, the roles
// service and reports, created now.
func (e *clenv) client(id string) store.OAuthClient {
	return store.OAuthClient{
		ID: id, Secret: newDigest(), Roles: []string{"service", "reports"}, CreatedAt: e.clock.Now(),
	}
}

// add stores c, failing the test on error.
func (e *clenv) add(t *testing.T, c store.OAuthClient) {
	t.Helper()
	must(t, fmt.Sprintf("AddClient(%s)", c.ID), e.s.AddClient(e.ctx, c))
}

// wantClient fails the test unless id reads back as want.
func (e *clenv) wantClient(t *testing.T, what string, want store.OAuthClient) {
	t.Helper()
	got, err := e.s.Client(e.ctx, want.ID)
	if err != nil {
		t.Errorf("%s: Client(%s) = %v", what, want.ID, err)
		return
	}
	checkClient(t, fmt.Sprintf("%s: Client(%s)", what, want.ID), got, want)
}

// wantClients fails the test unless the clients read back as want, in
// that order.
func (e *clenv) wantClients(t *testing.T, what string, want ...store.OAuthClient) {
	t.Helper()
	got, err := e.s.Clients(e.ctx)
	if err != nil {
		t.Errorf("%s: Clients = %v", what, err)
		return
	}
	if len(got) != len(want) {
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		t.Errorf("%s: Clients = %d clients %q, want %d", what, len(got), ids, len(want))
		return
	}
	for i := range want {
		checkClient(t, fmt.Sprintf("%s: Clients[%d]", what, i), got[i], want[i])
	}
}

// wantGone fails the test unless id reads as not found.
func (e *clenv) wantGone(t *testing.T, what, id string) {
	t.Helper()
	_, err := e.s.Client(e.ctx, id)
	wantErr(t, fmt.Sprintf("%s: Client(%q)", what, id), err, store.ErrNotFound)
}

// checkClient reports every field of got that differs from want. No
// roles and empty roles are the same.
func checkClient(t *testing.T, what string, got, want store.OAuthClient) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("%s: client %q, want %q", what, got.ID, want.ID)
		return
	}
	if got.Secret != want.Secret {
		t.Errorf("%s: Secret = %v, want %v", what, got.Secret, want.Secret)
	}
	if !slices.Equal(got.Roles, want.Roles) && (len(got.Roles) != 0 || len(want.Roles) != 0) {
		t.Errorf("%s: Roles = %q, want %q", what, got.Roles, want.Roles)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: CreatedAt = %v, want %v", what, got.CreatedAt, want.CreatedAt)
	}
}

func testClientAddList(t *testing.T, e *clenv) {
	e.wantClients(t, "before any")
	// Added out of order, and at different times: the list is by ID.
	b := e.client("svc-b")
	e.add(t, b)
	e.clock.Advance(time.Second)
	a := e.client("svc-a")
	a.Roles = nil
	e.add(t, a)
	e.clock.Advance(time.Second)
	c := e.client("svc.c_" + strings.Repeat("x", store.MaxClientIDLen-6))
	e.add(t, c)
	upper := e.client("SVC-Z") // ASCII upper case sorts first
	e.add(t, upper)
	for _, want := range []store.OAuthClient{a, b, c, upper} {
		e.wantClient(t, "after adding", want)
	}
	e.wantClients(t, "after adding", upper, a, b, c)
	// IDs are case-sensitive.
	e.wantGone(t, "another case", "svc-A")
}

func testClientDuplicate(t *testing.T, e *clenv) {
	c := e.client("svc")
	e.add(t, c)
	again := e.client("svc")
	again.Roles = []string{"admin"}
	e.clock.Advance(time.Second)
	again.CreatedAt = e.clock.Now()
	wantErr(t, "AddClient of an ID in use", e.s.AddClient(e.ctx, again), store.ErrExists)
	e.wantClient(t, "after ErrExists", c)
	e.wantClients(t, "after ErrExists", c)
}

// testClientDuplicateConcurrent checks that of concurrent adds of one
// ID exactly one succeeds, and that it is the one stored.
func testClientDuplicateConcurrent(t *testing.T, e *clenv) {
	const n = 16
	tries := make([]store.OAuthClient, n)
	for i := range tries {
		tries[i] = e.client("svc")
	}
	var won atomic.Int64
	winner := make(chan int, n)
	concurrently(n, func(i int) {
		err := e.s.AddClient(e.ctx, tries[i])
		switch {
		case err == nil:
			won.Add(1)
			winner <- i
		case !errors.Is(err, store.ErrExists):
			t.Errorf("concurrent AddClient = %v, want nil or ErrExists", err)
		}
	})
	if won.Load() != 1 {
		t.Fatalf("%d concurrent adds of one ID succeeded, want exactly 1", won.Load())
	}
	w := tries[<-winner]
	e.wantClient(t, "after concurrent adds", w)
	e.wantClients(t, "after concurrent adds", w)
}

func testClientInvalid(t *testing.T, e *clenv) {
	good := e.client("svc")
	change := func(f func(*store.OAuthClient)) store.OAuthClient {
		c := good
		c.Roles = slices.Clone(good.Roles)
		f(&c)
		return c
	}
	for _, c := range []struct {
		name   string
		client store.OAuthClient
	}{
		{"EmptyID", change(func(c *store.OAuthClient) { c.ID = "" })},
		{"LongID", change(func(c *store.OAuthClient) { c.ID = strings.Repeat("s", store.MaxClientIDLen+1) })},
		{"SpaceInID", change(func(c *store.OAuthClient) { c.ID = "my svc" })},
		{"BracesInID", change(func(c *store.OAuthClient) { c.ID = "{svc}" })},
		{"ColonInID", change(func(c *store.OAuthClient) { c.ID = "svc:1" })},
		{"NonASCIIID", change(func(c *store.OAuthClient) { c.ID = "sérvice" })},
		{"NULInID", change(func(c *store.OAuthClient) { c.ID = "svc\x00" })},
		{"ZeroDigest", change(func(c *store.OAuthClient) { c.Secret = store.Digest{} })},
		{"NoCreationTime", change(func(c *store.OAuthClient) { c.CreatedAt = time.Time{} })},
		{"EmptyRole", change(func(c *store.OAuthClient) { c.Roles = []string{""} })},
		{"RoleWithComma", change(func(c *store.OAuthClient) { c.Roles = []string{"a,b"} })},
		{"RoleTwice", change(func(c *store.OAuthClient) { c.Roles = []string{"service", "service"} })},
		{"TooManyRoles", change(func(c *store.OAuthClient) {
			c.Roles = nil
			for i := range store.MaxRoles + 1 {
				c.Roles = append(c.Roles, fmt.Sprintf("r%d", i))
			}
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, "AddClient", e.s.AddClient(e.ctx, c.client), store.ErrInvalid)
		})
	}
	e.wantClients(t, "after the refused adds")
	e.add(t, good)
	e.wantClients(t, "after adding a valid one", good)
}

// testClientUnknown checks that absent IDs, and IDs that no client can
// have, read as not found.
func testClientUnknown(t *testing.T, e *clenv) {
	c := e.client("svc")
	e.add(t, c)
	for _, id := range []string{"svc2", "sv", "SVC", "", "{svc}", "svc ", strings.Repeat("s", 1000)} {
		e.wantGone(t, "unknown", id)
		wantErr(t, fmt.Sprintf("RemoveClient(%q)", id), e.s.RemoveClient(e.ctx, id), store.ErrNotFound)
	}
	e.wantClients(t, "after the misses", c)
}

func testClientRemove(t *testing.T, e *clenv) {
	c, other := e.client("svc"), e.client("svc-other")
	e.add(t, c)
	e.add(t, other)
	must(t, "RemoveClient", e.s.RemoveClient(e.ctx, c.ID))
	e.wantGone(t, "after RemoveClient", c.ID)
	wantErr(t, "RemoveClient again", e.s.RemoveClient(e.ctx, c.ID), store.ErrNotFound)
	e.wantClient(t, "the other after RemoveClient", other)
	e.wantClients(t, "after RemoveClient", other)
	// Removed, the ID is free again, for a client with a new secret.
	again := e.client("svc")
	e.add(t, again)
	e.wantClient(t, "added again", again)
	must(t, "RemoveClient(other)", e.s.RemoveClient(e.ctx, other.ID))
	must(t, "RemoveClient(again)", e.s.RemoveClient(e.ctx, again.ID))
	e.wantClients(t, "after removing all")
}

// testClientCopies checks that neither the caller's roles nor those the
// store returned alias what the store keeps.
func testClientCopies(t *testing.T, e *clenv) {
	c := e.client("svc")
	want := c
	want.Roles = slices.Clone(c.Roles)
	e.add(t, c)
	c.Roles[0] = "admin"
	e.wantClient(t, "after changing the added roles", want)
	got, err := e.s.Client(e.ctx, want.ID)
	must(t, "Client", err)
	got.Roles[0] = "admin"
	e.wantClient(t, "after changing Client's roles", want)
	list, err := e.s.Clients(e.ctx)
	must(t, "Clients", err)
	list[0].Roles[0] = "admin"
	e.wantClients(t, "after changing the listed roles", want)
}

// testClientContextDone checks that a call whose context is over fails
// with an infrastructure error and changes nothing.
func testClientContextDone(t *testing.T, e *clenv) {
	c := e.client("svc")
	e.add(t, c)
	for _, d := range doneContexts(t, e.ctx) {
		t.Run(d.name, func(t *testing.T) {
			ctx := d.ctx
			calls := []struct {
				name string
				call func() error
			}{
				{"AddClient", func() error { return e.s.AddClient(ctx, e.client("svc2")) }},
				{"AddClientExisting", func() error { return e.s.AddClient(ctx, e.client("svc")) }},
				{"Client", func() error { _, err := e.s.Client(ctx, c.ID); return err }},
				{"ClientUnknown", func() error { _, err := e.s.Client(ctx, "svc-none"); return err }},
				{"ClientInvalidID", func() error { _, err := e.s.Client(ctx, "{svc}"); return err }},
				{"Clients", func() error { _, err := e.s.Clients(ctx); return err }},
				{"RemoveClient", func() error { return e.s.RemoveClient(ctx, c.ID) }},
				{"RemoveClientUnknown", func() error { return e.s.RemoveClient(ctx, "svc-none") }},
			}
			for _, call := range calls {
				wantInfraErr(t, call.name, call.call())
			}
		})
	}
	e.wantClients(t, "after the failed calls", c)
}
