package authprom_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gin-authkit/authkit/internal/testserver"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/telemetry/authprom"
)

// TestMetrics: a scripted workload moves the counters and histograms by
// what it did, the gauges read their sources at scrape time, and the
// exposition passes the Prometheus linter.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := authprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	auth, r := testserver.New(t, m)
	if err := m.WatchPasswordSlots(auth); err != nil {
		t.Fatal(err)
	}
	cache := &fakeCache{observe.CacheStats{Entries: 3, Hits: 3, Misses: 1, Healthy: true}}
	if err := m.WatchCache("sessions", cache); err != nil {
		t.Fatal(err)
	}
	send := func(method, path, body, authz string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	for range 2 {
		if w := send("POST", "/auth/login", `{"username":"bob","password":"`+testserver.BobPassword+`"}`, ""); w.Code != 200 {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
	}
	send("POST", "/auth/login", `{"username":"bob","password":"not-his-password"}`, "")
	send("GET", "/api/me", "", "")
	send("GET", "/api/me", "", "Bearer not-a-token")

	want := `
# HELP authkit_logins_total Password logins (login handler and token endpoint), by status, error code and reason.
# TYPE authkit_logins_total counter
authkit_logins_total{code="invalid_credentials",reason="none",status="401"} 1
authkit_logins_total{code="ok",reason="none",status="200"} 2
# HELP authkit_authentications_total Request authentications by the middleware, by the status and error code they are answered with (code ok on success) and reason (none when there is no refinement).
# TYPE authkit_authentications_total counter
authkit_authentications_total{code="authentication_required",reason="none",status="401"} 1
authkit_authentications_total{code="invalid_token",reason="none",status="401"} 1
# HELP authkit_password_slots_busy Password-hashing slots held by a comparison now.
# TYPE authkit_password_slots_busy gauge
authkit_password_slots_busy 0
# HELP authkit_cache_hit_ratio Hits over all reads of the local cache since it started (0 before any read).
# TYPE authkit_cache_hit_ratio gauge
authkit_cache_hit_ratio{cache="sessions"} 0.75
# HELP authkit_cache_healthy 1 while the local cache's invalidation channel (Redis subscription, PostgreSQL LISTEN) is confirmed and the cache in use, 0 otherwise.
# TYPE authkit_cache_healthy gauge
authkit_cache_healthy{cache="sessions"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "authkit_logins_total", "authkit_authentications_total",
		"authkit_password_slots_busy", "authkit_cache_hit_ratio", "authkit_cache_healthy"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "authkit_password_hash_seconds"); n != 2 {
		t.Errorf("authkit_password_hash_seconds has %d series, want ok and invalid_credentials", n)
	}
	if n := testutil.CollectAndCount(reg, "authkit_store_operation_duration_seconds"); n == 0 {
		t.Error("no store operation timed")
	}
	cache.s.Healthy = false
	if got := gauge(t, reg, "authkit_cache_healthy"); got != 0 {
		t.Errorf("authkit_cache_healthy = %v after the cache lost its subscription, want 0", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestNewTwice: registering a second Metrics on the same registry fails
// instead of panicking.
func TestNewTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := authprom.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := authprom.New(reg); err == nil {
		t.Fatal("second New on one registry: no error")
	}
}

type fakeCache struct{ s observe.CacheStats }

func (f *fakeCache) CacheStats() observe.CacheStats { return f.s }

func gauge(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
