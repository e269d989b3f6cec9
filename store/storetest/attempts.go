package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// attemptCases check the [store.AttemptStore] part of the contract.
var attemptCases = []testCase{
	{"AbsentReadsZero", testAttemptsAbsent},
	{"AddFailureCounts", testAddFailureCounts},
	{"Independent", testAttemptsIndependent},
	{"OddKeys", testAttemptOddKeys},
	{"Expiry", testAttemptExpiry},
	{"Reset", testResetAttempts},
	{"PendingLeavesNoTrace", testPendingLeavesNoTrace},
	{"PendingDeadline", testPendingDeadline},
	{"EndBeforeBegin", testEndBeforeBegin},
	{"Invalid", testAttemptsInvalid},
	{"Concurrent", testConcurrentFailures},
	{"ConcurrentBegin", testConcurrentBegin},
	{"ContextDone", testAttemptsContextDone},
}

// lockout is the ttl the attempt cases give their counters.
const lockout = 15 * time.Minute

// attempts reads the counters of keys, failing the test on error.
func (e *env) attempts(t *testing.T, keys ...string) []store.Attempt {
	t.Helper()
	got, err := e.s.Attempts(e.ctx, keys...)
	must(t, "Attempts", err)
	if len(got) != len(keys) {
		t.Fatalf("Attempts(%d keys) returned %d counters", len(keys), len(got))
	}
	return got
}

// attemptIDs numbers the attempts of the tests.
var attemptIDs atomic.Int64

// newAttemptID returns an attempt id used nowhere else.
func newAttemptID() string { return fmt.Sprint("attempt-", attemptIDs.Add(1)) }

// begin begins a new attempt on keys, with a deadline a minute ahead,
// failing the test on error, and returns its id and the counters before.
func (e *env) begin(t *testing.T, keys ...string) (string, []store.Attempt) {
	t.Helper()
	id := newAttemptID()
	got, err := e.s.BeginAttempt(e.ctx, id, e.clock.Now().Add(time.Minute), keys...)
	must(t, "BeginAttempt", err)
	if len(got) != len(keys) {
		t.Fatalf("BeginAttempt(%d keys) returned %d counters", len(keys), len(got))
	}
	return id, got
}

// end ends attempt id on keys, with ttl [lockout], failing the test on
// error.
func (e *env) end(t *testing.T, id string, failed bool, keys ...string) []store.Attempt {
	t.Helper()
	got, err := e.s.EndAttempt(e.ctx, id, failed, lockout, keys...)
	must(t, "EndAttempt", err)
	if len(got) != len(keys) {
		t.Fatalf("EndAttempt(%d keys) returned %d counters", len(keys), len(got))
	}
	return got
}

// fail counts one failed attempt on each counter of keys, begun and ended
// at once, and returns the counters as left.
func (e *env) fail(t *testing.T, keys ...string) []store.Attempt {
	t.Helper()
	id, _ := e.begin(t, keys...)
	return e.end(t, id, true, keys...)
}

// checkAttempt reports a counter that differs from want.
func checkAttempt(t *testing.T, what string, got, want store.Attempt) {
	t.Helper()
	if got.Failures != want.Failures || !got.Last.Equal(want.Last) || got.Pending != want.Pending {
		t.Errorf("%s = {%d, %v, pending %d}, want {%d, %v, pending %d}",
			what, got.Failures, got.Last, got.Pending, want.Failures, want.Last, want.Pending)
	}
}

func testAttemptsAbsent(t *testing.T, e *env) {
	for i, a := range e.attempts(t, "user:alice", "ip:192.0.2.1") {
		checkAttempt(t, fmt.Sprintf("Attempts[%d]", i), a, store.Attempt{})
	}
	// No keys is a valid, empty request.
	got, err := e.s.Attempts(e.ctx)
	must(t, "Attempts()", err)
	if len(got) != 0 {
		t.Errorf("Attempts() = %v, want none", got)
	}
	got, err = e.s.BeginAttempt(e.ctx, "x", e.clock.Now().Add(time.Minute))
	must(t, "BeginAttempt()", err)
	if len(got) != 0 {
		t.Errorf("BeginAttempt() = %v, want none", got)
	}
	got, err = e.s.EndAttempt(e.ctx, "x", true, lockout)
	must(t, "EndAttempt()", err)
	if len(got) != 0 {
		t.Errorf("EndAttempt() = %v, want none", got)
	}
	must(t, "ResetAttempts()", e.s.ResetAttempts(e.ctx))
}

