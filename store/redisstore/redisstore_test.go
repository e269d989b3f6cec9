package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// fixture is a store on the test Redis with one user, "alice".
type fixture struct {
	rdb    redis.UniversalClient
	prefix string
	s      *redisstore.Store
	ctx    context.Context
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rdb, prefix := testredis.New(t)
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{rdb: rdb, prefix: prefix, s: s, ctx: t.Context()}
	if err := s.CreateUser(f.ctx, store.User{Username: "alice", PasswordHash: []byte("h"), Roles: []string{"user"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) session(t *testing.T) (id, ref store.Digest) {
	t.Helper()
	u, err := f.s.User(f.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	id, ref = store.HashSecret([]byte(rand.Text())), store.HashSecret([]byte(rand.Text()))
	err = f.s.CreateSession(f.ctx, store.SessionSpec{
		ID: id, Username: "alice", Refresh: ref, IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(24 * time.Hour),
		Generation: u.Generation,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, ref
}

// key spells out the documented key layout.
func (f *fixture) key(suffix string) string { return f.prefix + "{u:alice}:" + suffix }

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
// with the user key kept forever and every other key expiring within an
// hour (the sessions' idle timeout).
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
		case k == f.key("sessions"):
			if ms <= 0 || ms > (24*time.Hour).Milliseconds() {
				t.Errorf("%s: %s PTTL = %d ms, want within the sessions' lifetime", step, k, ms)
			}
		default:
			if ms <= 0 || ms > time.Hour.Milliseconds() {
				t.Errorf("%s: %s PTTL = %d ms, want within the idle timeout", step, k, ms)
			}
		}
	}
}

func TestKeysExpire(t *testing.T) {
	f := newFixture(t)
	f.checkKeys(t, "after CreateUser", f.key("user"))

	id1, ref1 := f.session(t)
	s1 := f.key("s:" + id1.String())
	f.checkKeys(t, "after CreateSession", f.key("user"), f.key("sessions"), s1)

	if _, err := f.s.RotateRefresh(f.ctx, "alice", id1, store.Rotation{Old: ref1, Next: store.HashSecret([]byte("next"))}); err != nil {
		t.Fatal(err)
	}
	// Rotation state lives in the session hash: no key is added.
	f.checkKeys(t, "after RotateRefresh", f.key("user"), f.key("sessions"), s1)
	fields, err := f.rdb.HKeys(f.ctx, s1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(fields)
	if want := []string{"created", "exp", "gen", "idle", "prev", "ref", "rot", "seen", "seq"}; !slices.Equal(fields, want) {
		t.Errorf("session hash fields = %q, want %q", fields, want)
	}
	// Expire s1 sooner, so that Session has to push it back, and check
	// that PeekSession does not.
	if err := f.rdb.PExpire(f.ctx, s1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PeekSession(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	if pttl := f.pttls(t)[s1]; pttl > time.Minute.Milliseconds() {
		t.Errorf("after PeekSession, %s PTTL = %d ms, want it left below a minute", s1, pttl)
	}
	if _, err := f.s.Session(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	if pttl := f.pttls(t)[s1]; pttl <= time.Minute.Milliseconds() {
		t.Errorf("after Session, %s PTTL = %d ms, want it reset to the idle timeout", s1, pttl)
	}
	id2, _ := f.session(t)
	s2 := f.key("s:" + id2.String())
	f.checkKeys(t, "after Session", f.key("user"), f.key("sessions"), s1, s2)

	if err := f.s.RevokeSession(f.ctx, "alice", id1); err != nil {
		t.Fatal(err)
	}
	f.checkKeys(t, "after RevokeSession", f.key("user"), f.key("sessions"), s2)
	if n, err := f.rdb.ZCard(f.ctx, f.key("sessions")).Result(); err != nil || n != 1 {
		t.Errorf("index has %d members (%v) after RevokeSession, want 1", n, err)
	}

	f.session(t)
	if err := f.s.RevokeAll(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	f.checkKeys(t, "after RevokeAll", f.key("user"))
}

// TestRevokeAllCoversUnlistedSessions checks that RevokeAll ends a session
// missing from the index, as one created between RevokeAll's listing of
// the index and its script would be: the generation bump, not the key
// deletion, is what revokes.
func TestRevokeAllCoversUnlistedSessions(t *testing.T) {
	f := newFixture(t)
	listed, _ := f.session(t)
	unlisted, ref := f.session(t)
	if err := f.rdb.ZRem(f.ctx, f.key("sessions"), unlisted.String()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RevokeAll(f.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []store.Digest{listed, unlisted} {
		if _, err := f.s.Session(f.ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Session after RevokeAll: %v, want ErrNotFound", err)
		}
	}
	if _, err := f.s.RotateRefresh(f.ctx, "alice", unlisted, store.Rotation{Old: ref, Next: store.HashSecret([]byte("next"))}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateRefresh after RevokeAll: %v, want ErrNotFound", err)
	}
	// Reading the dead session deleted it; nothing but the user is left.
	f.checkKeys(t, "after reads", f.key("user"))
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
	case "hgetall", "zrange":
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
	must(f.s.CreateSession(ctx, store.SessionSpec{
		ID: store.HashSecret([]byte("capped")), Username: "alice", Refresh: store.HashSecret([]byte("capped ref")),
		IdleTimeout: time.Hour, ExpiresAt: time.Now().Add(time.Hour), Generation: u.Generation, MaxSessions: 1,
	}))
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
		t.Errorf("saw %d script calls, want one per operation", scripts)
	}

	// Scripts are cached now: reading a session is one round trip, and so
	// are peeking at it, listing the sessions and rotating a refresh token.
	must(f.s.SetDisabled(ctx, "alice", false))
	id, ref = f.session(t)
	for _, op := range []struct {
		name string
		call func() error
	}{
		{"Session", func() error { _, err := f.s.Session(ctx, "alice", id); return err }},
		{"PeekSession", func() error { _, err := f.s.PeekSession(ctx, "alice", id); return err }},
		{"Sessions", func() error {
			list, err := f.s.Sessions(ctx, "alice")
			if err == nil && len(list) != 1 {
				return fmt.Errorf("got %d sessions, want 1", len(list))
			}
			return err
		}},
		{"RotateRefresh", func() error {
			_, err := f.s.RotateRefresh(ctx, "alice", id, store.Rotation{Old: ref, Next: next})
			return err
		}},
		{"Session of an unknown ID", func() error {
			_, err := f.s.Session(ctx, "alice", store.HashSecret([]byte("unknown")))
			if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		}},
	} {
		hook.take()
		if err := op.call(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		process, pipelines, cmds := hook.take()
		if process != 1 || pipelines != 0 {
			t.Errorf("%s took %d commands and %d pipelines (%v), want exactly one command", op.name, process, pipelines, cmds)
		} else if name := strings.ToLower(fmt.Sprint(cmds[0][0])); name != "evalsha" {
			t.Errorf("%s sent %s, want evalsha of the cached script", op.name, name)
		}
	}
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
	return crc16(key) % 16384
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster uses for slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func TestKeySlot(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Errorf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	// Values and rules from the Redis Cluster specification.
	tests := []struct {
		key  string
		want uint16
	}{
		{"foo", 12182},
		{"{user1000}.following", keySlot("user1000")},
		{"foo{}{bar}", crc16("foo{}{bar}") % 16384},
		{"foo{{bar}}zap", crc16("{bar") % 16384},
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
// more than twice the memory they took with a fresh session, and the
// first token of the chain is still recognised as reused.
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
	cur := r0
	for seq := range uint64(rotations) {
		next := store.HashSecret([]byte(rand.Text()))
		if _, err := f.s.RotateRefresh(f.ctx, "alice", id, store.Rotation{Old: cur, Seq: seq, Next: next}); err != nil {
			t.Fatalf("rotation %d: %v", seq, err)
		}
		cur = next
	}
	after := usage()
	t.Logf("MEMORY USAGE of the user's keys: %d bytes fresh, %d after %d rotations", fresh, after, rotations)
	if after > 2*fresh {
		t.Errorf("after %d rotations the user's keys take %d bytes, more than twice the %d of a fresh session", rotations, after, fresh)
	}

	_, err := f.s.RotateRefresh(f.ctx, "alice", id, store.Rotation{Old: r0, Seq: 0, Next: store.HashSecret([]byte("replay"))})
	if !errors.Is(err, store.ErrReused) {
		t.Errorf("RotateRefresh of the seq-0 token after %d rotations: %v, want ErrReused", rotations, err)
	}
	if _, err := f.s.Session(f.ctx, "alice", id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session after reuse: %v, want ErrNotFound", err)
	}
}
