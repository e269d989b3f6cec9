package redisstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

func TestContractAPIKeys(t *testing.T) {
	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprintf("LocalCache=%v", cache), func(t *testing.T) {
			storetest.RunAPIKeys(t, func(t *testing.T, now func() time.Time) storetest.APIKeyBackend {
				return newKeyStore(t, now, false, cache)
			})
		})
	}
}

func TestContractAPIKeysExternalUsers(t *testing.T) {
	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprintf("LocalCache=%v", cache), func(t *testing.T) {
			storetest.RunExternalAPIKeys(t, func(t *testing.T, now func() time.Time) store.APIKeyStore {
				return newKeyStore(t, now, true, cache)
			})
		})
	}
}

// newKeyStore is a store on the test Redis, under a prefix of its own,
// with external users or not, and with a local cache (subscribed before
// it returns) or not.
func newKeyStore(t *testing.T, now func() time.Time, external, cache bool) *redisstore.Store {
	t.Helper()
	rdb, prefix := testredis.New(t)
	opts := redisstore.Options{Prefix: prefix, Now: now, ExternalUsers: external}
	if cache {
		opts.LocalCache = &redisstore.LocalCacheOptions{}
	}
	s, err := redisstore.New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if cache {
		waitReady(t, s, true)
	}
	return s
}

// newKey returns a key of alice, created now, in her generation.
func (f *fixture) newKey(t *testing.T, id string) store.APIKey {
	t.Helper()
	u, err := f.s.User(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return store.APIKey{
		ID: id, Owner: "alice", Name: "cron job", Secret: store.HashSecret([]byte(id)),
		Roles: []string{"user"}, CreatedAt: f.clock.Now(), Generation: u.Generation,
	}
}

// TestUseAPIKeyOneRoundTrip checks the request path: UseAPIKey is one
// EVALSHA on keys of the owner's slot, also when it records a use, and
// a miss costs no more.
func TestUseAPIKeyOneRoundTrip(t *testing.T) {
	f := newFixture(t)
	k := f.newKey(t, "key-0001")
	if err := f.s.AddAPIKey(f.ctx, k); err != nil {
		t.Fatal(err)
	}
	// Load the script, so that no call below pays for EVAL's fallback.
	if _, err := f.s.UseAPIKey(f.ctx, "alice", k.ID); err != nil {
		t.Fatal(err)
	}
	hook := &hookRecorder{}
	f.rdb.AddHook(hook)
	for _, c := range []struct {
		name    string
		advance time.Duration
		id      string
	}{
		{"Read", 0, k.ID},
		{"ReadAndTouch", store.APIKeyTouchInterval, k.ID},
		{"Miss", 0, "key-none"},
	} {
		f.clock.Advance(c.advance)
		_, err := f.s.UseAPIKey(f.ctx, "alice", c.id)
		if c.id == k.ID && err != nil || c.id != k.ID && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: UseAPIKey = %v", c.name, err)
		}
		process, pipelines, cmds := hook.take()
		if process != 1 || pipelines != 0 || len(cmds) != 1 || names(cmds)[0] != "evalsha" {
			t.Errorf("%s: %d commands and %d pipelines %v, want one EVALSHA", c.name, process, pipelines, names(cmds))
			continue
		}
		keys := commandKeys(t, cmds[0])
		for _, key := range keys {
			if !strings.HasPrefix(key, f.prefix+"{u:alice}:") || keySlot(key) != keySlot(keys[0]) {
				t.Errorf("%s: keys %q, want alice's, in one slot", c.name, keys)
			}
		}
	}
	list, err := f.s.APIKeys(f.ctx, "alice")
	if err != nil || len(list) != 1 || !list[0].LastUsed.Equal(f.clock.Now()) {
		t.Errorf("APIKeys = %v, %v; want the use recorded at %v", list, err, f.clock.Now())
	}
}

// TestAPIKeyLayout checks the documented keys: an owner's keys are the
// hash P{u:<name>}:k, one field per ID, which an add of a key drops its
// expired keys from, and a revocation deletes them from.
func TestAPIKeyLayout(t *testing.T) {
	f := newFixture(t)
	old := f.newKey(t, "key-old1")
	old.ExpiresAt = f.clock.Now().Add(time.Hour)
	k := f.newKey(t, "key-0001")
	for _, k := range []store.APIKey{old, k} {
		if err := f.s.AddAPIKey(f.ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if fields, err := f.rdb.HKeys(f.ctx, f.key("k")).Result(); err != nil || len(fields) != 2 {
		t.Errorf("HKEYS %s = %q, %v; want the two keys", f.key("k"), fields, err)
	}
	v, err := f.rdb.HGet(f.ctx, f.key("k"), k.ID).Result()
	if err != nil || len(v) > 100 || !strings.HasPrefix(v, "0 ") || !strings.HasSuffix(v, string(k.Secret[:])) {
		t.Errorf("HGET %s %s = %q, %v; want a compact record, unused, ending with the digest", f.key("k"), k.ID, v, err)
	}
	f.clock.Advance(time.Hour)
	if err := f.s.AddAPIKey(f.ctx, f.newKey(t, "key-0002")); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.rdb.HExists(f.ctx, f.key("k"), old.ID).Result(); err != nil || ok {
		t.Errorf("HEXISTS of an expired key after an add = %v, %v; want it dropped", ok, err)
	}
	for _, id := range []string{k.ID, "key-0002"} {
		if err := f.s.RevokeAPIKey(f.ctx, "alice", id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := f.rdb.Exists(f.ctx, f.key("k")).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %s after revoking every key = %d, %v; want 0", f.key("k"), n, err)
	}
}

// TestAPIKeyUnreadableRecord edits a key's record by hand: the key does
// not work (not found), and listing fails as an infrastructure error.
func TestAPIKeyUnreadableRecord(t *testing.T) {
	f := newFixture(t)
	k := f.newKey(t, "key-0001")
	if err := f.s.AddAPIKey(f.ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.HSet(f.ctx, f.key("k"), k.ID, "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UseAPIKey(f.ctx, "alice", k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseAPIKey of an unreadable record = %v, want ErrNotFound", err)
	}
	if list, err := f.s.APIKeys(f.ctx, "alice"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeys with an unreadable record = %v, %v; want an infrastructure error", list, err)
	}
}
