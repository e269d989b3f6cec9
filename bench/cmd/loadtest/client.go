package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// requestTimeout bounds every request: the demo answers 503 after its own
// 300 ms store deadline, so anything near this is a hang.
const requestTimeout = 5 * time.Second

// newClient returns an HTTP client whose connections leave from the
// loopback address 127.0.0.<host>, so that the demo sees each simulated
// user as its own client address (and throttles each on its own).
func newClient(host byte) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, host)}}
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// closeIdle closes the idle connections of c.
func closeIdle(c *http.Client) { c.Transport.(*http.Transport).CloseIdleConnections() }

// answer is what the demo answered, and when.
type answer struct {
	status     int
	code       string // the "error" member of an error body
	retryAfter bool
	body       []byte
	err        error // transport error: no answer at all
	start, end time.Time
}

// send performs one request and reads the whole answer.
func send(c *http.Client, base, method, path, auth, contentType string, body []byte) answer {
	a := answer{start: time.Now()}
	defer func() { a.end = time.Now() }()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		a.err = err
		return a
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		a.err, a.end = err, time.Now()
		return a
	}
	a.body, a.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	a.end = time.Now()
	a.status = resp.StatusCode
	a.retryAfter = resp.Header.Get("Retry-After") != ""
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(a.body, &e) == nil {
			a.code = e.Error
		}
	}
	return a
}

// field reads one string member of a JSON object answer.
func (a answer) field(name string) string {
	var m map[string]any
	if json.Unmarshal(a.body, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// number reads one numeric member of a JSON object answer (-1 if absent).
func (a answer) number(name string) int {
	var m map[string]any
	if json.Unmarshal(a.body, &m) != nil {
		return -1
	}
	f, ok := m[name].(float64)
	if !ok {
		return -1
	}
	return int(f)
}

func loginBody(name, password string) []byte {
	return []byte(`{"username":` + strconv.Quote(name) + `,"password":` + strconv.Quote(password) + `}`)
}

func refreshBody(token string) []byte {
	return []byte(`{"refresh_token":` + strconv.Quote(token) + `}`)
}
