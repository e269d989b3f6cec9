package main

import (
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/internal/testredis"
)

// AUTHKIT_REDIS_MODE chooses go-redis's parser for REDIS_URL; every mode
// sets ContextTimeoutEnabled, which redisstore requires.
func TestLoadConfigRedisModes(t *testing.T) {
	tests := []struct {
		name, mode, url string
		check           func(t *testing.T, r *redisConfig)
	}{
		{"unset is single", "", "redis://127.0.0.1:6380/2", func(t *testing.T, r *redisConfig) {
			if r.mode != redisSingle || r.single.Addr != "127.0.0.1:6380" || r.single.DB != 2 || !r.single.ContextTimeoutEnabled {
				t.Errorf("got %+v", r.single)
			}
		}},
		{"single", "single", "redis://127.0.0.1:6380/0", func(t *testing.T, r *redisConfig) {
			if r.mode != redisSingle || r.single.Addr != "127.0.0.1:6380" {
				t.Errorf("got %+v", r.single)
			}
		}},
		{"sentinel", "sentinel", "redis://127.0.0.1:26379/1?master_name=m&addr=127.0.0.1:26380&addr=127.0.0.1:26381&password=pw",
			func(t *testing.T, r *redisConfig) {
				f := r.failover
				if r.mode != redisSentinel || f.MasterName != "m" || f.DB != 1 || !f.ContextTimeoutEnabled || f.Password != "pw" ||
					strings.Join(f.SentinelAddrs, ",") != "127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381" {
					t.Errorf("got %+v", f)
				}
				if got := r.String(); got != `master "m" via the Sentinels 127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381 (database 1)` {
					t.Errorf("String() = %q", got)
				}
			}},
		{"cluster, any case", "Cluster", "redis://127.0.0.1:7000?addr=127.0.0.1:7001", func(t *testing.T, r *redisConfig) {
			c := r.cluster
			if r.mode != redisCluster || strings.Join(c.Addrs, ",") != "127.0.0.1:7000,127.0.0.1:7001" ||
				!c.ContextTimeoutEnabled || c.ClusterStateReloadInterval != clusterReloadInterval {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(envOf(map[string]string{envRedisMode: tt.mode, envRedisURL: tt.url}))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.redis)
		})
	}
}

// A bad mode, a mode without a URL and a URL its mode's parser refuses
// each stop the program with exit code 2, naming the variable, never the
// password.
func TestLoadConfigRedisModeErrors(t *testing.T) {
	tests := []struct {
		name, mode, url, want string
	}{
		{"unknown mode", "replicated", "redis://127.0.0.1:6379/0", envRedisMode},
		{"mode without url", "sentinel", "", envRedisMode},
		{"sentinel without master_name", "sentinel", "redis://:hunter2hunter2@127.0.0.1:26379/0", "master_name"},
		{"sentinel unknown parameter", "sentinel", "redis://:hunter2hunter2@127.0.0.1:26379/0?master_name=m&bogus=1", envRedisURL},
		{"cluster bad scheme", "cluster", "http://:hunter2hunter2@127.0.0.1:7000", envRedisURL},
		{"cluster with a database", "cluster", "redis://:hunter2hunter2@127.0.0.1:7000/1", envRedisURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDemo(t, map[string]string{envRedisMode: tt.mode, envRedisURL: tt.url}, "", "serve")
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d naming %s", r.code, r.stderr, exitUsage, tt.want)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Fatalf("stderr shows the password: %q", r.stderr)
			}
		})
	}
}

// TestWaitReplicasNotOnCluster: AUTHKIT_REDIS_WAIT_REPLICAS is refused
// with a Cluster, where WAIT would not reach the key's node, before any
// connection is made.
func TestWaitReplicasNotOnCluster(t *testing.T) {
	r := runDemo(t, map[string]string{envRedisMode: "cluster", envRedisURL: "redis://127.0.0.1:7000", envWaitReplicas: "1"}, "", "serve")
	if r.code != exitUsage || !strings.Contains(r.stderr, envWaitReplicas) {
		t.Fatalf("exit %d, stderr %q; want exit %d naming %s", r.code, r.stderr, exitUsage, envWaitReplicas)
	}
}

// The user commands work through a real Sentinel set and a real Cluster
// (the server uses the same client: bench's load tool drives it through
// failovers).
func TestCLIRedisSentinelAndCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED: -short: starts a Sentinel set and a Redis Cluster")
	}
	s := testredis.StartSentinel(t)
	c := testredis.StartCluster(t, 3)
	tests := []struct{ name, mode, url string }{
		{"sentinel", redisSentinel, "redis://" + s.Addrs[0] + "/0?master_name=" + s.Name + "&addr=" + s.Addrs[1] + "&addr=" + s.Addrs[2]},
		{"cluster", redisCluster, "redis://" + c.Addrs[0] + "?addr=" + c.Addrs[1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{envRedisMode: tt.mode, envRedisURL: tt.url, envRedisPrefix: testredis.NewPrefix(), envBcryptCost: "4"}
			for _, name := range []string{"alice", "bob", "carol"} { // on several cluster slots
				r := runDemo(t, env, "a-long-password-1\n", "useradd", "--username", name, "--password-stdin")
				if r.code != exitOK {
					t.Fatalf("useradd %s: exit %d, stderr %q", name, r.code, r.stderr)
				}
			}
			r := runDemo(t, env, "x-long-password-2\n", "useradd", "--username", "bob", "--password-stdin")
			if r.code != exitExists {
				t.Fatalf("useradd bob again: exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}
