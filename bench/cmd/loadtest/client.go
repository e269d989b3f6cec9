package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-authkit/authkit/ginauth"
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
	wait       string // the Retry-After header
	body       []byte
	err        error // transport error: no answer at all
	start, end time.Time
}

// send performs one request and reads the whole answer.
func send(c *http.Client, base, method, path, auth, contentType string, body []byte) answer {
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return sendHeader(c, base, method, path, h, body)
}

// sendLogin posts a login for name and password, presenting the device
// credential device (in ginauth.DeviceHeader) unless it is empty.
func sendLogin(c *http.Client, base, name, password, device string) answer {
	h := http.Header{"Content-Type": {"application/json"}}
	if device != "" {
		h.Set(ginauth.DeviceHeader, device)
	}
	return sendHeader(c, base, "POST", "/auth/login", h, loginBody(name, password))
}

// sendHeader performs one request with the headers h and reads the whole
// answer.
func sendHeader(c *http.Client, base, method, path string, h http.Header, body []byte) answer {
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
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		a.err, a.end = err, time.Now()
		return a
	}
	a.body, a.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	a.end = time.Now()
	a.status = resp.StatusCode
	a.wait = resp.Header.Get("Retry-After")
	a.retryAfter = a.wait != ""
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
