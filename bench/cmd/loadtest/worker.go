package main

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// backoff is how long a client waits after a 503 before its next request.
// Real clients should honour Retry-After; the tool retries sooner to see
// how fast the demo recovers.
const backoff = 100 * time.Millisecond

// The requests, each with the answer it must get.
var (
	opLogin = op{name: "login", status: 200, needsStore: true, validLogin: true, check: tokensIn}
	opMe    = op{name: "me", status: 200, needsStore: true, check: func(a answer, u user) string {
		if got := a.field("username"); got != u.name {
			return "200 for the wrong user"
		}
		return ""
	}}
	opAdmin = op{name: "admin-stats", status: 200, needsStore: true, check: func(a answer, _ user) string {
		if a.number("goroutines") < 0 {
			return "admin stats without goroutines"
		}
		return ""
	}}
	opForbidden = op{name: "forbidden", status: 403, code: "forbidden", needsStore: true}
	opRefresh   = op{name: "refresh", status: 200, needsStore: true, check: tokensIn}
	opLogout    = op{name: "logout", status: 204, needsStore: true}
	opHealth    = op{name: "healthz", status: 200, needsStore: true, check: func(a answer, _ user) string {
		if a.field("status") != "ok" {
			return "healthz 200 without status ok"
		}
		return ""
	}}

	// Garbage, sent from an address of its own. Only the wrong password
	// needs the store; the others must be answered during faults too.
	opNoCredentials = op{name: "garbage-no-credentials", status: 401, code: "authentication_required"}
	opForged        = op{name: "garbage-forged-token", status: 401, code: "invalid_token"}
	opOtherKey      = op{name: "garbage-other-key", status: 401, code: "invalid_token"}
	opTampered      = op{name: "garbage-tampered-token", status: 401, code: "invalid_token"}
	opUnknownPath   = op{name: "garbage-unknown-path", status: 404, code: "not_found"}
	opWrongMethod   = op{name: "garbage-wrong-method", status: 405, code: "method_not_allowed"}
	opBadJSON       = op{name: "garbage-bad-json", status: 400, code: "invalid_request"}
	opForgedRefresh = op{name: "garbage-forged-refresh", status: 401, code: "invalid_grant"}
	opWrongPassword = op{name: "garbage-wrong-password", status: 401, code: "invalid_credentials",
		also: []string{"429 too_many_attempts"}, needsStore: true}
)

func tokensIn(a answer, _ user) string {
	if a.field("access_token") == "" || a.field("refresh_token") == "" {
		return "200 without a token pair"
	}
	return ""
}

// session is a worker's login.
type session struct {
	access, refresh string
	// loginStart is when the login that created the session started: a
	// restart after it may have destroyed the session.
	loginStart time.Time
	// acked is when the demo acknowledged the session's latest write (the
	// login or the latest refresh): a failover after a barrier that came
	// before it may have lost that write.
	acked time.Time
}

// worker is one simulated user with its own client address.
type worker struct {
	lt      *loadtest
	u       user
	c       *http.Client
	rng     *rand.Rand
	s       *session
	retryRf bool // the last refresh got 503: retry it first (same token)
	storm   uint64
}

// run sends requests until ctx ends or the tool's request budget is spent.
func (w *worker) run(ctx context.Context) {
	for ctx.Err() == nil && w.lt.take() {
		switch {
		case w.s == nil:
			w.login(ctx)
		case w.retryRf:
			w.refresh()
		case w.storm != w.lt.storm.Load():
			// An outage ended: the access token has expired meanwhile.
			w.storm = w.lt.storm.Load()
			w.refresh()
		default:
			w.random()
		}
	}
}

// do sends one request, judges and records the answer, and backs off
// after a 503.
func (w *worker) do(o op, c *http.Client, method, path, auth, contentType string, body []byte, s *session) (answer, outcome) {
	a := send(c, w.lt.base, method, path, auth, contentType, body)
	out, why := w.lt.judge(o, a, w.u, s)
	w.lt.record(o, a, out, why)
	if out == normal && o.needsStore {
		w.lt.tl.succeeded(w.u.name, a.end)
	}
	if out == unavailable {
		time.Sleep(backoff)
	}
	if out == lost {
		w.lt.countLost(s, a.end)
	}
	return a, out
}

