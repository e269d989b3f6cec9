package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// composeHealthTimeout bounds the wait for a service to turn healthy: the
// demo's first check comes 10 s after its start, Redis's within 5 s.
const composeHealthTimeout = 3 * time.Minute

// TestComposeEndToEnd runs docker-compose.yml for real, as a user does: up
// with a build, both healthchecks, users added with the demo's CLI in its
// container, and the HTTP API through the published port; then down
// without -v and up again, to show that users and sessions live in the
// redis-data volume. Cleanup takes the stack down with its volume and the
// image it built.
//
// It needs a Docker engine and docker compose (or Debian's docker-compose
// 1.29). Under CI it runs and fails without them; elsewhere it skips, and
// -short skips it. The project is named at random, and the port is picked
// free and passed as AUTHKIT_PORT, so it cannot meet a stack the user runs.
func TestComposeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the image and runs the stack")
	}
	s := newComposeStack(t)
	start := time.Now()
	for _, step := range []struct {
		name string
		run  func(*testing.T, *composeStack)
	}{
		{"up", stepComposeUp},
		{"healthy", stepComposeHealthy},
		{"useradd", stepComposeUseradd},
		{"login", stepComposeLogin},
		{"forbidden", stepComposeForbidden},
		{"logout", stepComposeLogout},
		{"restart", stepComposeRestart},
		{"kept", stepComposeKept},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, s) }) {
			t.FailNow() // each step needs the ones before it
		}
	}
	t.Logf("compose run (%s, up --build to the last check): %v", strings.Join(s.compose, " "), time.Since(start).Round(100*time.Millisecond))
}

// composeStack is the fixture the steps share: how to run compose on the
// repository's file, and what the steps learn along the way.
type composeStack struct {
	compose []string // "docker compose" or "docker-compose"
	project string
	file    string
	env     []string
	url     string // the published port, http://127.0.0.1:port
	client  *http.Client

	passwords map[string]string
	access    map[string]string // username -> access token of the last login
}

// newComposeStack finds compose and the engine, or skips (fails under CI)
// saying which is missing, and registers the teardown.
func newComposeStack(t *testing.T) *composeStack {
	t.Helper()
	unavailable := t.Skipf
	if os.Getenv("CI") != "" {
		unavailable = t.Fatalf
	}
	compose, err := findCompose(t.Context())
	if err != nil {
		unavailable("no compose: %v (install docker compose, or docker-compose from Debian)", err)
	}
	if out, err := exec.CommandContext(t.Context(), "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		unavailable("no Docker engine answers: docker info: %v\n%s", err, out)
	}
	port := freePort(t)
	s := &composeStack{
		compose:   compose,
		project:   "authkit-e2e-" + randomHex(t, 4),
		file:      filepath.Join(repoRoot(t), composeFile),
		url:       "http://127.0.0.1:" + port,
		client:    &http.Client{Timeout: 30 * time.Second},
		passwords: map[string]string{"alice": randomHex(t, 12), "bob": randomHex(t, 12)},
		access:    map[string]string{},
	}
	s.env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "AUTHKIT_SECRET" || name == "AUTHKIT_PORT" || strings.HasPrefix(name, "COMPOSE_")
	})
	s.env = append(s.env, "AUTHKIT_SECRET="+randomHex(t, 32), "AUTHKIT_PORT="+port)
	t.Logf("project %s on %s with %s", s.project, s.url, strings.Join(compose, " "))

	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.run(context.Background(), "", "logs", "--no-color", "--tail", "100")
			t.Logf("compose logs:\n%s", out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := s.run(ctx, "", "down", "-v", "--rmi", "local", "--remove-orphans"); err != nil {
			t.Errorf("down -v: %v\n%s", err, out)
		}
	})
	return s
}

// findCompose returns the compose command: the docker CLI plugin, or the
// standalone docker-compose (v2, or Debian's 1.29).
func findCompose(ctx context.Context) ([]string, error) {
	if exec.CommandContext(ctx, "docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, nil
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return nil, errors.New("neither `docker compose` nor docker-compose runs")
	}
	return []string{"docker-compose"}, nil
}

// run runs compose on the repository's file, under the test's project
// name, with stdin as standard input, and returns the combined output.
func (s *composeStack) run(ctx context.Context, stdin string, args ...string) (string, error) {
	args = append([]string{"-p", s.project, "-f", s.file}, args...)
	cmd := exec.CommandContext(ctx, s.compose[0], append(slices.Clone(s.compose[1:]), args...)...)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *composeStack) mustRun(t *testing.T, timeout time.Duration, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	out, err := s.run(ctx, stdin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(s.compose, " "), strings.Join(args, " "), err, out)
	}
	t.Logf("%s: %v", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
	return out
}

