package testredis

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Several tests dial addresses where nothing listens on purpose;
	// go-redis would log every failed dial.
	redis.SetLogger(quiet{})
	goleak.VerifyTestMain(m)
}

// quiet is a go-redis logger that drops everything.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestBackendURL(t *testing.T) {
	const url = "redis://127.0.0.1:6379/0"
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"Unset", nil, "", false},
		{"Set", map[string]string{EnvVar: url}, url, false},
		{"SetInCI", map[string]string{EnvVar: url, "CI": "true"}, url, false},
		{"UnsetInCI", map[string]string{"CI": "true"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := backendURL(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("backendURL = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNew(t *testing.T) {
	ctx := t.Context()
	c1, p1 := New(t)
	_, p2 := New(t)
	for _, p := range []string{p1, p2} {
		if !strings.HasPrefix(p, "authkit-test:") || !strings.HasSuffix(p, ":") {
			t.Errorf("prefix %q, want authkit-test:<random>:", p)
		}
	}
	if p1 == p2 {
		t.Errorf("two calls returned the same prefix %q", p1)
	}
	if c, ok := c1.(*redis.Client); !ok || !c.Options().ContextTimeoutEnabled {
		t.Errorf("client %T does not set ContextTimeoutEnabled", c1)
	}
	for _, k := range []string{p1 + "a", p1 + "b", p2 + "a"} {
		if err := c1.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := Keys(ctx, c1, p1)
	if err != nil || len(keys) != 2 {
		t.Errorf("Keys(%s) = %q, %v; want the 2 keys under it", p1, keys, err)
	}
	DeletePrefix(t, c1, p1)
	if keys, err := Keys(ctx, c1, p1); err != nil || len(keys) != 0 {
		t.Errorf("Keys after DeletePrefix = %q, %v; want none", keys, err)
	}
	if n, err := c1.Exists(ctx, p2+"a").Result(); err != nil || n != 1 {
		t.Errorf("DeletePrefix(%s) touched %sa: exists = %d, %v", p1, p2, n, err)
	}
}

// recorder stands in for a test in calls to New, recording its log lines
// and its fatal failure instead of failing the real test.
type recorder struct {
	testing.TB
	logs  []string
	fatal string
}

func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runNew calls New with a recorder, on a goroutine of its own so that a
// fatal failure ends New only.
func runNew(t *testing.T) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(r)
	}()
	<-done
	return r
}

func TestNewBackend(t *testing.T) {
	tests := []struct {
		name      string
		url, ci   string
		wantLog   string // in a log line; "" for none
		wantFatal string // in the fatal message; "" for none
	}{
		{"Miniredis", "", "", "in-process miniredis", ""},
		{"MissingOnCI", "", "true", "", "CI must test against a real Redis"},
		{"Unreachable", "redis://" + freeAddr(t), "", "", "does not answer PING"},
		{"BadURL", "http://example.com", "", "", EnvVar},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvVar, tc.url)
			t.Setenv("CI", tc.ci)
			r := runNew(t)
			if !strings.Contains(r.fatal, tc.wantFatal) || (tc.wantFatal == "") != (r.fatal == "") {
				t.Errorf("fatal = %q, want one containing %q", r.fatal, tc.wantFatal)
			}
			if tc.wantLog != "" && !strings.Contains(strings.Join(r.logs, "\n"), tc.wantLog) {
				t.Errorf("logs = %q, want a line containing %q", r.logs, tc.wantLog)
			}
		})
	}
}

func TestNewLogsRealServer(t *testing.T) {
	if Backend() != "redis" {
		t.Skipf("SKIPPED: %s is not set", EnvVar)
	}
	r := runNew(t)
	if r.fatal != "" {
		t.Fatal(r.fatal)
	}
	if len(r.logs) != 1 || !strings.Contains(r.logs[0], EnvVar) {
		t.Errorf("logs = %q, want one line naming the server and %s", r.logs, EnvVar)
	}
}

func TestPing(t *testing.T) {
	mr := miniredis.RunT(t)
	tests := []struct {
		name    string
		addr    string
		wantErr bool
	}{
		{"Answers", mr.Addr(), false},
		{"Refused", freeAddr(t), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: tc.addr, ContextTimeoutEnabled: true, MaxRetries: -1})
			defer c.Close()
			if err := ping(c); (err != nil) != tc.wantErr {
				t.Errorf("ping = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestBlackhole checks that a Blackhole accepts connections and never
// answers, so a call against it ends only when its context does.
func TestBlackhole(t *testing.T) {
	hole := NewBlackhole(t)
	c := redis.NewClient(&redis.Options{Addr: hole.Addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING against a Blackhole succeeded")
	}
	// go-redis may give up a moment before the context's deadline.
	if elapsed := time.Since(start); elapsed < deadline/2 || elapsed > deadline+2*time.Second {
		t.Errorf("PING failed after %v (%v), want about the %v deadline", elapsed, err, deadline)
	}
}
