package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// ErrEvictionPolicy is returned, wrapped, by [Store.CheckEviction] when a
// Redis server may evict keys under memory pressure. Any eviction policy,
// volatile-* ones included since every sessions hash has a TTL, can
// silently drop a user's live sessions or the user itself, whose sessions
// then outlive it. Run authkit's Redis with
// maxmemory-policy noeviction, so that a full server fails writes loudly
// (authkit answers 503) instead.
var ErrEvictionPolicy = errors.New("redisstore: redis may evict authkit's keys: set maxmemory-policy noeviction")

// CheckEviction reads each server's maxmemory-policy with CONFIG GET: on
// a cluster client every master, on a ring every shard, otherwise the one
// server the client talks to. When a policy is not noeviction it logs a
// warning to [Options.Logger] and returns an error wrapping
// [ErrEvictionPolicy]. A server that refuses CONFIG (an ACL without
// +config, a managed service that renames it) cannot be checked: that is
// logged at debug level and is not an error. Any other failure, such as
// an unreachable server, is returned.
//
// Applications call it once at startup, after [Store.Ping].
func (s *Store) CheckEviction(ctx context.Context) error {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return s.checkEviction(ctx, m, m.Options().Addr)
		})
	case *redis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, m *redis.Client) error {
			return s.checkEviction(ctx, m, m.Options().Addr)
		})
	case *redis.Client:
		return s.checkEviction(ctx, c, c.Options().Addr)
	default:
		return s.checkEviction(ctx, c, "")
	}
}

// checkEviction checks the server behind c, called addr in messages.
func (s *Store) checkEviction(ctx context.Context, c redis.Cmdable, addr string) error {
	op, log := "check eviction", s.log()
	if addr != "" {
		op, log = op+" "+addr, log.With("addr", addr)
	}
	m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	var reply redis.Error
	if errors.As(err, &reply) {
		log.DebugContext(ctx, "redisstore: cannot read maxmemory-policy; make sure it is noeviction", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	policy, ok := m["maxmemory-policy"]
	if !ok {
		log.DebugContext(ctx, "redisstore: the server does not report maxmemory-policy; make sure it is noeviction")
		return nil
	}
	if policy != "noeviction" {
		log.WarnContext(ctx, "redisstore: Redis may evict authkit's keys, dropping sessions or the state that detects refresh-token reuse; set maxmemory-policy noeviction",
			"maxmemory-policy", policy)
		return fmt.Errorf("redisstore: %s: maxmemory-policy %s: %w", op, policy, ErrEvictionPolicy)
	}
	return nil
}

// log returns the logger of [Options.Logger].
func (s *Store) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}
