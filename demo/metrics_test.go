package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/ginauth"
)

// tool finds an executable of Debian's prometheus package. On CI
// (CI=true) a missing one fails the test: .ci/run installs it.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on CI: .ci/run installs Debian's prometheus package (apt-get install prometheus)", name)
	}
	t.Skipf("%s not installed (apt-get install prometheus); skipping the scrape by a real Prometheus", name)
	return ""
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsEndpoint: the demo serves /metrics on AUTHKIT_METRICS_ADDR
// only; promtool accepts the exposition; a real Prometheus scrapes it
// during a scripted workload and its HTTP API then answers the expected
// series with the expected values.
func TestMetricsEndpoint(t *testing.T) {
	prometheusBin, promtool := tool(t, "prometheus"), tool(t, "promtool")
	metricsAddr := freeAddr(t)
	p := startInProcess(t, map[string]string{envSecret: testSecret, envMetricsAddr: metricsAddr})
	passwords := p.seededPasswords(t)
	metricsURL := "http://" + metricsAddr + "/metrics"

	// The API's port serves no metrics.
	if code := get(t, p.URL+"/metrics", "").StatusCode; code != http.StatusNotFound {
		t.Errorf("GET /metrics on the API's port: %d, want 404", code)
	}

	promURL := startPrometheus(t, prometheusBin, metricsAddr)

	// The workload: 2 logins, 3 wrong passwords, 4 authenticated
	// requests, 2 anonymous ones, 1 refresh, 1 logout.
	var tok ginauth.TokenResponse
	for range 2 {
		tok = login(t, p.URL, "alice", passwords["alice"], http.StatusOK)
	}
	for range 3 {
		login(t, p.URL, "bob", "not-bobs-password", http.StatusUnauthorized)
	}
	for range 4 {
		if r := get(t, p.URL+"/api/me", tok.AccessToken); r.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/me: %d", r.StatusCode)
		}
	}
	for range 2 {
		if r := get(t, p.URL+"/api/me", ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /api/me without a token: %d", r.StatusCode)
		}
	}
	var next ginauth.TokenResponse
	postJSON(t, p.URL+"/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken}, "", http.StatusOK, &next)
	postJSON(t, p.URL+"/auth/logout", nil, next.AccessToken, http.StatusNoContent, nil)

	// The exposition after the workload passes promtool's checks.
	body := get(t, metricsURL, "").body
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	for _, c := range []struct{ query, want string }{
		{`up{job="authkit-demo"}`, "1"},
		{`authkit_logins_total{status="200",code="ok"}`, "2"},
		{`authkit_logins_total{status="401",code="invalid_credentials"}`, "3"},
		{`sum(authkit_authentications_total{status="200"})`, "4"},
		{`sum(authkit_authentications_total{code="authentication_required"})`, "2"},
		{`authkit_refreshes_total{status="200",code="ok"}`, "1"},
		{`authkit_logouts_total{status="204"}`, "1"},
		{`authkit_password_hash_seconds_count{result="ok"}`, "2"},
		{`authkit_password_hash_seconds_count{result="invalid_credentials"}`, "3"},
		{`authkit_authentication_duration_seconds_count`, "6"},
		{`authkit_store_operation_duration_seconds_count{operation="CreateSession",result="ok"}`, "2"},
		{`authkit_store_operation_duration_seconds_count{operation="RotateRefresh",result="ok"}`, "1"},
		{`authkit_password_slots > 0`, "x"},
		{`authkit_password_slots_busy`, "0"},
	} {
		got := waitQuery(t, promURL, c.query, c.want)
		if c.want != "x" && got != c.want {
			t.Errorf("%s = %s, want %s", c.query, got, c.want)
		}
	}
	// No label carries a username, a password or a token.
	for _, secret := range []string{"alice", "bob", passwords["alice"], tok.AccessToken, tok.RefreshToken} {
		if strings.Contains(body, secret) {
			t.Errorf("the exposition holds %q", secret)
		}
	}
}

// startPrometheus runs prometheus on a free loopback port, scraping
// target every second, with its storage in a temporary directory; it is
// killed at cleanup.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"+
		"  - job_name: authkit-demo\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := http.Get(base + "/-/ready")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30s: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitQuery asks Prometheus for the instant value of query until it is
// want (any value for want "x"), for at most 20 seconds (a few scrapes),
// and returns the last value ("" for no series).
func waitQuery(t *testing.T, base, query, want string) string {
	t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		got = queryValue(t, base, query)
		if got == want || want == "x" && got != "" {
			return got
		}
	}
	return got
}

func queryValue(t *testing.T, base, query string) string {
	t.Helper()
	r, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var res struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || res.Status != "success" {
		t.Fatalf("query %s: %v (status %q)", query, err, res.Status)
	}
	if len(res.Data.Result) != 1 {
		return ""
	}
	s, _ := res.Data.Result[0].Value[1].(string)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}

type response struct {
	StatusCode int
	body       string
}

func get(t *testing.T, u, token string) response {
	t.Helper()
	return send(t, "GET", u, nil, token)
}

// send makes one request, with a bearer token when token is set, and
// returns its status and body.
func send(t *testing.T, method, u string, body []byte, token string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return response{r.StatusCode, string(b)}
}

func login(t *testing.T, base, user, password string, status int) ginauth.TokenResponse {
	t.Helper()
	var tok ginauth.TokenResponse
	postJSON(t, base+"/auth/login", map[string]string{"username": user, "password": password}, "", status, &tok)
	return tok
}

func postJSON(t *testing.T, u string, body any, token string, status int, into any) {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	r := send(t, "POST", u, b, token)
	if r.StatusCode != status {
		t.Fatalf("POST %s: %d %s, want %d", u, r.StatusCode, r.body, status)
	}
	if into != nil {
		if err := json.Unmarshal([]byte(r.body), into); err != nil {
			t.Fatalf("POST %s: %v", u, err)
		}
	}
}
