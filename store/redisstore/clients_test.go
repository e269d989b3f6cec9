package redisstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/storetest"
)

func TestContractClients(t *testing.T) {
	storetest.RunClients(t, func(t *testing.T, now func() time.Time) store.ClientStore {
		return newTestStore(t, now)
	})
}

// newClient returns a client with id, created now.
func (f *fixture) newClient(id string) store.OAuthClient {
	return store.OAuthClient{
		ID: id, Secret: store.HashSecret([]byte(id)), Roles: []string{"service", "reports"}, CreatedAt: f.clock.Now(),
	}
}

// TestClientLayout checks the documented key: every client is a field
// of the one hash P + "clients", named by its ID, whose value is a
// compact record ending with the digest; removing the last client
// leaves no key.
func TestClientLayout(t *testing.T) {
	f := newFixture(t)
	key := f.prefix + "clients"
	a, b := f.newClient("svc-a"), f.newClient("svc-b")
	for _, c := range []store.OAuthClient{a, b} {
		if err := f.s.AddClient(f.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if fields, err := f.rdb.HKeys(f.ctx, key).Result(); err != nil || len(fields) != 2 {
		t.Errorf("HKEYS %s = %q, %v; want the two clients", key, fields, err)
	}
	v, err := f.rdb.HGet(f.ctx, key, a.ID).Result()
	want := "service,reports " + string(a.Secret[:])
	if err != nil || len(v) > 64 || !strings.HasSuffix(v, want) {
		t.Errorf("HGET %s %s = %q, %v; want a record of at most 64 bytes ending with %q", key, a.ID, v, err, want)
	}
	if ttl, err := f.rdb.PTTL(f.ctx, key).Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL %s = %v, %v; want no expiry", key, ttl, err)
	}
	for _, c := range []store.OAuthClient{a, b} {
		if err := f.s.RemoveClient(f.ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := f.rdb.Exists(f.ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %s after removing every client = %d, %v; want 0", key, n, err)
	}
}

// TestClientUnreadableRecord edits a client's record by hand: the
// client does not work (not found), listing fails as an infrastructure
// error, and removing it still works.
func TestClientUnreadableRecord(t *testing.T) {
	f := newFixture(t)
	key := f.prefix + "clients"
	c := f.newClient("svc")
	if err := f.s.AddClient(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"garbage", "1 service short", "x service " + string(c.Secret[:]), ""} {
		if err := f.rdb.HSet(f.ctx, key, c.ID, bad).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Client(f.ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Client of the record %q = %v, want ErrNotFound", bad, err)
		}
		if list, err := f.s.Clients(f.ctx); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("Clients with the record %q = %v, %v; want an infrastructure error", bad, list, err)
		}
	}
	if err := f.s.RemoveClient(f.ctx, c.ID); err != nil {
		t.Errorf("RemoveClient of an unreadable record = %v", err)
	}
}