func (w *worker) login(ctx context.Context) {
	w.lt.tl.waitUsers(ctx)
	a, out := w.do(opLogin, w.c, "POST", "/auth/login", "", "application/json", loginBody(w.u.name, w.u.password), nil)
	switch out {
	case normal:
		w.s = &session{access: a.field("access_token"), refresh: a.field("refresh_token"), loginStart: a.start, acked: a.end}
	case usersMissing, wrong:
		time.Sleep(backoff)
	}
}

func (w *worker) refresh() {
	a, out := w.do(opRefresh, w.c, "POST", "/auth/refresh", "", "application/json", refreshBody(w.s.refresh), w.s)
	switch out {
	case normal:
		w.s.access, w.s.refresh, w.retryRf, w.s.acked = a.field("access_token"), a.field("refresh_token"), false, a.end
	case unavailable:
		w.retryRf = true // the rotation may have happened: retry within the grace period
	default:
		w.s, w.retryRf = nil, false
	}
}

// random sends one request of the mix.
func (w *worker) random() {
	bearer := "Bearer " + w.s.access
	n := w.rng.IntN(100)
	switch {
	case n < 58:
		w.session(opMe, "GET", "/api/me", bearer)
	case n < 66 && w.u.admin:
		w.session(opAdmin, "GET", "/api/admin/stats", bearer)
	case n < 66:
		w.session(opForbidden, "GET", "/api/admin/stats", bearer)
	case n < 74:
		w.refresh()
	case n < 76: // log out, then in again
		w.do(opLogout, w.c, "POST", "/auth/logout", bearer, "", nil, w.s)
		w.s = nil
	case n < 79:
		w.do(opHealth, w.c, "GET", "/healthz", "", "", nil, nil)
	default:
		w.garbage()
	}
}

// session sends a request that presents the worker's session, and drops
// the session when it is gone.
func (w *worker) session(o op, method, path, auth string) {
	if _, out := w.do(o, w.c, method, path, auth, "", nil, w.s); out == lost || out == wrong {
		w.s = nil
	}
}

// garbage sends one request that must not succeed, from the garbage
// client's address.
func (w *worker) garbage() {
	g := w.lt.garbage
	switch w.rng.IntN(9) {
	case 0:
		w.do(opNoCredentials, g, "GET", "/api/me", "", "", nil, nil)
	case 1:
		w.do(opForged, g, "GET", "/api/me", "Bearer "+randomB64(w.rng, 20)+"."+randomB64(w.rng, 60)+"."+randomB64(w.rng, 32), "", nil, nil)
	case 2:
		w.do(opOtherKey, g, "GET", "/api/me", "Bearer "+otherKeyToken(w.rng, w.u.name), "", nil, nil)
	case 3:
		w.do(opTampered, g, "GET", "/api/me", "Bearer "+tamper(w.s.access), "", nil, nil)
	case 4:
		w.do(opUnknownPath, g, "GET", "/api/nothing-here", "Bearer "+w.s.access, "", nil, nil)
	case 5:
		w.do(opWrongMethod, g, "DELETE", "/api/me", "Bearer "+w.s.access, "", nil, nil)
	case 6:
		w.do(opBadJSON, g, "POST", "/auth/login", "", "application/json", []byte(`{"username":`), nil)
	case 7:
		w.do(opForgedRefresh, g, "POST", "/auth/refresh", "", "application/json", refreshBody(randomB64(w.rng, 48)), nil)
	default:
		w.do(opWrongPassword, g, "POST", "/auth/login", "", "application/json", loginBody("nobody-"+w.u.name, "wrong-password-1"), nil)
	}
}

// tamper changes one character in the middle of the token's signature
// (the last one may only carry padding bits, which decoders ignore).
func tamper(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func randomB64(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// otherKeyToken is a well-formed access token with the demo's claims and
// key id, signed with a random key.
func otherKeyToken(rng *rand.Rand, name string) string {
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "authkit-demo", "aud": "authkit-demo-api", "sub": name,
		"sid": strings.Repeat("ab", 32), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	t.Header["kid"], t.Header["typ"] = "demo-hs256", "at+jwt"
	key := []byte(randomB64(rng, 32))
	s, _ := t.SignedString(key) // HS256 with a non-empty key cannot fail
	return s
}
