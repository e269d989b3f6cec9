package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
)

// TestUseAPIKeyScriptMatchesTouchRule holds the touch rule as
// useAPIKeyScript applies it in Lua, and as the local cache applies it
// in Go (apiKeyTouchDue), to the rule of [store.APIKeyStore.UseAPIKey]
// (a use is recorded when the last one is APIKeyTouchInterval old or
// more, or there was none): on each boundary the script must record the
// use exactly when the rule says so, keep the rest of the record, and
// reply the record as it was.
func TestUseAPIKeyScriptMatchesTouchRule(t *testing.T) {
	rdb, prefix := testredis.New(t)
	s, err := New(rdb, Options{Prefix: prefix, ExternalUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created := time.UnixMilli(1_900_000_000_000)
	touch := store.APIKeyTouchInterval
	for _, c := range []struct {
		name      string
		last, now time.Time
	}{
		{"NeverUsed", time.Time{}, created},
		{"SameInstant", created, created},
		{"JustUnder", created, created.Add(touch - time.Millisecond)},
		{"Exactly", created, created.Add(touch)},
		{"JustOver", created, created.Add(touch + time.Millisecond)},
		{"Years", created, created.Add(20 * 365 * 24 * time.Hour)},
		{"ClockBehind", created.Add(time.Hour), created},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := store.APIKey{
				ID: "key-0001", Owner: "alice", Name: "a b\x00c", Secret: store.HashSecret([]byte("s")),
				Roles: []string{"user", "x:y"}, CreatedAt: created, ExpiresAt: created.Add(48 * time.Hour),
				LastUsed: c.last, Generation: 1<<64 - 1,
			}
			rec := encodeAPIKey(k)
			if err := rdb.HSet(ctx, s.apiKeysKey("alice"), k.ID, rec).Err(); err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return c.now }
			got, err := s.UseAPIKey(ctx, "alice", k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if encodeAPIKey(got.Key) != rec {
				t.Errorf("UseAPIKey = %+v, want the key as it was, %+v", got.Key, k)
			}
			want := k
			due := c.last.IsZero() || c.now.Sub(c.last) >= touch
			if due {
				want.LastUsed = c.now
			}
			if got := apiKeyTouchDue(millisOrZero(c.last), c.now.UnixMilli()); got != due {
				t.Errorf("apiKeyTouchDue = %v, want %v", got, due)
			}
			stored, err := rdb.HGet(ctx, s.apiKeysKey("alice"), k.ID).Result()
			if err != nil || stored != encodeAPIKey(want) {
				t.Errorf("stored %q, %v; want %q", stored, err, encodeAPIKey(want))
			}
		})
	}
}
