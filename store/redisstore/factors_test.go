package redisstore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

func TestContractFactors(t *testing.T) {
	storetest.RunFactors(t, func(t *testing.T, now func() time.Time) store.FactorBackend {
		return newTestStore(t, now)
	})
}

func TestContractChallenges(t *testing.T) {
	storetest.RunChallenges(t, func(t *testing.T, now func() time.Time) store.ChallengeStore {
		return newTestStore(t, now)
	})
}

// newTestStore is a store on the test Redis, under a prefix of its own
// whose keys are deleted after the test.
func newTestStore(t *testing.T, now func() time.Time) *redisstore.Store {
	t.Helper()
	rdb, prefix := testredis.New(t)
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFactorKeyLayout checks the documented keys: a user's factors and
// recovery codes in the user's slot, the passkey owner entry named by
// the digest of its ID, and a challenge key with a TTL.
func TestFactorKeyLayout(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	key := store.Factor{Kind: store.Passkey, ID: "cred", Name: "Key", Data: []byte("c"), CreatedAt: now}
	if err := f.s.AddFactor(f.ctx, "alice", key); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetRecoveryCodes(f.ctx, "alice", []store.Digest{store.HashSecret([]byte("code"))}); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.rdb.HExists(f.ctx, f.key("f"), "passkey:cred").Result(); err != nil || !ok {
		t.Errorf("HEXISTS %s passkey:cred = %v, %v; want the factor", f.key("f"), ok, err)
	}
	if n, err := f.rdb.SCard(f.ctx, f.key("r")).Result(); err != nil || n != 1 {
		t.Errorf("SCARD %s = %d, %v; want 1", f.key("r"), n, err)
	}
	sum := sha256.Sum256([]byte("passkey:cred"))
	owner := f.prefix + "{f:" + base64.RawURLEncoding.EncodeToString(sum[:]) + "}"
	if v, err := f.rdb.Get(f.ctx, owner).Result(); err != nil || v != "alice" {
		t.Errorf("GET %s = %q, %v; want alice", owner, v, err)
	}
	id := store.HashSecret([]byte("ticket"))
	if err := f.s.PutChallenge(f.ctx, id, []byte("v"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ck := f.prefix + "{c:" + base64.RawURLEncoding.EncodeToString(id[:]) + "}"
	if ttl, err := f.rdb.PTTL(f.ctx, ck).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL %s = %v, %v; want up to a minute", ck, ttl, err)
	}
}

// TestFactorOwnerEntry checks the two-step write of a passkey's owner
// entry: a failed add releases its claim, and an entry whose owner no
// longer holds the factor (left by a crash) names nobody.
func TestFactorOwnerEntry(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	passkey := func(id string) store.Factor {
		return store.Factor{Kind: store.Passkey, ID: id, Data: []byte("c"), CreatedAt: now}
	}
	for i := range store.MaxFactors {
		if err := f.s.AddFactor(f.ctx, "alice", passkey(fmt.Sprint("cred-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.s.AddFactor(f.ctx, "alice", passkey("extra")); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("AddFactor beyond the cap = %v, want ErrInvalid", err)
	}
	// The refused add released its claim: bob can have the credential.
	if err := f.s.AddFactor(f.ctx, "bob", passkey("extra")); err != nil {
		t.Errorf("bob's AddFactor after alice's was refused = %v", err)
	}

	// A crash between deleting the factor and releasing the entry.
	if err := f.rdb.HDel(f.ctx, f.key("f"), "passkey:cred-0").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.FactorOwner(f.ctx, store.Passkey, "cred-0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FactorOwner of a factor its owner no longer holds = %v, want ErrNotFound", err)
	}
	if err := f.s.AddFactor(f.ctx, "bob", passkey("cred-0")); !errors.Is(err, store.ErrExists) {
		t.Errorf("bob's AddFactor over a stale entry = %v, want ErrExists", err)
	}
	// Its owner's removal releases it.
	if err := f.s.RemoveFactor(f.ctx, "alice", store.Passkey, "cred-0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveFactor of the lost factor = %v, want ErrNotFound", err)
	}
	if err := f.s.AddFactor(f.ctx, "bob", passkey("cred-0")); err != nil {
		t.Errorf("bob's AddFactor after the entry was released = %v", err)
	}
}

// TestFactorUnreadableRecordFailsClosed edits a factor's record by hand:
// listing fails as an infrastructure error (never as "no factors", which
// would let a login skip the factor), a use is refused, and an add does
// not replace it.
func TestFactorUnreadableRecordFailsClosed(t *testing.T) {
	f := newFixture(t)
	totp := store.Factor{Kind: store.TOTP, ID: "totp", Data: []byte("sealed"), CreatedAt: f.clock.Now()}
	if err := f.s.AddFactor(f.ctx, "alice", totp); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.HSet(f.ctx, f.key("f"), "totp:totp", "garbage").Err(); err != nil {
		t.Fatal(err)
	}
	list, err := f.s.Factors(f.ctx, "alice")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Factors with an unreadable record = %v, %v; want an infrastructure error", list, err)
	}
	if _, err := f.s.UseFactor(f.ctx, "alice", store.TOTP, "totp", 1, f.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UseFactor of an unreadable record = %v, want ErrNotFound", err)
	}
	if err := f.s.AddFactor(f.ctx, "alice", totp); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddFactor over an unreadable record = %v, want ErrExists", err)
	}
}
