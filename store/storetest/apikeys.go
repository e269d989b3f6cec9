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

// APIKeyBackend is what [RunAPIKeys] tests: a [store.APIKeyStore] that
// keeps the owners of its keys, through whose [store.UserStore] the
// suite creates and changes them.
type APIKeyBackend interface {
	store.APIKeyStore
	store.UserStore
}

// RunAPIKeys runs the contract of a [store.APIKeyStore] that keeps its
// users (memstore and redisstore by default, sqlstore): adding, listing
// and the cap, UseAPIKey's one read of the key with its owner and its
// touch rule, expiry moved only earlier, revocation, and keys whose
// owner changed (returned as they are, no longer [store.APIKey.Live]).
// When the backend is also a [store.SessionStore], RevokeAll must end
// the owner's keys too. Each subtest gets a fresh store from newStore;
// now is the clock it must use.
func RunAPIKeys(t *testing.T, newStore func(t *testing.T, now func() time.Time) APIKeyBackend) {
	t.Helper()
	runCases(t, append(slices.Clone(apiKeyCases), ownerCases...), func(t *testing.T, clk *clock) *kenv {
		s := notNil(t, newStore(t, clk.Now))
		return &kenv{s: s, u: s, clock: clk, ctx: t.Context()}
	})
}

// RunExternalAPIKeys runs the contract of a [store.APIKeyStore]
// configured for users held in another [store.UserSource] (memstore and
// redisstore with ExternalUsers): the cases of [RunAPIKeys] that need no
// user, with keys of any valid username and UseAPIKey reporting
// OwnerKnown false.
func RunExternalAPIKeys(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.APIKeyStore) {
	t.Helper()
	runCases(t, append(slices.Clone(apiKeyCases), externalKeyCases...), func(t *testing.T, clk *clock) *kenv {
		return &kenv{s: notNil(t, newStore(t, clk.Now)), clock: clk, ctx: t.Context()}
	})
}

// kenv is what an API-key case works with.
type kenv struct {
	s store.APIKeyStore
	// u is the store as a user store; nil for external users.
	u     store.UserStore
	clock *clock
	ctx   context.Context
}

// apiKeyCases hold for both shapes of store.
var apiKeyCases = []caseOf[kenv]{
	{"AddListOrder", testKeyAddListOrder},
	{"Duplicate", testKeyDuplicate},
	{"Invalid", testKeyInvalid},
	{"MaxAPIKeys", testKeyMax},
	{"MaxAPIKeysConcurrent", testKeyMaxConcurrent},
	{"UseReturnsKeyAndOwner", testKeyUse},
	{"LastUsedOnceAMinute", testKeyTouch},
	{"UseUnknown", testKeyUseUnknown},
	{"ExpireOnlyEarlier", testKeyExpire},
	{"Expired", testKeyExpired},
	{"Revoke", testKeyRevoke},
	{"Copies", testKeyCopies},
	{"ContextDone", testKeyContextDone},
}

// ownerCases hold for a store that keeps users.
var ownerCases = []caseOf[kenv]{
	{"AddWithoutOwner", func(t *testing.T, e *kenv) {
		err := e.s.AddAPIKey(e.ctx, e.key(t, "nobody", "key-0001"))
		wantErr(t, "AddAPIKey of an absent owner", err, store.ErrNotFound)
		e.wantKeys(t, "after the refused add", "nobody")
	}},
	{"OwnerChanged", testKeyOwnerChanged},
}

// externalKeyCases hold for a store of external users.
var externalKeyCases = []caseOf[kenv]{
	{"AnyOwner", func(t *testing.T, e *kenv) {
		k := e.key(t, "nobody", "key-0001")
		e.add(t, k)
		e.wantKeys(t, "a key of a user the store never saw", "nobody", k)
	}},
}

// owner makes username an owner of keys with roles: a user of the store,
// or for external users nothing at all. It returns the generation a key
// of the owner carries.
func (e *kenv) owner(t *testing.T, username string, roles ...string) uint64 {
	t.Helper()
	if e.u == nil {
		return 7
	}
	if _, err := e.u.User(e.ctx, username); err == nil {
		t.Fatalf("owner %s made twice", username)
	}
	u := store.User{Username: username, PasswordHash: []byte("$2a$10$" + username), Roles: roles}
	must(t, "CreateUser "+username, e.u.CreateUser(e.ctx, u))
	got, err := e.u.User(e.ctx, username)
	must(t, "User "+username, err)
	return got.Generation
}

