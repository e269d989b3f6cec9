package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestJudge checks the rules of the pass criteria on made-up answers
// around a 2 s pause at t0 and a restart at t0+10 s (Redis back at +10.6 s,
// users back at +11 s).
func TestJudge(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tl := newTimeline()
	tl.faults = []*fault{
		{name: "pause", start: at(0), end: at(2)},
		{name: "restart", start: at(10), end: at(10.6), usersReady: at(11)},
		{name: "failover", start: at(20), end: at(22), barrier: at(19.5)},
	}
	lt := &loadtest{tl: tl}
	alice := user{name: "alice"}
	old := &session{loginStart: at(5)}    // created before the restart
	fresh := &session{loginStart: at(12)} // created after it
	// Around the failover: the latest write of each acknowledged before the
	// barrier, between the barrier and the failover's end, and after.
	replicated := &session{loginStart: at(12), acked: at(19)}
	unreplicated := &session{loginStart: at(12), acked: at(19.8)}
	later := &session{loginStart: at(12), acked: at(25)}
	ans := func(from float64, status int, code, body string) answer {
		return answer{status: status, code: code, body: []byte(body), retryAfter: status == 503,
			start: at(from), end: at(from + 0.01)}
	}
	for _, tc := range []struct {
		name string
		op   op
		a    answer
		s    *session
		want outcome
		why  string
	}{
		{"me answered", opMe, ans(1, 200, "", `{"username":"alice"}`), old, normal, ""},
		{"me for someone else", opMe, ans(1, 200, "", `{"username":"bob"}`), old, wrong, "wrong user"},
		{"forbidden answered 200", opForbidden, ans(5, 200, "", `{}`), old, wrong, "should not be a success"},
		{"503 in the pause", opMe, ans(1, 503, "unavailable", ""), old, unavailable, ""},
		{"503 1.5 s after the pause", opMe, ans(3.5, 503, "unavailable", ""), old, unavailable, ""},
		{"503 3 s after the pause", opMe, ans(5, 503, "unavailable", ""), old, wrong, "outside a fault"},
		{"503 for a forged token", opForged, ans(1, 503, "unavailable", ""), nil, wrong, "needs no store"},
		{"503 without Retry-After", opMe, answer{status: 503, code: "unavailable", start: at(1), end: at(1)}, old, wrong, "Retry-After"},
		{"forged token in the pause", opForged, ans(1, 401, "invalid_token", ""), nil, normal, ""},
		{"session lost to the restart", opMe, ans(10.5, 401, "invalid_token", ""), old, lost, ""},
		{"refresh lost to the restart", opRefresh, ans(13, 401, "invalid_grant", ""), old, lost, ""},
		{"valid session answered 401", opMe, ans(13, 401, "invalid_token", ""), fresh, wrong, "valid session answered 401"},
		{"session before any restart answered 401", opMe, ans(6, 401, "invalid_token", ""), old, wrong, "valid session answered 401"},
		{"login while the users are missing", opLogin, ans(10.8, 401, "invalid_credentials", ""), nil, usersMissing, ""},
		{"login after the users are back", opLogin, ans(11.5, 401, "invalid_credentials", ""), nil, wrong, "valid login answered 401"},
		{"valid login throttled", opLogin, ans(15, 429, "too_many_attempts", ""), nil, wrong, "valid login answered 429"},
		{"wrong password throttled", opWrongPassword, ans(15, 429, "too_many_attempts", ""), nil, normal, ""},
		{"unexpected status", opUnknownPath, ans(15, 500, "internal_error", ""), nil, wrong, "unexpected 500"},
		{"503 in the failover", opMe, ans(21, 503, "unavailable", ""), replicated, unavailable, ""},
		{"replicated session answered 401 after the failover", opMe, ans(23, 401, "invalid_token", ""), replicated, wrong, "valid session answered 401"},
		{"rotation after the barrier lost in the failover", opRefresh, ans(23, 401, "invalid_grant", ""), unreplicated, lost, ""},
		{"session written after the failover answered 401", opRefresh, ans(26, 401, "invalid_grant", ""), later, wrong, "valid session answered 401"},
		{"no answer", opMe, answer{err: errors.New("connection refused"), start: at(15), end: at(15)}, fresh, wrong, "no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := lt.judge(tc.op, tc.a, alice, tc.s)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("judge = %d %q, want %d containing %q", got, why, tc.want, tc.why)
			}
		})
	}
}