func testAddFailureCounts(t *testing.T, e *env) {
	for n := 1; n <= 3; n++ {
		want := store.Attempt{Failures: n, Last: e.clock.Now()}
		checkAttempt(t, "Failure", e.fail(t, "k")[0], want)
		checkAttempt(t, "Attempts", e.attempts(t, "k")[0], want)
		e.clock.Advance(time.Minute)
	}
}

func testAttemptsIndependent(t *testing.T, e *env) {
	e.fail(t, "a", "b")
	e.clock.Advance(time.Second)
	t1 := e.clock.Now()
	got := e.fail(t, "b", "a", "b")
	// Results come back in the order of the keys; a key named twice
	// counts twice.
	checkAttempt(t, "fail[b]", got[0], store.Attempt{Failures: 2, Last: t1})
	checkAttempt(t, "fail[a]", got[1], store.Attempt{Failures: 2, Last: t1})
	checkAttempt(t, "fail[b again]", got[2], store.Attempt{Failures: 3, Last: t1})

	e.fail(t, "c")
	got = e.attempts(t, "c", "a", "absent", "b")
	checkAttempt(t, "Attempts[c]", got[0], store.Attempt{Failures: 1, Last: t1})
	checkAttempt(t, "Attempts[a]", got[1], store.Attempt{Failures: 2, Last: t1})
	checkAttempt(t, "Attempts[absent]", got[2], store.Attempt{})
	checkAttempt(t, "Attempts[b]", got[3], store.Attempt{Failures: 3, Last: t1})
}

// oddKeys are keys a naive backend would confuse with each other or with
// its own syntax: separators, hash-tag braces, case, bytes that are not
// UTF-8, and the longest keys allowed.
var oddKeys = []string{
	" ", "a b", "a", "A", "a:", ":a", "{", "}", "{}", "{a}", "a}{b",
	"u:alice", "{u:alice}:user", "pair:alice|192.0.2.1", "pair:alice|2001:db8::1",
	"ünïcødé", "\x00", "\x00\x00", "\xff\xfe", "a\nb", "*", "?",
	strings.Repeat("x", store.MaxAttemptKeyLen),
	strings.Repeat("x", store.MaxAttemptKeyLen-1) + "y",
	strings.Repeat("x", store.MaxAttemptKeyLen-1),
}

func testAttemptOddKeys(t *testing.T, e *env) {
	now := e.clock.Now()
	// Key i gets i+1 failures, so any two keys that share a counter end
	// with a count that fits neither.
	for i := range oddKeys {
		e.fail(t, oddKeys[i:]...)
	}
	for i, a := range e.attempts(t, oddKeys...) {
		checkAttempt(t, "Attempts("+keyName(oddKeys[i])+")", a, store.Attempt{Failures: i + 1, Last: now})
	}
	must(t, "ResetAttempts", e.s.ResetAttempts(e.ctx, oddKeys...))
	for i, a := range e.attempts(t, oddKeys...) {
		checkAttempt(t, "Attempts("+keyName(oddKeys[i])+") after reset", a, store.Attempt{})
	}
}

// keyName shows a key in a message, shortening the long ones.
func keyName(k string) string {
	if len(k) > 20 {
		return fmt.Sprintf("%q…(%d bytes)", k[:8], len(k))
	}
	return fmt.Sprintf("%q", k)
}

