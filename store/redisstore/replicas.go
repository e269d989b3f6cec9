package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// run runs script with keys and args. When durable and the store has
// [Options.WaitReplicas], it sends WAIT after the script in one pipeline,
// so on the connection that wrote, and fails the reply with
// [ErrNotReplicated] when fewer replicas acknowledged in time. WAIT
// counts the replicas that acknowledged everything this connection wrote,
// so it covers the script whatever else the connection did before.
func (s *Store) run(ctx context.Context, durable bool, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if !durable || s.replicas == 0 {
		return script.Run(ctx, s.client, keys, args...)
	}
	cmd, wait := s.evalWait(ctx, script.EvalSha, keys, args)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd, wait = s.evalWait(ctx, script.Eval, keys, args)
	}
	if cmd.Err() != nil {
		return cmd
	}
	n, err := wait.Int64()
	switch {
	case err != nil:
		cmd.SetErr(fmt.Errorf("wait for replicas: %w", err))
	case n < s.replicas:
		cmd.SetErr(fmt.Errorf("%w: %d of %d replicas within %d ms", ErrNotReplicated, n, s.replicas, s.replicaWait))
	}
	return cmd
}

// evalWait sends eval (Script.EvalSha or Script.Eval) and WAIT in one
// pipeline and returns both replies.
func (s *Store) evalWait(ctx context.Context, eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd, keys []string, args []any) (cmd, wait *redis.Cmd) {
	p := s.client.Pipeline()
	cmd = eval(ctx, p, keys, args...)
	wait = p.Do(ctx, "WAIT", s.replicas, s.replicaWait)
	_, _ = p.Exec(ctx) // each reply carries its error
	return cmd, wait
}