// key returns a key of owner with id, created now, in the owner's
// current generation (without a user store: 7), with the roles user
// and reports.
func (e *kenv) key(t *testing.T, owner, id string) store.APIKey {
	t.Helper()
	gen := uint64(7)
	if e.u != nil {
		if u, err := e.u.User(e.ctx, owner); err == nil {
			gen = u.Generation
		}
	}
	return store.APIKey{
		ID: id, Owner: owner, Name: "Key " + id, Secret: newDigest(),
		Roles: []string{"user", "reports"}, CreatedAt: e.clock.Now(), Generation: gen,
	}
}

// add stores k, failing the test on error.
func (e *kenv) add(t *testing.T, k store.APIKey) {
	t.Helper()
	must(t, fmt.Sprintf("AddAPIKey(%s, %s)", k.Owner, k.ID), e.s.AddAPIKey(e.ctx, k))
}

// use calls UseAPIKey, failing the test on error.
func (e *kenv) use(t *testing.T, owner, id string) store.APIKeyUse {
	t.Helper()
	u, err := e.s.UseAPIKey(e.ctx, owner, id)
	must(t, fmt.Sprintf("UseAPIKey(%s, %s)", owner, id), err)
	return u
}

// wantKeys fails the test unless owner's keys read back as want, in
// that order.
func (e *kenv) wantKeys(t *testing.T, what, owner string, want ...store.APIKey) {
	t.Helper()
	got, err := e.s.APIKeys(e.ctx, owner)
	if err != nil {
		t.Errorf("%s: APIKeys(%s) = %v", what, owner, err)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: APIKeys(%s) = %d keys %v, want %d", what, owner, len(got), keyIDs(got), len(want))
		return
	}
	for i := range want {
		checkKey(t, fmt.Sprintf("%s: APIKeys(%s)[%d]", what, owner, i), got[i], want[i])
	}
}

func keyIDs(ks []store.APIKey) []string {
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	return ids
}

// checkKey reports every field of got that differs from want.
func checkKey(t *testing.T, what string, got, want store.APIKey) {
	t.Helper()
	if got.ID != want.ID || got.Owner != want.Owner {
		t.Errorf("%s: key %s of %s, want %s of %s", what, got.ID, got.Owner, want.ID, want.Owner)
		return
	}
	if got.Name != want.Name {
		t.Errorf("%s: Name = %q, want %q", what, got.Name, want.Name)
	}
	if got.Secret != want.Secret {
		t.Errorf("%s: Secret = %v, want %v", what, got.Secret, want.Secret)
	}
	if !slices.Equal(got.Roles, want.Roles) && (len(got.Roles) != 0 || len(want.Roles) != 0) {
		t.Errorf("%s: Roles = %q, want %q", what, got.Roles, want.Roles)
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastUsed", got.LastUsed, want.LastUsed},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s: %s = %v, want %v", what, c.name, c.got, c.want)
		}
	}
	if got.Generation != want.Generation {
		t.Errorf("%s: Generation = %d, want %d", what, got.Generation, want.Generation)
	}
}

func testKeyAddListOrder(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user", "reports")
	e.owner(t, "bob", "user")
	e.wantKeys(t, "before any", "alice")
	// Same creation time: the ID breaks the tie.
	b, a := e.key(t, "alice", "key-bbbb"), e.key(t, "alice", "key-aaaa")
	a.Name, a.Roles = "", nil
	b.ExpiresAt = e.clock.Now().Add(life)
	e.add(t, b)
	e.add(t, a)
	e.clock.Advance(time.Second)
	c := e.key(t, "alice", "key-0000")
	e.add(t, c)
	e.wantKeys(t, "after adding", "alice", a, b, c)

	// Keys belong to their owner; IDs are unique per owner only.
	e.wantKeys(t, "bob's before", "bob")
	bobs := e.key(t, "bob", a.ID)
	e.add(t, bobs)
	e.wantKeys(t, "bob's", "bob", bobs)
	e.wantKeys(t, "alice's after bob's", "alice", a, b, c)
	// A name that fails ValidateUsername has none.
	e.wantKeys(t, "invalid name", "{alice}")
}