// testAttemptExpiry checks that a counter lives until ttl after its last
// failure, by the store's clock, and then starts again from one.
func testAttemptExpiry(t *testing.T, e *env) {
	e.fail(t, "k", "other")
	e.clock.Advance(lockout - time.Second)
	// Each failure pushes the expiry back to ttl after it.
	t1 := e.clock.Now()
	checkAttempt(t, "fail before expiry", e.fail(t, "k")[0], store.Attempt{Failures: 2, Last: t1})
	e.clock.Advance(time.Second)
	checkAttempt(t, "Attempts(other) at its expiry", e.attempts(t, "other")[0], store.Attempt{})
	e.clock.Advance(lockout - 2*time.Second)
	checkAttempt(t, "Attempts just before expiry", e.attempts(t, "k")[0], store.Attempt{Failures: 2, Last: t1})
	e.clock.Advance(time.Second)
	checkAttempt(t, "Attempts at expiry", e.attempts(t, "k")[0], store.Attempt{})
	checkAttempt(t, "fail after expiry", e.fail(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})
	checkAttempt(t, "Attempts after expiry", e.attempts(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})

	// Each call may give its own ttl; the latest one counts.
	_, err := e.s.EndAttempt(e.ctx, newAttemptID(), true, time.Minute, "k")
	must(t, "EndAttempt with a short ttl", err)
	e.clock.Advance(time.Minute)
	checkAttempt(t, "Attempts after the short ttl", e.attempts(t, "k")[0], store.Attempt{})
}

func testResetAttempts(t *testing.T, e *env) {
	now := e.clock.Now()
	e.fail(t, "a", "b", "c")
	must(t, "ResetAttempts", e.s.ResetAttempts(e.ctx, "a", "c", "absent"))
	got := e.attempts(t, "a", "b", "c")
	checkAttempt(t, "Attempts[a]", got[0], store.Attempt{})
	checkAttempt(t, "Attempts[b]", got[1], store.Attempt{Failures: 1, Last: now})
	checkAttempt(t, "Attempts[c]", got[2], store.Attempt{})
	checkAttempt(t, "fail after reset", e.fail(t, "a")[0], store.Attempt{Failures: 1, Last: now})
}

// testAttemptsInvalid checks that keys no counter can have, and a ttl
// that would expire at once, fail with [store.ErrInvalid] and change
// nothing, not even the valid keys of the same call.
func testAttemptsInvalid(t *testing.T, e *env) {
	now := e.clock.Now()
	e.fail(t, "ok")
	long := strings.Repeat("x", store.MaxAttemptKeyLen+1)
	for _, c := range []struct {
		name string
		ttl  time.Duration
		keys []string
	}{
		{"EmptyKey", lockout, []string{""}},
		{"LongKey", lockout, []string{long}},
		{"ValidThenEmpty", lockout, []string{"ok", ""}},
		{"ValidThenLong", lockout, []string{"ok", long}},
		{"ZeroTTL", 0, []string{"ok"}},
		{"NegativeTTL", -time.Second, []string{"ok"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.s.EndAttempt(e.ctx, newAttemptID(), true, c.ttl, c.keys...)
			wantErr(t, "EndAttempt", err, store.ErrInvalid)
			if c.ttl > 0 {
				_, err = e.s.Attempts(e.ctx, c.keys...)
				wantErr(t, "Attempts", err, store.ErrInvalid)
				wantErr(t, "ResetAttempts", e.s.ResetAttempts(e.ctx, c.keys...), store.ErrInvalid)
				_, err = e.s.BeginAttempt(e.ctx, newAttemptID(), e.clock.Now().Add(time.Minute), c.keys...)
				wantErr(t, "BeginAttempt", err, store.ErrInvalid)
			}
		})
	}
	for _, id := range []string{"", strings.Repeat("i", store.MaxAttemptIDLen+1)} {
		_, err := e.s.BeginAttempt(e.ctx, id, e.clock.Now().Add(time.Minute), "ok")
		wantErr(t, fmt.Sprintf("BeginAttempt(id of %d bytes)", len(id)), err, store.ErrInvalid)
		_, err = e.s.EndAttempt(e.ctx, id, true, lockout, "ok")
		wantErr(t, fmt.Sprintf("EndAttempt(id of %d bytes)", len(id)), err, store.ErrInvalid)
	}
	checkAttempt(t, "Attempts after invalid calls", e.attempts(t, "ok")[0], store.Attempt{Failures: 1, Last: now})
}