func stepComposeUp(t *testing.T, s *composeStack) {
	s.mustRun(t, 12*time.Minute, "", "up", "-d", "--build")
}

func stepComposeHealthy(t *testing.T, s *composeStack) {
	for _, svc := range []string{"redis", "demo"} {
		s.waitHealthy(t, svc)
	}
}

// waitHealthy polls the service's container until Docker reports its
// healthcheck healthy; unhealthy fails at once, with the check's log.
func (s *composeStack) waitHealthy(t *testing.T, service string) {
	t.Helper()
	id := strings.TrimSpace(s.mustRun(t, time.Minute, "", "ps", "-q", service))
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("service %s: want one container, got %q", service, id)
	}
	start := time.Now()
	for {
		out, err := exec.CommandContext(t.Context(), "docker", "inspect", "--format",
			"{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", id).CombinedOutput()
		status := strings.TrimSpace(string(out))
		switch {
		case err != nil:
			t.Fatalf("docker inspect %s: %v\n%s", service, err, out)
		case status == "healthy":
			t.Logf("%s healthy after %v", service, time.Since(start).Round(100*time.Millisecond))
			return
		case status == "unhealthy" || status == "none" || time.Since(start) > composeHealthTimeout:
			health, _ := exec.Command("docker", "inspect", "--format", "{{json .State}}", id).CombinedOutput()
			t.Fatalf("%s is %s after %v: %s", service, status, time.Since(start).Round(time.Second), health)
		}
		time.Sleep(time.Second)
	}
}

func stepComposeUseradd(t *testing.T, s *composeStack) {
	for _, u := range []struct{ name, roles string }{
		{name: "alice", roles: "admin,user"},
		{name: "bob", roles: "user"},
	} {
		s.mustRun(t, time.Minute, s.passwords[u.name]+"\n",
			"exec", "-T", "demo", "demo", "useradd", "--username", u.name, "--roles", u.roles, "--password-stdin")
	}
}

// stepComposeLogin: alice logs in through the published port and calls the
// API with her access token.
func stepComposeLogin(t *testing.T, s *composeStack) {
	s.login(t, "alice")
	var me struct{ Username string }
	s.expect(t, "GET", "/api/me", s.access["alice"], http.StatusOK, &me)
	if me.Username != "alice" {
		t.Errorf("/api/me: username %q, want alice", me.Username)
	}
	s.expect(t, "GET", "/api/admin/stats", s.access["alice"], http.StatusOK, nil)
}

// stepComposeForbidden: bob, signed in without the admin role, gets 403
// from the admins' route.
func stepComposeForbidden(t *testing.T, s *composeStack) {
	s.login(t, "bob")
	s.expect(t, "GET", "/api/admin/stats", s.access["bob"], http.StatusForbidden, nil)
}

// stepComposeLogout: alice's session is revoked, so her access token stops
// working before it expires.
func stepComposeLogout(t *testing.T, s *composeStack) {
	s.expect(t, "POST", "/auth/logout", s.access["alice"], http.StatusNoContent, nil)
	s.expect(t, "GET", "/api/me", s.access["alice"], http.StatusUnauthorized, nil)
}

// stepComposeRestart takes the stack down, keeping its volume, and brings
// it up again from the image already built.
func stepComposeRestart(t *testing.T, s *composeStack) {
	s.mustRun(t, 2*time.Minute, "", "down")
	s.mustRun(t, 5*time.Minute, "", "up", "-d")
	stepComposeHealthy(t, s)
}

// stepComposeKept: after the restart alice still logs in (her user is in
// the volume), bob's session from before still works, and alice's
// revoked one stays revoked.
func stepComposeKept(t *testing.T, s *composeStack) {
	revoked, bobs := s.access["alice"], s.access["bob"]
	s.expect(t, "GET", "/api/me", bobs, http.StatusOK, nil)
	s.expect(t, "GET", "/api/me", revoked, http.StatusUnauthorized, nil)
	s.login(t, "alice")
	s.expect(t, "GET", "/api/me", s.access["alice"], http.StatusOK, nil)
}

// login posts the user's password to /auth/login and keeps the access
// token.
func (s *composeStack) login(t *testing.T, user string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": s.passwords[user]})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	s.do(t, "POST", "/auth/login", "", bytes.NewReader(body), http.StatusOK, &tok)
	if tok.AccessToken == "" {
		t.Fatalf("login %s: no access_token", user)
	}
	s.access[user] = tok.AccessToken
}

// expect sends a request without a body, with the bearer token if any,
// and checks the status; a 2xx JSON body is decoded into out.
func (s *composeStack) expect(t *testing.T, method, path, bearer string, want int, out any) {
	t.Helper()
	s.do(t, method, path, bearer, nil, want, out)
}

func (s *composeStack) do(t *testing.T, method, path, bearer string, body io.Reader, want int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d\n%s", method, path, res.Status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
