package ginauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/ginauth"
)

// eventLog records the audit events of one kit and passes each on to the
// package's log, which checks every event for secrets.
type eventLog struct {
	mu     sync.Mutex
	events []ginauth.Event
}

func (l *eventLog) record(ctx context.Context, e ginauth.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	audited.record(ctx, e)
}

// of returns the events of kind recorded so far, in order.
func (l *eventLog) of(kind ginauth.EventKind) []ginauth.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var list []ginauth.Event
	for _, e := range l.events {
		if e.Kind == kind {
			list = append(list, e)
		}
	}
	return list
}

// forEachBackend runs test on a kit of each session backend: Redis with
// its users, Redis with users apart, and memory.
func forEachBackend(t *testing.T, test func(t *testing.T, newK kitMaker)) {
	for _, m := range []struct {
		name string
		newK kitMaker
	}{{"redis", newKit}, {"split", newSplitKit}, {"memory", newMemKit}} {
		t.Run(m.name, func(t *testing.T) { test(t, m.newK) })
	}
}

// TestSessionEvictedEvent: a login past MaxSessionsPerUser reports the
// session it ended, and only that one.
func TestSessionEvictedEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		const maxSessions = 3
		events := &eventLog{}
		k := newK(t, func(c *ginauth.Config) {
			c.MaxSessionsPerUser = maxSessions
			c.Audit = events.record
		})
		var toks []ginauth.TokenResponse
		for range maxSessions + 1 {
			toks = append(toks, k.login("bob", bobPW))
			k.clock.Advance(time.Second) // the first expires first
		}
		logins := events.of(ginauth.EventLoginSucceeded)
		if len(logins) != maxSessions+1 {
			t.Fatalf("%d login_succeeded events, want %d", len(logins), maxSessions+1)
		}
		evicted := events.of(ginauth.EventSessionEvicted)
		if len(evicted) != 1 {
			t.Fatalf("session_evicted events = %+v, want exactly one", evicted)
		}
		e := evicted[0]
		if e.Username != "bob" || e.Session != logins[0].Session || e.Reason != "session_cap" || e.Status != 200 {
			t.Errorf("session_evicted = %+v, want user bob, session %s (the first login's), reason session_cap, status 200",
				e, logins[0].Session)
		}
		if e.Session == logins[maxSessions].Session {
			t.Errorf("session_evicted names the new session %s", e.Session)
		}
		expect(t, k.do("GET", "/api/me", nil, bearer(toks[0].AccessToken)...), 401, "invalid_token")
		for _, tok := range toks[1:] {
			expect(t, k.do("GET", "/api/me", nil, bearer(tok.AccessToken)...), 200, "")
		}
	})
}
