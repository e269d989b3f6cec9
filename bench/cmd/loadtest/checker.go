package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// recovery is how long after a fault ends a 503 is still a right answer;
// past it every answer must be the normal one.
const recovery = 2 * time.Second

// fault is one injected fault and what it caused.
type fault struct {
	name, what string
	start, end time.Time // end is zero while the fault lasts
	// usersReady is when the users were created again after a restart;
	// zero until then, and for other faults.
	usersReady time.Time
	// barrier is, for a failover, when the tool last made sure the
	// replicas had every write: writes acknowledged after it may be lost.
	barrier time.Time
	detail  string

	// Filled by record, under the timeline's lock.
	n503              int
	first503, last503 time.Time
	lost              int // sessions lost to this restart
	// firstOK is, for each worker, its first answer that needed the
	// store, was right and came after the fault ended.
	firstOK map[string]time.Time
}

// timeline holds the faults, and the gate workers wait at to log in while
// a restart has left Redis without users.
type timeline struct {
	mu     sync.Mutex
	faults []*fault
	gate   chan struct{} // closed while the users exist
}

func newTimeline() *timeline {
	g := make(chan struct{})
	close(g)
	return &timeline{gate: g}
}

func (tl *timeline) begin(name, what string) *fault {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	f := &fault{name: name, what: what, start: time.Now()}
	tl.faults = append(tl.faults, f)
	return f
}

func (tl *timeline) finish(f *fault, detail string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	f.end, f.detail = time.Now(), detail
}

// succeeded records a right answer that needed the store, received at
// end by the worker of user name, for the recovery from each fault that
// had ended by then.
func (tl *timeline) succeeded(name string, end time.Time) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, f := range tl.faults {
		if f.end.IsZero() || !end.After(f.end) {
			continue
		}
		if f.firstOK == nil {
			f.firstOK = map[string]time.Time{}
		}
		if _, ok := f.firstOK[name]; !ok {
			f.firstOK[name] = end
		}
	}
}

// closeGate makes logins wait: the users are about to disappear.
func (tl *timeline) closeGate() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.gate = make(chan struct{})
}

// usersBack records that the users of restart f exist again.
func (tl *timeline) usersBack(f *fault, detail string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	f.usersReady, f.detail = time.Now(), detail
	close(tl.gate)
}

// waitUsers blocks while a restart has left Redis without users.
func (tl *timeline) waitUsers(ctx context.Context) {
	tl.mu.Lock()
	g := tl.gate
	tl.mu.Unlock()
	select {
	case <-g:
	case <-ctx.Done():
	}
}

// during returns the fault whose window, extended by recovery, overlaps
// [start, end], or nil.
func (tl *timeline) during(start, end time.Time) *fault {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, f := range slices.Backward(tl.faults) {
		if !end.Before(f.start) && (f.end.IsZero() || !start.After(f.end.Add(recovery))) {
			return f
		}
	}
	return nil
}

// lostTo returns the fault that may have destroyed session s before end,
// or nil: a restart that killed Redis after the session's login started,
// or a failover that started before end whose barrier came before the
// session's latest write was acknowledged, the write itself coming before
// the failover ended (plus recovery): asynchronous replication may have
// lost that write.
func (tl *timeline) lostTo(s *session, end time.Time) *fault {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, f := range tl.faults {
		switch {
		case f.name == "restart" && s.loginStart.Before(f.start) && !f.start.After(end):
			return f
		case !f.barrier.IsZero() && !s.acked.Before(f.barrier) && !f.start.After(end) &&
			(f.end.IsZero() || s.acked.Before(f.end.Add(recovery))):
			return f
		}
	}
	return nil
}

// usersMissing reports whether [start, end] overlaps the time between a
// restart and the re-creation of the users.
func (tl *timeline) usersMissing(start, end time.Time) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, f := range tl.faults {
		if f.name == "restart" && !end.Before(f.start) && (f.usersReady.IsZero() || !start.After(f.usersReady)) {
			return true
		}
	}
	return false
}

