package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testclock"
	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		rdb, prefix := testredis.New(t)
		s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestContractExternalUsers(t *testing.T) {
	for _, cache := range []bool{false, true} {
		t.Run(fmt.Sprintf("LocalCache=%v", cache), func(t *testing.T) {
			storetest.RunExternalUsers(t, func(t *testing.T, now func() time.Time) store.SessionBackend {
				rdb, prefix := testredis.New(t)
				opts := redisstore.Options{Prefix: prefix, Now: now, ExternalUsers: true}
				if cache {
					opts.LocalCache = &redisstore.LocalCacheOptions{}
				}
				s, err := redisstore.New(rdb, opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// fixture is a store on the test Redis with one user, "alice", and a
// clock the test moves.
type fixture struct {
	rdb    redis.UniversalClient
	prefix string
	clock  *testclock.Clock
	s      *redisstore.Store
	ctx    context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rdb, prefix := testredis.New(t)
	return newFixtureOn(t, rdb, prefix, redisstore.Options{})
}

// newFixtureOn is newFixture on a given client, with opts (whose Prefix
// and Now it sets).
func newFixtureOn(t testing.TB, rdb redis.UniversalClient, prefix string, opts redisstore.Options) *fixture {
	t.Helper()
	// The clock starts at the real time, on a whole millisecond, so that
	// Redis TTLs computed from it make sense.
	clk := testclock.New(time.Now().Truncate(time.Millisecond))
	opts.Prefix, opts.Now = prefix, clk.Now
	s, err := redisstore.New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{rdb: rdb, prefix: prefix, clock: clk, s: s, ctx: context.Background()}
	if err := s.CreateUser(f.ctx, store.User{Username: "alice", PasswordHash: []byte("h"), Roles: []string{"user"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) session(t testing.TB) (id, ref store.Digest) {
	t.Helper()
	return f.sessionOf(t, "alice")
}

// sessionOf creates a session of username with an idle timeout of an
// hour and a lifetime of a day.
func (f *fixture) sessionOf(t testing.TB, username string) (id, ref store.Digest) {
	t.Helper()
	u, err := f.s.User(f.ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	id, ref = store.HashSecret([]byte(rand.Text())), store.HashSecret([]byte(rand.Text()))
	_, err = f.s.CreateSession(f.ctx, store.SessionSpec{
		ID: id, Username: username, Refresh: ref, IdleTimeout: time.Hour, ExpiresAt: f.clock.Now().Add(24 * time.Hour),
		Generation: u.Generation,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, ref
}

// key spells out the documented key layout.
func (f *fixture) key(suffix string) string { return f.prefix + "{u:alice}:" + suffix }

// field is the documented name of a session's field in the sessions hash.
func field(id store.Digest) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// addrField is the documented name of the field that holds the client
// address of a session's last rotation: "a" and the first 16 characters
// of the session's field.
func addrField(id store.Digest) string { return "a" + field(id)[:16] }

// pttls maps every key under the test prefix to its PTTL in milliseconds
// (-1: no expiry).
func (f *fixture) pttls(t *testing.T) map[string]int64 {
	t.Helper()
	keys, err := testredis.Keys(f.ctx, f.rdb, f.prefix)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int64, len(keys))
	for _, k := range keys {
		n, err := f.rdb.Do(f.ctx, "PTTL", k).Int64()
		if err != nil {
			t.Fatal(err)
		}
		m[k] = n
	}
	return m
}

// checkKeys reports unless the keys under the prefix are exactly want,
// with the user key kept forever and the sessions hash expiring within
// an hour (the sessions' idle timeout).
func (f *fixture) checkKeys(t *testing.T, step string, want ...string) {
	t.Helper()
	got := f.pttls(t)
	names := make([]string, 0, len(got))
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s: keys = %q, want %q", step, names, want)
	}
	for k, ms := range got {
		switch {
		case k == f.key("user"):
			if ms != -1 {
				t.Errorf("%s: user key PTTL = %d, want no expiry", step, ms)
			}
		default:
			// The fixture's idle timeout is an hour; a write sets the TTL
			// to the end of a slack period of a sixteenth of it past that
			// (record.cover).
			if idle := time.Hour.Milliseconds(); ms <= 0 || ms > idle+idle/redisstore.TTLSlackDivisor {
				t.Errorf("%s: %s PTTL = %d ms, want within the idle timeout and its slack", step, k, ms)
			}
		}
	}
}

// checkFields reports unless the sessions hash has exactly the fields of
// ids, o (the roles), v (the set version) and g (the generation).
func (f *fixture) checkFields(t *testing.T, step string, ids ...store.Digest) {
	t.Helper()
	f.checkFieldNames(t, step, ids)
}

// checkFieldNames is checkFields with the address fields of the sessions
// addrs, which must also be in ids.
func (f *fixture) checkFieldNames(t *testing.T, step string, ids []store.Digest, addrs ...store.Digest) {
	t.Helper()
	got, err := f.rdb.HKeys(f.ctx, f.key("s")).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"g", "o", "v"}
	for _, id := range ids {
		want = append(want, field(id))
	}
	for _, id := range addrs {
		want = append(want, addrField(id))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: sessions hash fields = %q, want %q", step, got, want)
	}
}

func TestKeysExpire(t *testing.T) {
	f := newFixture(t)
	f.checkKeys(t, "after CreateUser", f.key("user"))

	id1, ref1 := f.session(t)
	f.checkKeys(t, "after CreateSession", f.key("user"), f.key("s"))
	f.checkFields(t, "after CreateSession", id1)
	if roles, err := f.rdb.HGet(f.ctx, f.key("s"), "o").Result(); err != nil || roles != "user" {
		t.Errorf("roles field o = %q, %v; want %q", roles, err, "user")
	}

	if _, err := f.s.RotateRefresh(f.ctx, "alice", id1, store.Rotation{Old: ref1, Next: store.HashSecret([]byte("next"))}); err != nil {
		t.Fatal(err)
	}
	// Rotation state lives in the session's record: nothing is added.
	f.checkKeys(t, "after RotateRefresh", f.key("user"), f.key("s"))
	f.checkFields(t, "after RotateRefresh", id1)

	// Expire the hash sooner, so that a read that records a use has to
	// push it back, and check that PeekSession and a read that records
	// nothing do not.
	if err := f.rdb.PExpire(f.ctx, f.key("s"), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PeekSession(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Session(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	if pttl := f.pttls(t)[f.key("s")]; pttl > time.Minute.Milliseconds() {
		t.Errorf("after PeekSession and a recent Session, PTTL = %d ms, want it left below a minute", pttl)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.s.Session(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	if pttl := f.pttls(t)[f.key("s")]; pttl <= time.Minute.Milliseconds() {
		t.Errorf("after a Session that records a use, PTTL = %d ms, want it reset to the idle timeout", pttl)
	}
	id2, ref2 := f.session(t)
	f.checkFields(t, "after a second CreateSession", id1, id2)

	// A rotation that names its client records the address in a field of
	// its own, which goes with the session.
	if _, err := f.s.RotateRefresh(f.ctx, "alice", id2, store.Rotation{Old: ref2, Next: store.HashSecret([]byte("next2")), Client: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	f.checkFieldNames(t, "after RotateRefresh with a client", []store.Digest{id1, id2}, id2)
	// An IP address is kept as a tag byte (1: IPv4) and its bytes.
	if addr, err := f.rdb.HGet(f.ctx, f.key("s"), addrField(id2)).Result(); err != nil || addr != "\x01\xc0\x00\x02\x01" {
		t.Errorf("address field = %q, %v; want %q", addr, err, "\x01\xc0\x00\x02\x01")
	}
	if err := f.s.RevokeSession(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	f.checkKeys(t, "after RevokeSession", f.key("user"), f.key("s"))
	f.checkFieldNames(t, "after RevokeSession", []store.Digest{id2}, id2)
	if err := f.s.RevokeSession(f.ctx, "alice", id2); err != nil {
		t.Fatal(err)
	}
	f.checkKeys(t, "after revoking the last session", f.key("user"))

	// The cap deletes the address field of a session it evicts.
	id3, ref3 := f.session(t)
	if _, err := f.s.RotateRefresh(f.ctx, "alice", id3, store.Rotation{Old: ref3, Next: store.HashSecret([]byte("next3")), Client: "192.0.2.3"}); err != nil {
		t.Fatal(err)
	}
	u, err := f.s.User(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	capped := store.HashSecret([]byte("capped"))
	evicted, err := f.s.CreateSession(f.ctx, store.SessionSpec{
		ID: capped, Username: "alice", Refresh: store.HashSecret([]byte("capped ref")), IdleTimeout: time.Hour,
		ExpiresAt: f.clock.Now().Add(time.Hour), Generation: u.Generation, MaxSessions: 1,
	})
	if err != nil || !slices.Equal(evicted, []store.Digest{id3}) {
		t.Fatalf("capped CreateSession = %v, %v; want [%v] evicted", evicted, err, id3)
	}
	f.checkFields(t, "after the cap evicted a rotated session", capped)

	f.session(t)
	f.session(t)
	if err := f.s.RevokeAll(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	f.checkKeys(t, "after RevokeAll", f.key("user"))
}

// TestSweep checks that an uncapped CreateSession deletes dead sessions
// it samples, so that a user's hash does not keep them until it expires.
func TestSweep(t *testing.T) {
	f := newFixture(t)
	var dead []store.Digest
	for i := range 10 {
		id, ref := f.session(t)
		dead = append(dead, id)
		// Three with an address field, which goes too. That makes 16
		// fields with the metadata: the sample takes them all.
		if i%4 == 0 {
			if _, err := f.s.RotateRefresh(f.ctx, "alice", id, store.Rotation{Old: ref, Next: store.HashSecret(id[:]), Client: "192.0.2.9"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.clock.Advance(time.Hour) // the idle timeout: all ten are over
	live, _ := f.session(t)
	f.checkFields(t, "after a create past the others' idle timeout", live)
	for _, id := range dead {
		if _, err := f.s.PeekSession(f.ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PeekSession of a dead session: %v, want ErrNotFound", err)
		}
	}
}

// TestUserChangesEndOrUpdateSessions checks that the user-level changes a
// read depends on reach the sessions hash in the same script, so that
// the next read, one HMGET, sees them.
func TestUserChangesEndOrUpdateSessions(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	read := func(t *testing.T, id store.Digest) (store.Session, error) {
		t.Helper()
		return f.s.Session(ctx, "alice", id)
	}
	steps := []struct {
		name   string
		change func() error
		gone   bool
		roles  []string
	}{
		{"SetRoles", func() error { return f.s.SetRoles(ctx, "alice", []string{"admin", "ops"}) }, false, []string{"admin", "ops"}},
		{"SetRolesEmpty", func() error { return f.s.SetRoles(ctx, "alice", nil) }, false, []string{}},
		{"SetDisabledFalse", func() error { return f.s.SetDisabled(ctx, "alice", false) }, false, []string{}},
		{"RehashPassword", func() error {
			u, err := f.s.User(ctx, "alice")
			if err != nil {
				return err
			}
			_, err = f.s.RehashPassword(ctx, "alice", u.Generation, u.PasswordHash, []byte("h2"))
			return err
		}, false, []string{}},
		{"SetPasswordHash", func() error { return f.s.SetPasswordHash(ctx, "alice", []byte("h3")) }, true, nil},
		{"RevokeAll", func() error { return f.s.RevokeAll(ctx, "alice") }, true, nil},
		{"SetDisabledTrue", func() error { return f.s.SetDisabled(ctx, "alice", true) }, true, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := f.s.SetDisabled(ctx, "alice", false); err != nil {
				t.Fatal(err)
			}
			id, _ := f.session(t)
			if _, err := read(t, id); err != nil {
				t.Fatal(err)
			}
			if err := st.change(); err != nil {
				t.Fatal(err)
			}
			got, err := read(t, id)
			switch {
			case st.gone && !errors.Is(err, store.ErrNotFound):
				t.Errorf("Session after %s: %v, want ErrNotFound", st.name, err)
			case !st.gone && err != nil:
				t.Errorf("Session after %s: %v", st.name, err)
			case !st.gone && !slices.Equal(got.Roles, st.roles):
				t.Errorf("Session after %s: roles %q, want %q", st.name, got.Roles, st.roles)
			}
			if st.gone {
				f.checkKeys(t, "after "+st.name, f.key("user"))
			}
		})
	}
}

// hookRecorder counts what a client sends, one entry per round trip.
type hookRecorder struct {
	mu        sync.Mutex
	process   int
	pipelines int
	cmds      [][]any
}

func (h *hookRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hookRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.process++
		h.cmds = append(h.cmds, cmd.Args())
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *hookRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.pipelines++
		for _, cmd := range cmds {
			h.cmds = append(h.cmds, cmd.Args())
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns what was recorded since the last call and starts afresh.
func (h *hookRecorder) take() (process, pipelines int, cmds [][]any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	process, pipelines, cmds = h.process, h.pipelines, h.cmds
	h.process, h.pipelines, h.cmds = 0, 0, nil
	return process, pipelines, cmds
}

// names returns the lower-case names of cmds.
func names(cmds [][]any) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, strings.ToLower(fmt.Sprint(c[0])))
	}
	return out
}

// commandKeys returns the keys of one command the store sends. It fails
// on a command it does not know, so that a new command in the store gets
// its keys checked too.
func commandKeys(t *testing.T, args []any) []string {
	t.Helper()
	name := strings.ToLower(fmt.Sprint(args[0]))
	switch name {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		n, ok := args[2].(int)
		if !ok || len(args) < 3+n {
			t.Fatalf("malformed %s: %v", name, args)
		}
		keys := make([]string, n)
		for i := range n {
			keys[i] = fmt.Sprint(args[3+i])
		}
		return keys
	case "hgetall", "hmget", "hget", "hrandfield":
		return []string{fmt.Sprint(args[1])}
	case "ping", "hello", "client", "select", "auth":
		return nil
	}
	t.Fatalf("the store sent %q, which this test does not know how to check", name)
	return nil
}

func TestOneSlotAndRoundTrips(t *testing.T) {
	f := newFixture(t)
	hook := &hookRecorder{}
	f.rdb.AddHook(hook)
	// miniredis has no Lua struct library: the store, which asked once
	// (below, when the scripts are cached), rotates in Go there: it
	// reads, then compares and sets.
	rotateCmds := []string{"evalsha"}
	if testredis.Backend() == "miniredis" {
		rotateCmds = []string{"hmget", "evalsha"}
	}

	// Every operation once, including both outcomes of a rotation.
	ctx := f.ctx
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.s.CreateUser(ctx, store.User{Username: "bob", PasswordHash: []byte("h")}))
	u, err := f.s.User(ctx, "alice")
	must(err)
	must(f.s.SetRoles(ctx, "alice", []string{"admin"}))
	_, err = f.s.RehashPassword(ctx, "alice", u.Generation, []byte("h"), []byte("h1"))
	must(err)
	must(f.s.SetPasswordHash(ctx, "alice", []byte("h2")))
	must(f.s.SetDisabled(ctx, "alice", false))
	id, ref := f.session(t)
	f.session(t)
	_, err = f.s.Session(ctx, "alice", id)
	must(err)
	_, err = f.s.PeekSession(ctx, "alice", id)
	must(err)
	next := store.HashSecret([]byte("next"))
	_, err = f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: next, Grace: time.Minute})
	must(err)
	_, err = f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: next, Grace: time.Minute})
	must(err)
	_, err = f.s.Sessions(ctx, "alice")
	must(err)
	_, err = f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: store.HashSecret([]byte("again"))})
	if !errors.Is(err, store.ErrReused) {
		t.Fatalf("RotateRefresh of a rotated token: %v, want ErrReused", err)
	}
	u, err = f.s.User(ctx, "alice")
	must(err)
	_, err = f.s.CreateSession(ctx, store.SessionSpec{
		ID: store.HashSecret([]byte("capped")), Username: "alice", Refresh: store.HashSecret([]byte("capped ref")),
		IdleTimeout: time.Hour, ExpiresAt: f.clock.Now().Add(time.Hour), Generation: u.Generation, MaxSessions: 1,
	})
	must(err)
	id3, _ := f.session(t)
	must(f.s.RevokeSession(ctx, "alice", id3))
	f.session(t)
	must(f.s.RevokeAll(ctx, "alice"))
	must(f.s.SetDisabled(ctx, "alice", true))

	_, _, cmds := hook.take()
	scripts := 0
	for _, args := range cmds {
		keys := commandKeys(t, args)
		if len(keys) == 0 {
			continue
		}
		name := strings.ToLower(fmt.Sprint(args[0]))
		if strings.HasPrefix(name, "eval") {
			scripts++
		}
		slot := keySlot(keys[0])
		for _, k := range keys {
			if !strings.HasPrefix(k, f.prefix) {
				t.Errorf("%s: key %q lacks the prefix %q", name, k, f.prefix)
			}
			if keySlot(k) != slot {
				t.Errorf("%s: keys %q span slots %d and %d", name, keys, slot, keySlot(k))
			}
		}
	}
	if scripts < 14 {
		t.Errorf("saw %d script calls, want one per write", scripts)
	}

	// Scripts are cached now. Reads are one plain command each; so is a
	// rotation, which decides and writes in one script.
	must(f.s.SetDisabled(ctx, "alice", false))
	id, ref = f.session(t)
	for _, op := range []struct {
		name string
		call func() error
		want []string // one round trip each
	}{
		{"Session", func() error { _, err := f.s.Session(ctx, "alice", id); return err }, []string{"hmget"}},
		{"PeekSession", func() error { _, err := f.s.PeekSession(ctx, "alice", id); return err }, []string{"hmget"}},
		{"Sessions", func() error {
			list, err := f.s.Sessions(ctx, "alice")
			if err == nil && len(list) != 1 {
				return fmt.Errorf("got %d sessions, want 1", len(list))
			}
			return err
		}, []string{"hgetall"}},
		{"RotateRefresh", func() error {
			_, err := f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: next})
			return err
		}, rotateCmds},
		{"Session of an unknown ID", func() error {
			_, err := f.s.Session(ctx, "alice", store.HashSecret([]byte("unknown")))
			if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		}, []string{"hmget"}},
	} {
		hook.take()
		if err := op.call(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		process, pipelines, cmds := hook.take()
		if got := names(cmds); process != len(op.want) || pipelines != 0 || !slices.Equal(got, op.want) {
			t.Errorf("%s sent %q in %d round trips, want %q in %d", op.name, got, process+pipelines, op.want, len(op.want))
		}
	}
}

// TestReadPathWritesOnlyToTouch checks the per-request path: a read of a
// session whose last use was recorded within the touch interval sends
// exactly one HMGET and no write; once the interval has passed, one read
// records the use (HMGET, then the compare-and-set script), and the next
// reads write nothing again.
func TestReadPathWritesOnlyToTouch(t *testing.T) {
	f := newFixture(t)
	id, _ := f.session(t)
	// Load the script into the server's cache, so that each use below is
	// one EVALSHA.
	f.clock.Advance(time.Hour / 2)
	if _, err := f.s.Session(f.ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	hook := &hookRecorder{}
	f.rdb.AddHook(hook)
	read := func(step string, want ...string) store.Session {
		t.Helper()
		hook.take()
		s, err := f.s.Session(f.ctx, "alice", id)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		process, pipelines, cmds := hook.take()
		if got := names(cmds); process != len(want) || pipelines != 0 || !slices.Equal(got, want) {
			t.Errorf("%s: sent %q in %d round trips, want %q", step, got, process+pipelines, want)
		}
		return s
	}
	// The idle timeout is an hour: the touch interval is 36 s.
	last := f.clock.Now()
	for i := range 3 {
		f.clock.Advance(10 * time.Second)
		if s := read(fmt.Sprintf("read %d, %v after the last use", i, 10*time.Duration(i+1)*time.Second), "hmget"); !s.LastSeen.Equal(last) {
			t.Errorf("LastSeen = %v, want the last recorded use %v", s.LastSeen, last)
		}
	}
	f.clock.Advance(6 * time.Second)
	if s := read("read 36 s after the last use", "hmget", "evalsha"); !s.LastSeen.Equal(f.clock.Now()) {
		t.Errorf("LastSeen = %v, want the read's time %v", s.LastSeen, f.clock.Now())
	}
	f.clock.Advance(time.Second)
	read("read just after the touch", "hmget")
}

// keySlot is the Redis Cluster hash slot of key: CRC16 of the key, or of
// its hash tag — the text between the first '{' and the next '}', if not
// empty — modulo 16384.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return redisstore.CRC16(key) % 16384
}

func TestKeySlot(t *testing.T) {
	if got := redisstore.CRC16("123456789"); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	// Values and rules from the Redis Cluster specification.
	tests := []struct {
		key  string
		want uint16
	}{
		{"foo", 12182},
		{"{user1000}.following", keySlot("user1000")},
		{"foo{}{bar}", redisstore.CRC16("foo{}{bar}") % 16384},
		{"foo{{bar}}zap", redisstore.CRC16("{bar") % 16384},
		{"foo{bar}{zap}", keySlot("bar")},
	}
	for _, tc := range tests {
		if got := keySlot(tc.key); got != tc.want {
			t.Errorf("keySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	const addr = "127.0.0.1:1" // never dialled: New does not contact Redis
	tests := []struct {
		name    string
		client  func() redis.UniversalClient
		opts    redisstore.Options
		wantErr error // nil: success; errAny: any error
	}{
		{"Client", func() redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		}, redisstore.Options{}, nil},
		{"ClientWithoutContextTimeout", func() redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr})
		}, redisstore.Options{}, redisstore.ErrNoContextTimeout},
		{"ClusterClient", func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
		}, redisstore.Options{}, nil},
		{"ClusterClientWithoutContextTimeout", func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
		}, redisstore.Options{}, redisstore.ErrNoContextTimeout},
		{"RingWithoutContextTimeout", func() redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}})
		}, redisstore.Options{}, redisstore.ErrNoContextTimeout},
		{"UniversalClient", func() redis.UniversalClient {
			return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
		}, redisstore.Options{}, nil},
		{"UniversalClientWithoutContextTimeout", func() redis.UniversalClient {
			return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
		}, redisstore.Options{}, redisstore.ErrNoContextTimeout},
		{"PrefixWithBrace", func() redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		}, redisstore.Options{Prefix: "app{x}:"}, errAny},
		{"NilClient", func() redis.UniversalClient { return nil }, redisstore.Options{}, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := tc.client()
			if client != nil {
				defer client.Close()
			}
			s, err := redisstore.New(client, tc.opts)
			switch {
			case tc.wantErr == nil:
				if err != nil || s == nil {
					t.Errorf("New = %v, %v; want a store", s, err)
				}
			case errors.Is(tc.wantErr, errAny):
				if err == nil {
					t.Errorf("New succeeded, want an error")
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("New error = %v, want %v", err, tc.wantErr)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

// TestSilentServerHonoursDeadline checks the reason for
// ErrNoContextTimeout: against a server that accepts connections and never
// replies, a call returns an infrastructure error once its context
// expires, far sooner than go-redis's 5 s read timeout.
func TestSilentServerHonoursDeadline(t *testing.T) {
	hole := testredis.NewBlackhole(t)
	client := redis.NewClient(&redis.Options{Addr: hole.Addr, ContextTimeoutEnabled: true})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	_, err = s.Session(ctx, "alice", store.HashSecret([]byte("id")))
	elapsed := time.Since(start)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session on a silent server: error = %v, want an infrastructure error", err)
	}
	if elapsed > deadline+time.Second {
		t.Errorf("Session on a silent server took %v with a %v deadline", elapsed, deadline)
	}
	t.Logf("Session on a silent server failed after %v: %v", elapsed.Round(time.Millisecond), err)
}

func BenchmarkSession(b *testing.B) {
	rdb, prefix := testredis.New(b)
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkSession(b, s)
}

// TestRotationStateIsConstant checks that rotation keeps a constant amount
// of state per session: after 1,000 rotations the user's keys take no
// more memory than after the first (which adds the previous digest and
// the time of the rotation to the record), and the first token of the
// chain is still recognised as reused.
func TestRotationStateIsConstant(t *testing.T) {
	const rotations = 1000
	f := newFixture(t)
	usage := func() int64 {
		t.Helper()
		keys, err := testredis.Keys(f.ctx, f.rdb, f.prefix)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, k := range keys {
			// Without SAMPLES, which miniredis rejects; the small hashes
			// and sorted sets here are measured exactly either way.
			n, err := f.rdb.MemoryUsage(f.ctx, k).Result()
			if err != nil {
				var reply redis.Error
				if testredis.Backend() == "miniredis" && errors.As(err, &reply) {
					t.Skipf("SKIPPED: this miniredis does not implement MEMORY USAGE (%v); set %s to measure on a real Redis", err, testredis.EnvVar)
				}
				t.Fatalf("MEMORY USAGE %s: %v", k, err)
			}
			sum += n
		}
		return sum
	}

	id, r0 := f.session(t)
	fresh := usage()
	var first int64
	cur := r0
	for seq := range uint64(rotations) {
		next := store.HashSecret([]byte(rand.Text()))
		f.clock.Advance(time.Second) // a real rotation time, so the record's numbers grow
		if _, err := f.s.RotateRefresh(f.ctx, "alice", id, store.Rotation{Old: cur, Seq: seq, Next: next}); err != nil {
			t.Fatalf("rotation %d: %v", seq, err)
		}
		if seq == 0 {
			first = usage()
		}
		cur = next
	}
	after := usage()
	t.Logf("MEMORY USAGE of the user's keys: %d bytes fresh, %d after one rotation, %d after %d", fresh, first, after, rotations)
	if after > first+16 {
		t.Errorf("after %d rotations the user's keys take %d bytes, more than the %d after the first", rotations, after, first)
	}

	_, err := f.s.RotateRefresh(f.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: store.HashSecret([]byte("replay"))})
	if !errors.Is(err, store.ErrReused) {
		t.Errorf("RotateRefresh of the seq-0 token after %d rotations: %v, want ErrReused", rotations, err)
	}
	if _, err := f.s.Session(f.ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session after reuse: %v, want ErrNotFound", err)
	}
}

// BenchmarkSessionClientOptions measures the session read under the
// go-redis options that touch the hot path: RESP2 against RESP3, and a
// pool checked in FIFO order. Run it against a real Redis
// (AUTHKIT_TEST_REDIS) with -count and compare with benchstat.
func BenchmarkSessionClientOptions(b *testing.B) {
	if testredis.Backend() != "redis" {
		b.Skip("needs a real Redis: set " + testredis.EnvVar)
	}
	for _, tc := range []struct {
		name string
		set  func(*redis.Options)
	}{
		{"resp3", func(*redis.Options) {}},
		{"resp2", func(o *redis.Options) { o.Protocol = 2 }},
		{"fifo", func(o *redis.Options) { o.PoolFIFO = true }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := testredis.Options(b)
			tc.set(opts)
			rdb := redis.NewClient(opts)
			b.Cleanup(func() { rdb.Close() })
			prefix := testredis.NewPrefix()
			b.Cleanup(func() { testredis.DeletePrefix(b, rdb, prefix) })
			s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			storetest.BenchmarkSession(b, s)
		})
	}
}