func testKeyDuplicate(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	k := e.key(t, "alice", "key-0001")
	e.add(t, k)
	again := e.key(t, "alice", "key-0001")
	again.Name = "Again"
	wantErr(t, "AddAPIKey of an ID in use", e.s.AddAPIKey(e.ctx, again), store.ErrExists)
	e.wantKeys(t, "after ErrExists", "alice", k)
	// Revoked, the ID is free again.
	must(t, "RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, "alice", k.ID))
	e.add(t, again)
	e.wantKeys(t, "after adding it again", "alice", again)
}

func testKeyInvalid(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	good := e.key(t, "alice", "key-0001")
	change := func(f func(*store.APIKey)) store.APIKey {
		k := good
		f(&k)
		return k
	}
	for _, c := range []struct {
		name string
		k    store.APIKey
	}{
		{"BadOwner", change(func(k *store.APIKey) { k.Owner = "{alice}" })},
		{"EmptyOwner", change(func(k *store.APIKey) { k.Owner = "" })},
		{"ShortID", change(func(k *store.APIKey) { k.ID = "key-001" })},
		{"LongID", change(func(k *store.APIKey) { k.ID = strings.Repeat("k", store.MaxAPIKeyIDLen+1) })},
		{"IDWithColon", change(func(k *store.APIKey) { k.ID = "key:0001" })},
		{"IDWithBrace", change(func(k *store.APIKey) { k.ID = "key{0001}" })},
		{"LongName", change(func(k *store.APIKey) { k.Name = strings.Repeat("n", store.MaxAPIKeyNameLen+1) })},
		{"NameWithNewline", change(func(k *store.APIKey) { k.Name = "a\nb" })},
		{"NoSecret", change(func(k *store.APIKey) { k.Secret = store.Digest{} })},
		{"BadRole", change(func(k *store.APIKey) { k.Roles = []string{"a,b"} })},
		{"RepeatedRole", change(func(k *store.APIKey) { k.Roles = []string{"user", "user"} })},
		{"NoCreationTime", change(func(k *store.APIKey) { k.CreatedAt = time.Time{} })},
		{"ExpiresAtCreation", change(func(k *store.APIKey) { k.ExpiresAt = k.CreatedAt })},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, "AddAPIKey", e.s.AddAPIKey(e.ctx, c.k), store.ErrInvalid)
		})
	}
	e.wantKeys(t, "after invalid calls", "alice")
	// The limits themselves are accepted.
	edge := change(func(k *store.APIKey) {
		k.ID = strings.Repeat("Az9-_", 7)[:store.MaxAPIKeyIDLen]
		k.Name = strings.Repeat("é", store.MaxAPIKeyNameLen/2)
		k.Roles = make([]string, store.MaxRoles)
		for i := range k.Roles {
			k.Roles[i] = fmt.Sprintf("role.%02d:x", i)
		}
		k.ExpiresAt = k.CreatedAt.Add(time.Millisecond)
		k.Generation = 1<<64 - 1
	})
	e.add(t, edge)
	e.wantKeys(t, "at the limits", "alice", edge)
	short := change(func(k *store.APIKey) { k.ID = "12345678" })
	e.add(t, short)
}

