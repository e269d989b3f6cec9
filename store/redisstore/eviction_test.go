package redisstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// logBuffer is a logger that records everything, debug included.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// TestCheckEviction runs CheckEviction against a private redis-server
// whose configuration it may change, never the shared one.
func TestCheckEviction(t *testing.T) {
	srv := testredis.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defer admin.Close()
	ctx := t.Context()
	setPolicy := func(t *testing.T, policy string) {
		t.Helper()
		if err := admin.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "noconfig", "on", ">secret", "~*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		policy  string
		user    string // "" for the default user
		addr    string // "" for the private server
		wantErr error  // nil: success; errAny: an error wrapping no sentinel
		wantLog string // "" for none
	}{
		{"NoEviction", "noeviction", "", "", nil, ""},
		{"AllKeysLRU", "allkeys-lru", "", "", redisstore.ErrEvictionPolicy, "level=WARN"},
		{"VolatileTTL", "volatile-ttl", "", "", redisstore.ErrEvictionPolicy, "level=WARN"},
		{"ConfigNotPermitted", "allkeys-lru", "noconfig", "", nil, "level=DEBUG"},
		{"Unreachable", "noeviction", "", "127.0.0.1:1", errAny, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setPolicy(t, tc.policy)
			opts := &redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1}
			if tc.user != "" {
				opts.Username, opts.Password = tc.user, "secret"
			}
			if tc.addr != "" {
				opts.Addr = tc.addr
			}
			client := redis.NewClient(opts)
			defer client.Close()
			logger, logs := logBuffer()
			s, err := redisstore.New(client, redisstore.Options{Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			err = s.CheckEviction(ctx)
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Errorf("CheckEviction = %v, want nil", err)
				}
			case errors.Is(tc.wantErr, errAny):
				if err == nil || errors.Is(err, redisstore.ErrEvictionPolicy) {
					t.Errorf("CheckEviction = %v, want a connection error", err)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("CheckEviction = %v, want %v", err, tc.wantErr)
				}
			}
			switch {
			case tc.wantLog == "" && logs.Len() > 0:
				t.Errorf("logged %q, want nothing", logs)
			case tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog):
				t.Errorf("logged %q, want a line with %q", logs, tc.wantLog)
			case tc.wantLog == "level=WARN" && !strings.Contains(logs.String(), "maxmemory-policy="+tc.policy):
				t.Errorf("logged %q, want the policy %s", logs, tc.policy)
			}
		})
	}
}

// TestCheckEvictionShared runs CheckEviction, which only reads, against the
// test Redis (a miniredis refuses CONFIG, which must not be an error).
func TestCheckEvictionShared(t *testing.T) {
	rdb, _ := testredis.New(t)
	logger, logs := logBuffer()
	s, err := redisstore.New(rdb, redisstore.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	err = s.CheckEviction(t.Context())
	if err != nil && !errors.Is(err, redisstore.ErrEvictionPolicy) {
		t.Errorf("CheckEviction = %v, want nil or ErrEvictionPolicy", err)
	}
	t.Logf("CheckEviction = %v; logged %q", err, logs)
}
