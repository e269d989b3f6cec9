package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// envRedis names the variable holding the redis:// URL of the server the
// tests use, e.g. redis://127.0.0.1:6379/0.
const envRedis = "AUTHKIT_TEST_REDIS"

// backendURL chooses the Redis the tests run against: the server named by
// AUTHKIT_TEST_REDIS or, when that is unset, an in-process miniredis,
// reported as "". CI must exercise a real server, so there the missing
// variable is an error rather than a silent fallback.
func backendURL(getenv func(string) string) (string, error) {
	if u := getenv(envRedis); u != "" {
		return u, nil
	}
	if getenv("CI") != "" {
		return "", errors.New(envRedis + " is not set, but CI is: CI must test against a real Redis")
	}
	return "", nil
}

// testRedis is a client for the test Redis, with a key prefix of its own
// so that tests can share a server with each other and with other users.
type testRedis struct {
	client *redis.Client
	prefix string
}

// newTestRedis connects to the backend chosen by [backendURL] and
// registers cleanups that delete every key under the prefix and close the
// client. With miniredis, each call gets a server of its own.
func newTestRedis(tb testing.TB) *testRedis {
	tb.Helper()
	url, err := backendURL(os.Getenv)
	if err != nil {
		tb.Fatal(err)
	}
	var opt *redis.Options
	if url == "" {
		mr := miniredis.RunT(tb)
		opt = &redis.Options{Addr: mr.Addr()}
		tb.Logf("redis backend: in-process miniredis (set %s to use a real server)", envRedis)
	} else {
		if opt, err = redis.ParseURL(url); err != nil {
			tb.Fatalf("%s: %v", envRedis, err)
		}
		tb.Logf("redis backend: %s", opt.Addr)
	}
	opt.ContextTimeoutEnabled = true
	client := redis.NewClient(opt)
	// Random base32 text has no glob characters, so the SCAN pattern
	// below matches this test's keys only.
	r := &testRedis{client: client, prefix: "authkit-test:" + rand.Text()[:16] + ":"}
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := r.keys(ctx)
		if err != nil {
			tb.Errorf("cleanup: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				tb.Errorf("cleanup: %v", err)
			}
		}
	})
	return r
}

// keys lists every key under the prefix, with SCAN: never KEYS, which
// blocks a shared server.
func (r *testRedis) keys(ctx context.Context) ([]string, error) {
	var keys []string
	iter := r.client.Scan(ctx, 0, r.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}
