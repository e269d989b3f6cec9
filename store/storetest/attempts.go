package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
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
	{"Forgive", testForgiveFailure},
	{"Invalid", testAttemptsInvalid},
	{"Concurrent", testConcurrentAddFailure},
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

// fail adds a failure to each counter of keys with ttl [lockout], failing
// the test on error.
func (e *env) fail(t *testing.T, keys ...string) []store.Attempt {
	t.Helper()
	got, err := e.s.AddFailure(e.ctx, lockout, keys...)
	must(t, "AddFailure", err)
	if len(got) != len(keys) {
		t.Fatalf("AddFailure(%d keys) returned %d counters", len(keys), len(got))
	}
	return got
}

// checkAttempt reports a counter that differs from want.
func checkAttempt(t *testing.T, what string, got, want store.Attempt) {
	t.Helper()
	if got.Failures != want.Failures || !got.Last.Equal(want.Last) {
		t.Errorf("%s = {%d, %v}, want {%d, %v}", what, got.Failures, got.Last, want.Failures, want.Last)
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
	got, err = e.s.AddFailure(e.ctx, lockout)
	must(t, "AddFailure()", err)
	if len(got) != 0 {
		t.Errorf("AddFailure() = %v, want none", got)
	}
	must(t, "ResetAttempts()", e.s.ResetAttempts(e.ctx))
	must(t, "ForgiveFailure()", e.s.ForgiveFailure(e.ctx))
}

func testAddFailureCounts(t *testing.T, e *env) {
	for n := 1; n <= 3; n++ {
		want := store.Attempt{Failures: n, Last: e.clock.Now()}
		checkAttempt(t, "AddFailure", e.fail(t, "k")[0], want)
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
	checkAttempt(t, "AddFailure[b]", got[0], store.Attempt{Failures: 2, Last: t1})
	checkAttempt(t, "AddFailure[a]", got[1], store.Attempt{Failures: 2, Last: t1})
	checkAttempt(t, "AddFailure[b again]", got[2], store.Attempt{Failures: 3, Last: t1})

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
	checkAttempt(t, "AddFailure before expiry", e.fail(t, "k")[0], store.Attempt{Failures: 2, Last: t1})
	e.clock.Advance(time.Second)
	checkAttempt(t, "Attempts(other) at its expiry", e.attempts(t, "other")[0], store.Attempt{})
	e.clock.Advance(lockout - 2*time.Second)
	checkAttempt(t, "Attempts just before expiry", e.attempts(t, "k")[0], store.Attempt{Failures: 2, Last: t1})
	e.clock.Advance(time.Second)
	checkAttempt(t, "Attempts at expiry", e.attempts(t, "k")[0], store.Attempt{})
	checkAttempt(t, "AddFailure after expiry", e.fail(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})
	checkAttempt(t, "Attempts after expiry", e.attempts(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})

	// Each call may give its own ttl; the latest one counts.
	_, err := e.s.AddFailure(e.ctx, time.Minute, "k")
	must(t, "AddFailure with a short ttl", err)
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
	checkAttempt(t, "AddFailure after reset", e.fail(t, "a")[0], store.Attempt{Failures: 1, Last: now})
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
			_, err := e.s.AddFailure(e.ctx, c.ttl, c.keys...)
			wantErr(t, "AddFailure", err, store.ErrInvalid)
			if c.ttl > 0 {
				_, err = e.s.Attempts(e.ctx, c.keys...)
				wantErr(t, "Attempts", err, store.ErrInvalid)
				wantErr(t, "ResetAttempts", e.s.ResetAttempts(e.ctx, c.keys...), store.ErrInvalid)
				wantErr(t, "ForgiveFailure", e.s.ForgiveFailure(e.ctx, c.keys...), store.ErrInvalid)
			}
		})
	}
	checkAttempt(t, "Attempts after invalid calls", e.attempts(t, "ok")[0], store.Attempt{Failures: 1, Last: now})
}

// testConcurrentAddFailure checks that each counter changes atomically:
// of n concurrent failures, each sees a different count, and none is lost.
func testConcurrentAddFailure(t *testing.T, e *env) {
	const n = 50
	counts := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := e.s.AddFailure(e.ctx, lockout, "k")
			if err == nil && len(got) == 1 {
				counts[i] = got[0].Failures
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, "AddFailure", err)
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("the %d concurrent AddFailure calls returned the counts %v, want 1 to %d once each", n, counts, n)
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
			_, err = e.s.AddFailure(c.ctx, lockout, "k", "new")
			wantInfraErr(t, "AddFailure", err)
			wantInfraErr(t, "ResetAttempts", e.s.ResetAttempts(c.ctx, "k"))
			wantInfraErr(t, "ForgiveFailure", e.s.ForgiveFailure(c.ctx, "k"))
		})
	}
	got := e.attempts(t, "k", "new")
	checkAttempt(t, "Attempts[k]", got[0], store.Attempt{Failures: 1, Last: now})
	checkAttempt(t, "Attempts[new]", got[1], store.Attempt{})
}

// testForgiveFailure takes failures back one at a time, keeping the time
// of the last failure, down to an absent counter and never below.
func testForgiveFailure(t *testing.T, e *env) {
	t0 := e.clock.Now()
	e.fail(t, "k", "k", "other")
	e.clock.Advance(time.Minute)
	must(t, "ForgiveFailure", e.s.ForgiveFailure(e.ctx, "k", "absent"))
	got := e.attempts(t, "k", "other", "absent")
	checkAttempt(t, "Attempts[k] after one forgiven", got[0], store.Attempt{Failures: 1, Last: t0})
	checkAttempt(t, "Attempts[other]", got[1], store.Attempt{Failures: 1, Last: t0})
	checkAttempt(t, "Attempts[absent]", got[2], store.Attempt{})
	must(t, "ForgiveFailure", e.s.ForgiveFailure(e.ctx, "k", "k"))
	checkAttempt(t, "Attempts[k] after all forgiven", e.attempts(t, "k")[0], store.Attempt{})
	checkAttempt(t, "AddFailure after all forgiven", e.fail(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})
	// An expired counter is absent: forgiving it changes nothing.
	e.clock.Advance(lockout)
	must(t, "ForgiveFailure", e.s.ForgiveFailure(e.ctx, "k"))
	checkAttempt(t, "AddFailure after expiry", e.fail(t, "k")[0], store.Attempt{Failures: 1, Last: e.clock.Now()})
}