// testConcurrentFailures checks that each counter changes atomically:
// of n concurrent failures, each sees a different count, and none is lost.
func testConcurrentFailures(t *testing.T, e *env) {
	const n = 50
	counts := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := e.s.EndAttempt(e.ctx, newAttemptID(), true, lockout, "k")
			if err == nil && len(got) == 1 {
				counts[i] = got[0].Failures
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, "EndAttempt", err)
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("the %d concurrent failed EndAttempt calls returned the counts %v, want 1 to %d once each", n, counts, n)
		}
	}
	checkAttempt(t, "Attempts", e.attempts(t, "k")[0], store.Attempt{Failures: n, Last: e.clock.Now()})
}

// testAttemptsContextDone checks that a counter call whose context is over
// fails with an infrastructure error, never one a throttle could read as
// "no failures", and changes nothing.
func testAttemptsContextDone(t *testing.T, e *env) {
	now := e.clock.Now()
	e.fail(t, "k")
	for _, c := range doneContexts(t, e.ctx) {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.s.Attempts(c.ctx, "k")
			wantInfraErr(t, "Attempts", err)
			_, err = e.s.BeginAttempt(c.ctx, newAttemptID(), e.clock.Now().Add(time.Minute), "k", "new")
			wantInfraErr(t, "BeginAttempt", err)
			_, err = e.s.EndAttempt(c.ctx, newAttemptID(), true, lockout, "k", "new")
			wantInfraErr(t, "EndAttempt", err)
			wantInfraErr(t, "ResetAttempts", e.s.ResetAttempts(c.ctx, "k"))
		})
	}
	got := e.attempts(t, "k", "new")
	checkAttempt(t, "Attempts[k]", got[0], store.Attempt{Failures: 1, Last: now})
	checkAttempt(t, "Attempts[new]", got[1], store.Attempt{})
}

// testPendingLeavesNoTrace checks that an attempt that ends without
// failing leaves its counters exactly as they were: the same failures,
// the same time of the last failure and the same expiry, so a success
// cannot extend a lock or a counter's life; and that other callers see
// it as pending while it runs.
func testPendingLeavesNoTrace(t *testing.T, e *env) {
	t0 := e.clock.Now()
	e.fail(t, "k", "k")
	e.clock.Advance(time.Minute)
	id, before := e.begin(t, "k", "fresh")
	checkAttempt(t, "BeginAttempt[k]", before[0], store.Attempt{Failures: 2, Last: t0})
	checkAttempt(t, "BeginAttempt[fresh]", before[1], store.Attempt{})
	got := e.attempts(t, "k", "fresh")
	checkAttempt(t, "Attempts[k] while pending", got[0], store.Attempt{Failures: 2, Last: t0, Pending: 1})
	checkAttempt(t, "Attempts[fresh] while pending", got[1], store.Attempt{Pending: 1})
	_, second := e.begin(t, "k")
	checkAttempt(t, "second BeginAttempt[k]", second[0], store.Attempt{Failures: 2, Last: t0, Pending: 1})

	e.clock.Advance(30 * time.Second)
	got = e.end(t, id, false, "k", "fresh")
	checkAttempt(t, "EndAttempt[k] not failed", got[0], store.Attempt{Failures: 2, Last: t0, Pending: 1})
	checkAttempt(t, "EndAttempt[fresh] not failed", got[1], store.Attempt{})
	// The expiry is still lockout after the last failure, not after the
	// attempt that left no trace.
	e.clock.Set(t0.Add(lockout - time.Second))
	checkAttempt(t, "Attempts[k] before its expiry", e.attempts(t, "k")[0], store.Attempt{Failures: 2, Last: t0})
	e.clock.Set(t0.Add(lockout))
	checkAttempt(t, "Attempts[k] at its expiry", e.attempts(t, "k")[0], store.Attempt{})

	// Ending twice, or ending an attempt never begun, changes nothing.
	e.end(t, id, false, "k")
	e.end(t, "never-begun", false, "k")
	checkAttempt(t, "Attempts[k] after extra ends", e.attempts(t, "k")[0], store.Attempt{})
}