// op is a kind of request and the answer it must get.
type op struct {
	name   string
	status int
	code   string // the error code; "" for a success
	// also are other right answers ("429 too_many_attempts").
	also []string
	// needsStore: the answer depends on Redis, so 503 is right during a
	// fault. Requests that need no store must get their answer always.
	needsStore bool
	// validLogin: the right credentials of a user that exists (but may
	// have been lost to a restart).
	validLogin bool
	// check looks at a success body; it returns why it is wrong, or "".
	check func(a answer, u user) string
}

// outcome classifies an answer.
type outcome int

const (
	normal       outcome = iota // the answer the request must get
	unavailable                 // 503 during a fault, for a request needing the store
	lost                        // 401 for a session a restart destroyed
	usersMissing                // 401 invalid_credentials while a restart left no users
	wrong                       // anything else
)

var outcomeNames = [...]string{"", "503 in fault", "lost in a restart or failover", "users missing", "WRONG"}

// judge decides what a is worth as an answer to o; s is the session the
// request presented (nil for none). For a wrong answer it says why.
func (lt *loadtest) judge(o op, a answer, u user, s *session) (outcome, string) {
	key := strconv.Itoa(a.status) + " " + a.code
	switch {
	case a.err != nil:
		return wrong, "no answer: " + trimErr(a.err)
	case a.status == o.status && a.code == o.code:
		if o.check != nil {
			if why := o.check(a, u); why != "" {
				return wrong, why
			}
		}
		return normal, ""
	case slices.Contains(o.also, key):
		return normal, ""
	case a.status == 503:
		f := lt.tl.during(a.start, a.end)
		switch {
		case !o.needsStore:
			return wrong, "503 for a request that needs no store"
		case a.code != "unavailable" || !a.retryAfter:
			return wrong, "503 without code unavailable and Retry-After"
		case f == nil:
			return wrong, "503 outside a fault or over 2 s after its end"
		}
		lt.tl.mu.Lock()
		f.n503++
		if f.first503.IsZero() || a.start.Before(f.first503) {
			f.first503 = a.start
		}
		if a.end.After(f.last503) {
			f.last503 = a.end
		}
		lt.tl.mu.Unlock()
		return unavailable, ""
	case a.status >= 200 && a.status < 300:
		return wrong, "success that should not be a success"
	case a.status == 401 && s != nil && (a.code == "invalid_token" || a.code == "invalid_grant"):
		if f := lt.tl.lostTo(s, a.end); f != nil {
			return lost, ""
		}
		return wrong, "valid session answered 401"
	case o.validLogin && a.status == 401 && a.code == "invalid_credentials" && lt.tl.usersMissing(a.start, a.end):
		return usersMissing, ""
	case o.validLogin && (a.status == 401 || a.status == 429):
		return wrong, "valid login answered " + key
	}
	return wrong, "unexpected " + key + " (want " + strconv.Itoa(o.status) + " " + o.code + ")"
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// tally counts answers and keeps latencies; safe for concurrent use.
type tally struct {
	mu       sync.Mutex
	requests int
	latency  []time.Duration // every answered request
	calm     []time.Duration // those outside every fault window
	byOp     map[string]map[string]int
	wrong    map[string]int
	examples map[string][]string
	start    time.Time
}

func newTally(start time.Time) *tally {
	return &tally{byOp: map[string]map[string]int{}, wrong: map[string]int{},
		examples: map[string][]string{}, start: start}
}

// record counts one answer.
func (lt *loadtest) record(o op, a answer, out outcome, why string) {
	inFault := lt.tl.during(a.start, a.end) != nil
	t := lt.tally
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	if a.err == nil {
		d := a.end.Sub(a.start)
		t.latency = append(t.latency, d)
		if !inFault {
			t.calm = append(t.calm, d)
		}
	}
	key := strconv.Itoa(a.status)
	if a.err != nil {
		key = "no answer"
	}
	if out != normal {
		key += " (" + outcomeNames[out] + ")"
	}
	if t.byOp[o.name] == nil {
		t.byOp[o.name] = map[string]int{}
	}
	t.byOp[o.name][key]++
	if out == wrong {
		t.wrong[why]++
		if len(t.examples[why]) < 3 {
			t.examples[why] = append(t.examples[why], fmt.Sprintf("%s at %.2fs: %d %s %.80q",
				o.name, a.start.Sub(t.start).Seconds(), a.status, a.code, a.body))
		}
	}
}
