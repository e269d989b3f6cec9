package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/ginauth/ginauthtest"
)

// client talks to a demo over real HTTP on loopback. It keeps no cookies:
// tests send them explicitly. It reports failures to its t, which must be
// the test or subtest that sends the requests: a subtest takes its own
// copy with c.with(t), so that a failure lands there and not on the parent
// (FailNow on a parent from a subtest's goroutine is an error).
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	return &client{t: t, base: base, http: &http.Client{Timeout: 15 * time.Second}}
}

// with returns a copy of c that reports to t.
func (c *client) with(t *testing.T) *client {
	cp := *c
	cp.t = t
	return &cp
}

// reply is a response with its body read and, when JSON, decoded.
type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r reply) str(key string) string { s, _ := r.body[key].(string); return s }

// do sends a request; body is nil, a string sent as is, or a value sent as
// JSON; headers are name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) reply {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		c.t.Fatal(err)
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw), body: map[string]any{}}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// login logs in with a JSON body and returns the token pair.
func (c *client) login(user, pw string) ginauth.TokenResponse {
	c.t.Helper()
	r := c.do("POST", "/auth/login", map[string]string{"username": user, "password": pw})
	if r.status != 200 {
		c.t.Fatalf("login %s: %d %s", user, r.status, r.raw)
	}
	var tr ginauth.TokenResponse
	if err := json.Unmarshal([]byte(r.raw), &tr); err != nil {
		c.t.Fatal(err)
	}
	return tr
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// expectStatus checks status and, for errors, the code and the body's
// shape: exactly {error, message}.
func expectStatus(t *testing.T, r reply, status int, code string) {
	t.Helper()
	ginauthtest.AssertError(t, ginauthtest.Response{Status: r.status, Body: []byte(r.raw)}, ginauthtest.WantError{Status: status, Code: code})
}
