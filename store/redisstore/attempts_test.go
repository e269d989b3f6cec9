package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// TestAttemptKeyLayout checks the documented layout of counter keys: each
// is its own hash tag {a:<digest>}, so the counters of one call spread
// over a cluster's slots, and no key name holds the caller's bytes.
func TestAttemptKeyLayout(t *testing.T) {
	rdb, prefix := testredis.New(t)
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	keys := []string{"pair:alice|192.0.2.1", "ip:{192.0.2.1}", "user:alice}"}
	// Begun, then ended: the pending sets are empty again, so gone.
	if _, err := s.BeginAttempt(ctx, "test-attempt", time.Now().Add(time.Minute), keys...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndAttempt(ctx, "test-attempt", true, time.Minute, keys...); err != nil {
		t.Fatal(err)
	}

	var want []string
	for _, k := range keys {
		sum := sha256.Sum256([]byte(k))
		want = append(want, prefix+"{a:"+base64.RawURLEncoding.EncodeToString(sum[:])+"}")
	}
	got, err := testredis.Keys(ctx, rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}

	tags := map[string]bool{}
	for _, name := range got {
		// Redis hashes the text between the first '{' and the next '}'.
		open := strings.IndexByte(name, '{')
		end := open + strings.IndexByte(name[open:], '}')
		tag := name[open+1 : end]
		if !strings.HasPrefix(tag, "a:") || end != len(name)-1 {
			t.Errorf("key %q: hash tag %q, want the whole {a:…} suffix", name, tag)
		}
		tags[tag] = true
		for _, k := range keys {
			if strings.Contains(name, k) || strings.Contains(name, "alice") {
				t.Errorf("key %q holds the caller's key %q", name, k)
			}
		}
		ttl, err := rdb.PTTL(ctx, name).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %q: PTTL = %v, want within the ttl", name, ttl)
		}
	}
	if len(tags) != len(keys) {
		t.Errorf("%d keys share %d hash tags, want one tag each", len(keys), len(tags))
	}
}

// TestAttemptsOneRoundTrip checks that each counter operation makes one
// round trip whatever the number of keys.
func TestAttemptsOneRoundTrip(t *testing.T) {
	rdb, prefix := testredis.New(t)
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Have the server cache the scripts first: a server that has never
	// seen them takes a second round trip, checked in
	// TestAttemptsUncachedScript.
	if _, err := s.EndAttempt(ctx, "test-attempt", true, time.Minute, "warm-up"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginAttempt(ctx, "warm-up", time.Now().Add(time.Minute), "warm-up"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attempts(ctx, "warm-up"); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	rdb.AddHook(rec)
	keys := []string{"user:alice", "ip:192.0.2.1", "pair:alice|192.0.2.1"}
	for _, c := range []struct {
		name string
		call func() error
		cmd  string
	}{
		{"EndAttempt", func() error { _, err := s.EndAttempt(ctx, "test-attempt", true, time.Minute, keys...); return err }, "evalsha"},
		{"BeginAttempt", func() error {
			_, err := s.BeginAttempt(ctx, "test-attempt", time.Now().Add(time.Minute), keys...)
			return err
		}, "evalsha"},
		{"Attempts", func() error { _, err := s.Attempts(ctx, keys...); return err }, "evalsha"},
		{"ResetAttempts", func() error { return s.ResetAttempts(ctx, keys...) }, "del"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec.reset()
			if err := c.call(); err != nil {
				t.Fatal(err)
			}
			rec.check(t, [][]string{{c.cmd, c.cmd, c.cmd}})
		})
	}
}

// TestAttemptsUncachedScript checks that a server that does not know the
// scripts (fresh, restarted or flushed) still counts each failure exactly
// once: the commands it refused with NOSCRIPT, and only those, go again as
// EVAL in a second round trip, and after that the cached script serves.
func TestAttemptsUncachedScript(t *testing.T) {
	// A private server, so that its script cache is known to be empty.
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	s, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := rdb.Ping(ctx).Err(); err != nil { // connect before recording
		t.Fatal(err)
	}
	rec := &recorder{}
	rdb.AddHook(rec)
	keys := []string{"a", "b", "c"}
	for n := 1; n <= 2; n++ {
		rec.reset()
		got, err := s.EndAttempt(ctx, "test-attempt", true, time.Minute, keys...)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range got {
			if a.Failures != n {
				t.Errorf("call %d: EndAttempt(%q).Failures = %d, want %d", n, keys[i], a.Failures, n)
			}
		}
		if n == 1 {
			rec.check(t, [][]string{{"evalsha", "evalsha", "evalsha"}, {"eval", "eval", "eval"}})
		} else {
			rec.check(t, [][]string{{"evalsha", "evalsha", "evalsha"}})
		}
	}
}

// TestAttemptsInfraError checks that a failing server is an
// infrastructure error, never read as "no failures".
func TestAttemptsInfraError(t *testing.T) {
	srv := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	s, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	srv.SetError("LOADING Redis is loading the dataset in memory")
	_, err = s.Attempts(ctx, "k")
	checkInfraErr(t, "Attempts", err)
	_, err = s.EndAttempt(ctx, "test-attempt", true, time.Minute, "k")
	checkInfraErr(t, "EndAttempt", err)
	_, err = s.BeginAttempt(ctx, "a", time.Now().Add(time.Minute), "k")
	checkInfraErr(t, "BeginAttempt", err)
	checkInfraErr(t, "ResetAttempts", s.ResetAttempts(ctx, "k"))
}

func checkInfraErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: error = nil, want an infrastructure error", what)
		return
	}
	for _, s := range []error{store.ErrNotFound, store.ErrExists, store.ErrReused, store.ErrStale, store.ErrInvalid} {
		if errors.Is(err, s) {
			t.Errorf("%s: error %q wraps %q", what, err, s)
		}
	}
}

// recorder is a go-redis hook that records the commands sent, as one
// list per round trip. It leaves out the handshake go-redis may send on a
// connection (HELLO, CLIENT SETINFO), which is no work of the store's.
type recorder struct {
	mu    sync.Mutex
	trips [][]string
}

var handshake = map[string]bool{"hello": true, "client": true, "auth": true, "select": true}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trips = nil
}

func (r *recorder) add(cmds []redis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, c := range cmds {
		if !handshake[c.Name()] {
			names = append(names, c.Name())
		}
	}
	if names != nil {
		r.trips = append(r.trips, names)
	}
}

// check reports unless the recorded round trips are want.
func (r *recorder) check(t *testing.T, want [][]string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.EqualFunc(r.trips, want, slices.Equal) {
		t.Errorf("round trips = %q, want %q", r.trips, want)
	}
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.add([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.add(cmds)
		return next(ctx, cmds)
	}
}
