package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis topologies AUTHKIT_REDIS_MODE selects; each reads REDIS_URL
// with go-redis's parser for it.
const (
	envRedisMode = "AUTHKIT_REDIS_MODE"

	// redisSingle: one server (or a proxy), redis.ParseURL.
	redisSingle = "single"
	// redisSentinel: the URL's host and its addr parameters are
	// Sentinels, master_name names the master; redis.ParseFailoverURL.
	redisSentinel = "sentinel"
	// redisCluster: the URL's host and its addr parameters are seed
	// nodes of a Redis Cluster; redis.ParseClusterURL.
	redisCluster = "cluster"

	// clusterReloadInterval is how often the cluster client reloads the
	// slot map while it serves requests. go-redis reloads it on MOVED,
	// but not when a master stops answering; with its default of 60 s
	// the users of a killed master's slots would get 503 for up to a
	// minute after the cluster promoted its replica (TestClusterFailover
	// in ginauth). A reload is one CLUSTER SLOTS.
	clusterReloadInterval = time.Second
)

// redisConfig is the Redis the demo uses: exactly one of the option sets,
// for the mode. It never holds the URL, which may carry a password.
type redisConfig struct {
	mode     string
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

// parseRedis reads raw, REDIS_URL, in mode (AUTHKIT_REDIS_MODE, "" for
// single). The errors name neither the URL nor its password.
func parseRedis(mode, raw string) (*redisConfig, error) {
	r := &redisConfig{mode: strings.ToLower(orDefault(mode, redisSingle))}
	var err error
	// Without ContextTimeoutEnabled go-redis ignores context deadlines on
	// the socket, and a hung Redis would hold requests far past
	// StoreTimeout; redisstore.New refuses such clients.
	switch r.mode {
	case redisSingle:
		if r.single, err = redis.ParseURL(raw); err == nil {
			r.single.ContextTimeoutEnabled = true
		}
	case redisSentinel:
		if r.failover, err = redis.ParseFailoverURL(raw); err == nil {
			r.failover.ContextTimeoutEnabled = true
			if r.failover.MasterName == "" {
				err = fmt.Errorf("the master_name parameter is missing (e.g. redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380)")
			}
		}
	case redisCluster:
		if r.cluster, err = redis.ParseClusterURL(raw); err == nil {
			r.cluster.ContextTimeoutEnabled = true
			r.cluster.ClusterStateReloadInterval = clusterReloadInterval
		}
	default:
		return nil, fmt.Errorf("%s %q must be single, sentinel or cluster", envRedisMode, mode)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// newClient returns a client for the topology, as redisstore takes it.
func (r *redisConfig) newClient() redis.UniversalClient {
	switch r.mode {
	case redisSentinel:
		return redis.NewFailoverClient(r.failover)
	case redisCluster:
		return redis.NewClusterClient(r.cluster)
	}
	return redis.NewClient(r.single)
}

// String describes the Redis for messages: mode, addresses and database,
// never the credentials.
func (r *redisConfig) String() string {
	switch r.mode {
	case redisSentinel:
		return fmt.Sprintf("master %q via the Sentinels %s (database %d)", r.failover.MasterName,
			strings.Join(r.failover.SentinelAddrs, ","), r.failover.DB)
	case redisCluster:
		return "the cluster of " + strings.Join(r.cluster.Addrs, ",")
	}
	return fmt.Sprintf("%s (database %d)", r.single.Addr, r.single.DB)
}

// validRedisMode reports whether mode is one AUTHKIT_REDIS_MODE accepts.
func validRedisMode(mode string) bool {
	switch strings.ToLower(mode) {
	case redisSingle, redisSentinel, redisCluster:
		return true
	}
	return false
}

// redisURLExample is a REDIS_URL for mode, for messages.
func redisURLExample(mode string) string {
	switch strings.ToLower(mode) {
	case redisSentinel:
		return "redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380"
	case redisCluster:
		return "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"
	}
	return "redis://127.0.0.1:6379/0"
}
