package ginauth_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
)

// eventLog records the audit events of one kit and passes each on to the
// package's log, which checks every event for secrets.
type eventLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (l *eventLog) record(ctx context.Context, e audit.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	audited.record(ctx, e)
}

// of returns the events of kind recorded so far, in order.
func (l *eventLog) of(kind audit.Kind) []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var list []audit.Event
	for _, e := range l.events {
		if e.Kind == kind {
			list = append(list, e)
		}
	}
	return list
}

// hook is a kit option that records the kit's events in l.
func (l *eventLog) hook(c *kitConfig) { c.Audit = l.record }

// take returns the events of kind recorded so far and forgets every
// event, so that the next take sees only what came after.
func (l *eventLog) take(kind audit.Kind) []audit.Event {
	list := l.of(kind)
	l.mu.Lock()
	l.events = nil
	l.mu.Unlock()
	return list
}

// TestSessionEvictedEvent: a login past MaxSessionsPerUser reports the
// session it ended, and only that one.
func TestSessionEvictedEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		const maxSessions = 3
		events := &eventLog{}
		k := newK(t, func(c *kitConfig) {
			c.Sessions.MaxPerUser = maxSessions
			c.Audit = events.record
		})
		var toks []ginauth.TokenResponse
		for range maxSessions + 1 {
			toks = append(toks, k.login("bob", bobPW))
			k.clock.Advance(time.Second) // the first expires first
		}
		logins := events.of(audit.LoginSucceeded)
		if len(logins) != maxSessions+1 {
			t.Fatalf("%d login_succeeded events, want %d", len(logins), maxSessions+1)
		}
		evicted := events.of(audit.SessionEvicted)
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

// refreshFrom presents a refresh token from ip and returns the answer.
func (k *kit) refreshFrom(ip, token string) resp {
	k.t.Helper()
	return k.do("POST", "/auth/refresh", map[string]string{"refresh_token": token}, from(ip)...)
}

// untrusting makes the kit's engine trust no proxy, so that a request's
// client address is its peer's, whatever it forwards.
func (k *kit) untrusting() *kit {
	k.t.Helper()
	if err := k.engine.SetTrustedProxies(nil); err != nil {
		k.t.Fatal(err)
	}
	return k
}

// TestRefreshRetriedEvent: a grace replay of a refresh token is audited
// as refresh_retried, with the replaying and the rotating client's
// addresses, instead of refreshed.
func TestRefreshRetriedEvent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		events := &eventLog{}
		k := newK(t, func(c *kitConfig) { c.Audit = events.record }).untrusting()
		tok := k.login("bob", bobPW)
		session := events.of(audit.LoginSucceeded)[0].Session

		first := k.refreshFrom("198.51.100.1", tok.RefreshToken)
		expect(t, first, 200, "")
		// Forwarded headers are not believed: the peer is the client.
		retry := k.refreshFrom("203.0.113.7", tok.RefreshToken)
		expect(t, retry, 200, "")
		if retry.str("refresh_token") != first.str("refresh_token") {
			t.Fatal("the grace replay got another successor")
		}

		refreshed := events.of(audit.Refreshed)
		if len(refreshed) != 1 || refreshed[0].ClientIP != "198.51.100.1" {
			t.Errorf("refreshed events = %+v, want one, from 198.51.100.1", refreshed)
		}
		retried := events.of(audit.RefreshRetried)
		if len(retried) != 1 {
			t.Fatalf("refresh_retried events = %+v, want one", retried)
		}
		e := retried[0]
		if e.Reason != "grace_replay" || e.Status != 200 || e.Username != "bob" || e.Session != session ||
			e.ClientIP != "203.0.113.7" || e.PriorClientIP != "198.51.100.1" {
			t.Errorf("refresh_retried = %+v, want reason grace_replay, status 200, user bob, session %s, ip 203.0.113.7, prior 198.51.100.1", e, session)
		}
		var buf bytes.Buffer
		audit.Log(slog.New(slog.NewTextHandler(&buf, nil)))(context.Background(), e)
		if line := buf.String(); !strings.Contains(line, "event=refresh_retried") || !strings.Contains(line, "prior_ip=198.51.100.1") ||
			!strings.Contains(line, "ip=203.0.113.7") || !strings.Contains(line, "level=INFO") {
			t.Errorf("LogAudit wrote %q, want event, ip and prior_ip at level INFO", line)
		}
		// The forwarded header of a client changes nothing.
		tok2 := k.login("alice", alicePW)
		expect(t, k.do("POST", "/auth/refresh", map[string]string{"refresh_token": tok2.RefreshToken},
			append(from("198.51.100.9"), "X-Forwarded-For", "192.0.2.200")...), 200, "")
		if got := events.of(audit.Refreshed); len(got) != 2 || got[1].ClientIP != "198.51.100.9" {
			t.Errorf("refreshed events = %+v, want the second from the peer 198.51.100.9", got)
		}
	})
}

// TestRefreshGraceSameClient: with the option, a grace replay from
// another address is refused, and audited as such, without ending the
// session; one from the same address is answered.
func TestRefreshGraceSameClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newK kitMaker) {
		events := &eventLog{}
		k := newK(t, func(c *kitConfig) {
			c.Audit = events.record
			c.Refresh.SameClient = true
		}).untrusting()
		tok := k.login("bob", bobPW)
		session := events.of(audit.LoginSucceeded)[0].Session
		first := k.refreshFrom("198.51.100.1", tok.RefreshToken)
		expect(t, first, 200, "")

		expect(t, k.refreshFrom("203.0.113.7", tok.RefreshToken), 401, "invalid_grant")
		retried := events.of(audit.RefreshRetried)
		if len(retried) != 1 {
			t.Fatalf("refresh_retried events = %+v, want one", retried)
		}
		e := retried[0]
		if e.Reason != "grace_other_client" || e.Status != 401 || e.Code != "invalid_grant" || e.Username != "bob" ||
			e.Session != session || e.ClientIP != "203.0.113.7" || e.PriorClientIP != "198.51.100.1" {
			t.Errorf("refresh_retried = %+v, want reason grace_other_client, 401 invalid_grant, user bob, session %s, ip 203.0.113.7, prior 198.51.100.1", e, session)
		}

		same := k.refreshFrom("198.51.100.1", tok.RefreshToken)
		expect(t, same, 200, "")
		if same.str("refresh_token") != first.str("refresh_token") {
			t.Fatal("the grace replay from the same address got another successor")
		}
		if retried = events.of(audit.RefreshRetried); len(retried) != 2 || retried[1].Reason != "grace_replay" {
			t.Errorf("refresh_retried events = %+v, want a second, grace_replay", retried)
		}

		// The refusal ended nothing: the session and its newest token
		// carry on, from any address (the option concerns replays only).
		expect(t, k.do("GET", "/api/me", nil, bearer(first.str("access_token"))...), 200, "")
		expect(t, k.refreshFrom("203.0.113.7", first.str("refresh_token")), 200, "")
	})
}