// testPendingDeadline checks that a pending attempt stops counting at its
// deadline (its process may have died), and that a failure ended after
// the deadline still counts.
func testPendingDeadline(t *testing.T, e *env) {
	id := newAttemptID()
	_, err := e.s.BeginAttempt(e.ctx, id, e.clock.Now().Add(10*time.Second), "k")
	must(t, "BeginAttempt", err)
	e.clock.Advance(9 * time.Second)
	checkAttempt(t, "Attempts before the deadline", e.attempts(t, "k")[0], store.Attempt{Pending: 1})
	e.clock.Advance(time.Second)
	checkAttempt(t, "Attempts at the deadline", e.attempts(t, "k")[0], store.Attempt{})
	checkAttempt(t, "EndAttempt failed after the deadline", e.end(t, id, true, "k")[0],
		store.Attempt{Failures: 1, Last: e.clock.Now()})
	// A deadline already past registers nothing.
	_, err = e.s.BeginAttempt(e.ctx, newAttemptID(), e.clock.Now(), "k")
	must(t, "BeginAttempt with a past deadline", err)
	checkAttempt(t, "Attempts after a past deadline", e.attempts(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})
}

// testEndBeforeBegin: an attempt taken back before its BeginAttempt ran
// (a begin and its take-back crossing on the network after a timeout)
// is not registered by the late begin, which would otherwise hold the
// counter's pending count until its deadline; other attempts still
// register, and the memory of the ended one lasts its ttl.
func testEndBeforeBegin(t *testing.T, e *env) {
	late := newAttemptID()
	checkAttempt(t, "EndAttempt of an attempt not begun", e.end(t, late, false, "k")[0], store.Attempt{})
	deadline := e.clock.Now().Add(time.Minute)
	before, err := e.s.BeginAttempt(e.ctx, late, deadline, "k")
	must(t, "late BeginAttempt", err)
	checkAttempt(t, "late BeginAttempt", before[0], store.Attempt{})
	checkAttempt(t, "Attempts after the late begin", e.attempts(t, "k")[0], store.Attempt{})

	other, _ := e.begin(t, "k")
	checkAttempt(t, "Attempts with another attempt pending", e.attempts(t, "k")[0], store.Attempt{Pending: 1})
	e.end(t, other, false, "k")

	// A failure ended before its begin counts, and its begin is not
	// registered either.
	failed := newAttemptID()
	checkAttempt(t, "failed EndAttempt of an attempt not begun", e.end(t, failed, true, "k")[0],
		store.Attempt{Failures: 1, Last: e.clock.Now()})
	_, err = e.s.BeginAttempt(e.ctx, failed, deadline, "k")
	must(t, "late BeginAttempt of a failure", err)
	checkAttempt(t, "Attempts after the failure's late begin", e.attempts(t, "k")[0],
		store.Attempt{Failures: 1, Last: e.clock.Now()})

	// Past the ttl the id is forgotten (ids are unique, so this is only
	// about memory): a begin then registers.
	e.clock.Advance(lockout)
	_, err = e.s.BeginAttempt(e.ctx, late, e.clock.Now().Add(time.Minute), "k")
	must(t, "BeginAttempt past the ttl", err)
	checkAttempt(t, "Attempts past the ttl", e.attempts(t, "k")[0], store.Attempt{Pending: 1})
}

// testConcurrentBegin checks that pending attempts are counted
// atomically: of n concurrent BeginAttempt calls, each sees a different
// number of attempts before it.
func testConcurrentBegin(t *testing.T, e *env) {
	const n = 30
	seen := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := e.s.BeginAttempt(e.ctx, newAttemptID(), e.clock.Now().Add(time.Minute), "k")
			if err == nil && len(got) == 1 {
				seen[i] = got[0].Pending
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, "BeginAttempt", err)
	}
	slices.Sort(seen)
	for i, p := range seen {
		if p != i {
			t.Fatalf("the %d concurrent BeginAttempt calls saw %v pending, want 0 to %d once each", n, seen, n-1)
		}
	}
	checkAttempt(t, "Attempts", e.attempts(t, "k")[0], store.Attempt{Pending: n})
}