func testKeyMax(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	e.owner(t, "bob", "user")
	var all []store.APIKey
	for i := range store.MaxAPIKeys {
		k := e.key(t, "alice", fmt.Sprintf("key-%04d", i))
		if i < 3 {
			k.ExpiresAt = e.clock.Now().Add(time.Hour)
		}
		e.add(t, k)
		all = append(all, k)
	}
	err := e.s.AddAPIKey(e.ctx, e.key(t, "alice", "key-more"))
	wantErr(t, "AddAPIKey beyond MaxAPIKeys", err, store.ErrInvalid)
	e.wantKeys(t, "at the cap", "alice", all...)
	// The cap is per owner.
	e.add(t, e.key(t, "bob", "key-bobs"))
	// Revoking one makes room.
	must(t, "RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, "alice", all[10].ID))
	e.add(t, e.key(t, "alice", "key-fits"))
	wantErr(t, "AddAPIKey at the cap again", e.s.AddAPIKey(e.ctx, e.key(t, "alice", "key-more")), store.ErrInvalid)
	// Expired keys do not count.
	e.clock.Advance(time.Hour)
	for i := range 3 {
		e.add(t, e.key(t, "alice", fmt.Sprintf("key-new%d", i)))
	}
	wantErr(t, "AddAPIKey at the cap once more", e.s.AddAPIKey(e.ctx, e.key(t, "alice", "key-more")), store.ErrInvalid)
	got, err := e.s.APIKeys(e.ctx, "alice")
	must(t, "APIKeys", err)
	live := 0
	for _, k := range got {
		if !k.Expired(e.clock.Now()) {
			live++
		}
	}
	if live != store.MaxAPIKeys || len(got) > store.MaxAPIKeys+3 {
		t.Errorf("APIKeys = %d keys, %d of them live; want %d live", len(got), live, store.MaxAPIKeys)
	}
}

// testKeyMaxConcurrent checks that concurrent adds never take an owner
// past the cap.
func testKeyMaxConcurrent(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	const n = store.MaxAPIKeys + 20
	keys := make([]store.APIKey, n)
	for i := range keys {
		keys[i] = e.key(t, "alice", fmt.Sprintf("key-%04d", i))
	}
	var added, full atomic.Int32
	concurrently(n, func(i int) {
		err := e.s.AddAPIKey(e.ctx, keys[i])
		switch {
		case err == nil:
			added.Add(1)
		case errors.Is(err, store.ErrInvalid):
			full.Add(1)
		default:
			t.Errorf("AddAPIKey: %v", err)
		}
	})
	if added.Load() != store.MaxAPIKeys || full.Load() != n-store.MaxAPIKeys {
		t.Errorf("%d concurrent adds: %d added and %d refused, want %d and %d", n, added.Load(), full.Load(), store.MaxAPIKeys, n-store.MaxAPIKeys)
	}
	got, err := e.s.APIKeys(e.ctx, "alice")
	if err != nil || len(got) != store.MaxAPIKeys {
		t.Errorf("APIKeys = %d keys, %v; want %d", len(got), err, store.MaxAPIKeys)
	}
}

// checkOwner checks what UseAPIKey read of the owner: for a store of
// users, the user without its password hash; for external users,
// nothing.
func (e *kenv) checkOwner(t *testing.T, what string, got store.APIKeyUse, username string) {
	t.Helper()
	if e.u == nil {
		if got.OwnerKnown || got.Owner.Username != "" || got.Owner.Generation != 0 || len(got.Owner.Roles) != 0 {
			t.Errorf("%s: owner %+v, known %v; want none, not known: the user source holds it", what, got.Owner, got.OwnerKnown)
		}
		return
	}
	want, err := e.u.User(e.ctx, username)
	must(t, "User", err)
	if !got.OwnerKnown {
		t.Errorf("%s: OwnerKnown = false, want true", what)
	}
	o := got.Owner
	if o.Username != username {
		t.Errorf("%s: Owner.Username = %q, want %q", what, o.Username, username)
	}
	if len(o.PasswordHash) != 0 {
		t.Errorf("%s: Owner.PasswordHash = %q, want none", what, o.PasswordHash)
	}
	if !sameRoles(o.Roles, want.Roles) {
		t.Errorf("%s: Owner.Roles = %q, want %q", what, o.Roles, want.Roles)
	}
	if o.Disabled != want.Disabled || o.Generation != want.Generation {
		t.Errorf("%s: Owner disabled %v, generation %d; want %v, %d", what, o.Disabled, o.Generation, want.Disabled, want.Generation)
	}
}

func testKeyUse(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user", "admin")
	k := e.key(t, "alice", "key-0001")
	k.ExpiresAt = e.clock.Now().Add(life)
	e.add(t, k)
	e.clock.Advance(time.Second)
	now := e.clock.Now()
	got := e.use(t, "alice", k.ID)
	// The key as it was before this use, which is recorded.
	checkKey(t, "UseAPIKey", got.Key, k)
	e.checkOwner(t, "UseAPIKey", got, "alice")
	if e.u != nil {
		if !got.Key.Live(now, got.Owner) {
			t.Errorf("Live = false for a fresh key of an enabled owner")
		}
		if r := got.Key.EffectiveRoles(got.Owner); !slices.Equal(r, []string{"user"}) {
			t.Errorf("EffectiveRoles = %q, want [user]: reports is not the owner's", r)
		}
	}
	used := k
	used.LastUsed = now
	e.wantKeys(t, "after the use", "alice", used)
}

// testKeyTouch checks the touch rule: a use is recorded when the last
// recorded one is a minute old or more, by the store's clock, and
// UseAPIKey returns the key as it was before.
func testKeyTouch(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	k := e.key(t, "alice", "key-0001")
	e.add(t, k)
	first := e.clock.Now()
	checkKey(t, "first use", e.use(t, "alice", k.ID).Key, k)
	k.LastUsed = first
	for _, step := range []struct {
		advance time.Duration
		touch   bool
	}{
		{0, false},
		{time.Second, false},
		{store.APIKeyTouchInterval - time.Second - time.Millisecond, false},
		{time.Millisecond, true}, // exactly a minute
		{store.APIKeyTouchInterval - time.Millisecond, false},
		{store.APIKeyTouchInterval, true},
		{time.Hour, true},
	} {
		e.clock.Advance(step.advance)
		got := e.use(t, "alice", k.ID)
		checkKey(t, fmt.Sprintf("use %v later", step.advance), got.Key, k)
		if step.touch {
			k.LastUsed = e.clock.Now()
		}
		e.wantKeys(t, fmt.Sprintf("after the use %v later", step.advance), "alice", k)
	}
	// Concurrent uses see the use before theirs, and record now.
	e.clock.Advance(time.Hour)
	before := k.LastUsed
	k.LastUsed = e.clock.Now()
	concurrently(16, func(int) {
		u, err := e.s.UseAPIKey(e.ctx, "alice", k.ID)
		if err != nil || !u.Key.LastUsed.Equal(before) && !u.Key.LastUsed.Equal(k.LastUsed) {
			t.Errorf("concurrent UseAPIKey = LastUsed %v, %v; want %v or %v", u.Key.LastUsed, err, before, k.LastUsed)
		}
	})
	e.wantKeys(t, "after concurrent uses", "alice", k)
}

func testKeyUseUnknown(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	e.owner(t, "bob", "user")
	k := e.key(t, "alice", "key-0001")
	e.add(t, k)
	for _, c := range []struct{ name, owner, id string }{
		{"UnknownID", "alice", "key-0002"},
		{"OtherOwner", "bob", k.ID},
		{"UnknownOwner", "carol", k.ID},
		{"InvalidUsername", "{alice}", k.ID},
		{"UpperCase", "Alice", k.ID},
		{"EmptyID", "alice", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.s.UseAPIKey(e.ctx, c.owner, c.id)
			wantErr(t, "UseAPIKey", err, store.ErrNotFound)
			wantErr(t, "ExpireAPIKey", e.s.ExpireAPIKey(e.ctx, c.owner, c.id, e.clock.Now()), store.ErrNotFound)
			wantErr(t, "RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, c.owner, c.id), store.ErrNotFound)
		})
	}
	e.wantKeys(t, "after the misses", "alice", k)
}

func testKeyExpire(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	k := e.key(t, "alice", "key-0001")
	e.add(t, k)
	expire := func(at time.Time) {
		t.Helper()
		must(t, fmt.Sprintf("ExpireAPIKey(%v)", at), e.s.ExpireAPIKey(e.ctx, "alice", k.ID, at))
	}
	// A key without expiry gets one.
	day := e.clock.Now().Add(24 * time.Hour)
	expire(day)
	k.ExpiresAt = day
	e.wantKeys(t, "given an expiry", "alice", k)
	// Later is refused silently: a rotation never extends a key.
	expire(day.Add(time.Millisecond))
	expire(day.Add(365 * 24 * time.Hour))
	expire(day)
	e.wantKeys(t, "after later expiries", "alice", k)
	// Earlier moves it.
	hour := e.clock.Now().Add(time.Hour)
	expire(hour)
	k.ExpiresAt = hour
	e.wantKeys(t, "after an earlier expiry", "alice", k)
	wantErr(t, "ExpireAPIKey(zero)", e.s.ExpireAPIKey(e.ctx, "alice", k.ID, time.Time{}), store.ErrInvalid)
	e.wantKeys(t, "after a zero expiry", "alice", k)
	// The key works until then, and not after.
	e.clock.Advance(time.Hour - time.Millisecond)
	got := e.use(t, "alice", k.ID)
	if got.Key.Expired(e.clock.Now()) || !got.Key.ExpiresAt.Equal(hour) {
		t.Errorf("UseAPIKey a millisecond before the expiry = expiry %v, want %v, not expired", got.Key.ExpiresAt, hour)
	}
	// Now, for an immediate end.
	expire(e.clock.Now())
	got = e.use(t, "alice", k.ID)
	if !got.Key.Expired(e.clock.Now()) {
		t.Errorf("UseAPIKey after ExpireAPIKey(now): expiry %v, not expired at %v", got.Key.ExpiresAt, e.clock.Now())
	}
}

// testKeyExpired checks that an expired key reads as it is (or as not
// found once dropped), never as live.
func testKeyExpired(t *testing.T, e *kenv) {
	gen := e.owner(t, "alice", "user")
	k := e.key(t, "alice", "key-0001")
	k.ExpiresAt = e.clock.Now().Add(time.Hour)
	e.add(t, k)
	e.clock.Advance(time.Hour)
	got, err := e.s.UseAPIKey(e.ctx, "alice", k.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		t.Fatalf("UseAPIKey of an expired key = %v", err)
	default:
		checkKey(t, "UseAPIKey of an expired key", got.Key, k)
		owner := got.Owner
		if !got.OwnerKnown {
			owner = store.User{Username: "alice", Generation: gen}
		}
		if got.Key.Live(e.clock.Now(), owner) {
			t.Errorf("an expired key is live")
		}
	}
	// Adding another key may drop it; it never comes back live.
	e.add(t, e.key(t, "alice", "key-0002"))
	if got, err := e.s.UseAPIKey(e.ctx, "alice", k.ID); err == nil && !got.Key.Expired(e.clock.Now()) {
		t.Errorf("UseAPIKey after an add = expiry %v, want it expired", got.Key.ExpiresAt)
	}
}

func testKeyRevoke(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	k, other := e.key(t, "alice", "key-0001"), e.key(t, "alice", "key-0002")
	e.add(t, k)
	e.add(t, other)
	e.use(t, "alice", k.ID)
	wantErr(t, "RevokeAPIKey of another owner", e.s.RevokeAPIKey(e.ctx, "bob", k.ID), store.ErrNotFound)
	must(t, "RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, "alice", k.ID))
	_, err := e.s.UseAPIKey(e.ctx, "alice", k.ID)
	wantErr(t, "UseAPIKey after revocation", err, store.ErrNotFound)
	wantErr(t, "RevokeAPIKey again", e.s.RevokeAPIKey(e.ctx, "alice", k.ID), store.ErrNotFound)
	wantErr(t, "ExpireAPIKey after revocation", e.s.ExpireAPIKey(e.ctx, "alice", k.ID, e.clock.Now()), store.ErrNotFound)
	e.wantKeys(t, "after revocation", "alice", other)
	must(t, "RevokeAPIKey(other)", e.s.RevokeAPIKey(e.ctx, "alice", other.ID))
	e.wantKeys(t, "after revoking all", "alice")
}

// testKeyOwnerChanged checks that a key whose owner was disabled, moved
// to another generation or lost a role is still returned, with the
// owner as it is now, and that the rules then refuse it.
func testKeyOwnerChanged(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user", "reports")
	k := e.key(t, "alice", "key-0001")
	e.add(t, k)
	check := func(what string, live bool, roles ...string) {
		t.Helper()
		got := e.use(t, "alice", k.ID)
		checkKey(t, what, got.Key, k)
		e.checkOwner(t, what, got, "alice")
		if got.Key.Live(e.clock.Now(), got.Owner) != live {
			t.Errorf("%s: Live = %v, want %v", what, !live, live)
		}
		if r := got.Key.EffectiveRoles(got.Owner); !slices.Equal(r, roles) && (len(r) != 0 || len(roles) != 0) {
			t.Errorf("%s: EffectiveRoles = %q, want %q", what, r, roles)
		}
		k.LastUsed = got.Key.LastUsed
		if got.Key.LastUsed.IsZero() {
			k.LastUsed = e.clock.Now()
		}
	}
	check("fresh", true, "user", "reports")
	must(t, "SetRoles", e.u.SetRoles(e.ctx, "alice", []string{"user"}))
	check("after a role was taken", true, "user")
	must(t, "SetDisabled", e.u.SetDisabled(e.ctx, "alice", true))
	check("owner disabled", false, "user")
	must(t, "SetDisabled(false)", e.u.SetDisabled(e.ctx, "alice", false))
	check("owner enabled again", false, "user")

	// A key of the new generation works; a password change ends it.
	k = e.key(t, "alice", "key-0002")
	e.add(t, k)
	check("a key of the new generation", true, "user")
	must(t, "SetPasswordHash", e.u.SetPasswordHash(e.ctx, "alice", []byte("$2a$10$new")))
	check("after a password change", false, "user")
	if ss, ok := e.u.(store.SessionStore); ok {
		k = e.key(t, "alice", "key-0003")
		e.add(t, k)
		check("a key of the newest generation", true, "user")
		must(t, "RevokeAll", ss.RevokeAll(e.ctx, "alice"))
		check("after RevokeAll", false, "user")
	}
}

// testKeyCopies checks that neither the caller's roles nor those the
// store returned alias what the store keeps.
func testKeyCopies(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user", "reports")
	k := e.key(t, "alice", "key-0001")
	want := k
	want.Roles = slices.Clone(k.Roles)
	e.add(t, k)
	k.Roles[0] = "admin"
	e.wantKeys(t, "after changing the added roles", "alice", want)
	list, err := e.s.APIKeys(e.ctx, "alice")
	must(t, "APIKeys", err)
	list[0].Roles[0] = "admin"
	e.wantKeys(t, "after changing the listed roles", "alice", want)
	at := e.clock.Now()
	got := e.use(t, "alice", want.ID)
	got.Key.Roles[0] = "admin"
	if len(got.Owner.Roles) > 0 {
		got.Owner.Roles[0] = "admin"
	}
	want.LastUsed = at
	e.wantKeys(t, "after changing UseAPIKey's roles", "alice", want)
	if e.u != nil {
		e.checkOwner(t, "after changing the owner's roles", e.use(t, "alice", want.ID), "alice")
	}
}

// testKeyContextDone checks that a call whose context is over fails
// with an infrastructure error and changes nothing.
func testKeyContextDone(t *testing.T, e *kenv) {
	e.owner(t, "alice", "user")
	k := e.key(t, "alice", "key-0001")
	e.add(t, k)
	for _, c := range doneContexts(t, e.ctx) {
		t.Run(c.name, func(t *testing.T) {
			ctx, now := c.ctx, e.clock.Now()
			calls := []struct {
				name string
				call func() error
			}{
				{"AddAPIKey", func() error { return e.s.AddAPIKey(ctx, e.key(t, "alice", "key-0002")) }},
				{"UseAPIKey", func() error { _, err := e.s.UseAPIKey(ctx, "alice", k.ID); return err }},
				{"UseAPIKeyUnknown", func() error { _, err := e.s.UseAPIKey(ctx, "alice", "key-none"); return err }},
				{"UseAPIKeyInvalidName", func() error { _, err := e.s.UseAPIKey(ctx, "{alice}", k.ID); return err }},
				{"APIKeys", func() error { _, err := e.s.APIKeys(ctx, "alice"); return err }},
				{"ExpireAPIKey", func() error { return e.s.ExpireAPIKey(ctx, "alice", k.ID, now) }},
				{"ExpireAPIKeyUnknown", func() error { return e.s.ExpireAPIKey(ctx, "alice", "key-none", now) }},
				{"RevokeAPIKey", func() error { return e.s.RevokeAPIKey(ctx, "alice", k.ID) }},
				{"RevokeAPIKeyUnknown", func() error { return e.s.RevokeAPIKey(ctx, "alice", "key-none") }},
			}
			for _, c := range calls {
				wantInfraErr(t, c.name, c.call())
			}
		})
	}
	e.wantKeys(t, "after the failed calls", "alice", k)
}
