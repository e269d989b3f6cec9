package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testredis"
)

// demo healthcheck, the container's healthcheck: exit 0 when /healthz on
// the port of AUTHKIT_ADDR answers 200, and 1 for anything else, a bad
// AUTHKIT_ADDR included (Docker reserves 2).
func TestHealthcheck(t *testing.T) {
	srv := startInProcess(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	down := startInProcess(t, map[string]string{envRedisURL: "redis://" + closedPort(t) + "/0", envSecret: testSecret})
	_, downPort, _ := net.SplitHostPort(strings.TrimPrefix(down.URL, "http://"))
	hole := testredis.NewBlackhole(t)
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL+"/healthz", http.StatusMovedPermanently))
	t.Cleanup(redirect.Close)
	closed := closedPort(t)

	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stdout on success, in stderr otherwise
	}{
		{"serving", map[string]string{envAddr: "127.0.0.1:" + port}, nil, exitOK,
			"healthy: GET http://127.0.0.1:" + port + "/healthz: 200 OK"},
		{"every interface means loopback", map[string]string{envAddr: ":" + port}, nil, exitOK,
			"http://127.0.0.1:" + port + "/healthz: 200 OK"},
		{"0.0.0.0 means loopback", map[string]string{envAddr: "0.0.0.0:" + port}, nil, exitOK,
			"http://127.0.0.1:" + port + "/healthz: 200 OK"},
		{"Redis down: 503", map[string]string{envAddr: ":" + downPort}, nil, exitFailure,
			"demo: healthcheck: GET http://127.0.0.1:" + downPort + "/healthz: 503 Service Unavailable"},
		{"closed port", map[string]string{envAddr: closed}, nil, exitFailure, "connection refused"},
		{"no answer", map[string]string{envAddr: hole.Addr}, nil, exitFailure, "/healthz: no answer within 2s"},
		{"redirect", map[string]string{envAddr: strings.TrimPrefix(redirect.URL, "http://")}, nil, exitFailure, "301 Moved Permanently"},
		{"port 0", map[string]string{envAddr: "127.0.0.1:0"}, nil, exitFailure, "AUTHKIT_ADDR: \"127.0.0.1:0\" has port 0"},
		{"bad address", map[string]string{envAddr: "localhost"}, nil, exitFailure, "AUTHKIT_ADDR: \"localhost\" is not host:port"},
		{"stray argument", map[string]string{envAddr: ":" + port}, []string{"now"}, exitFailure, `healthcheck: unexpected argument "now"`},
		{"help", nil, []string{"-h"}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := runDemo(t, tt.env, "", append([]string{"healthcheck"}, tt.args...)...)
			out := r.stdout
			if tt.code != exitOK {
				out = r.stderr
			}
			if r.code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %q", r.code, tt.code, r.stdout, r.stderr, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("took %v; the compose healthcheck gives it 3s", d)
			}
		})
	}

	// Unset, AUTHKIT_ADDR is the default 127.0.0.1:8080; whether anything
	// answers there is not this test's business.
	r := runDemo(t, nil, "", "healthcheck")
	if !strings.Contains(r.stdout+r.stderr, "http://127.0.0.1:8080/healthz") || (r.code != exitOK && r.code != exitFailure) {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
