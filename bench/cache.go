package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store/redisstore"
)

// cachedStore returns a redisstore with its local session cache (default
// size and TTL) on a client of its own, which counts the commands it
// sends, so that warm can tell when reads are served from memory. close
// releases the store's subscription and the client. This is the one place
// that depends on the cache's option.
func cachedStore(e *Env, prefix string) (st *redisstore.Store, sent *atomic.Int64, close func(), err error) {
	client := redis.NewClient(e.Redis.Options())
	sent = &atomic.Int64{}
	client.AddHook(counter{sent})
	if e.Hook != nil {
		client.AddHook(e.Hook)
	}
	st, err = redisstore.New(client, redisstore.Options{Prefix: prefix, LocalCache: &redisstore.LocalCacheOptions{}})
	if err != nil {
		_ = client.Close()
		return nil, nil, nil, err
	}
	return st, sent, func() { _ = st.Close(); _ = client.Close() }, nil
}

// warmCache sends GETs (at most for 10 s) until a whole round of them over
// creds reaches Redis not once: the cache has subscribed and holds every
// session.
func warmCache(t *Target, path string, creds []Credential, sent *atomic.Int64) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		before := sent.Load()
		for _, c := range creds {
			if w := t.Serve(Get(path, c)); w.Code != 200 {
				return fmt.Errorf("%s: warming the cache: GET %s: %d %s", t.Name, path, w.Code, w.Body)
			}
		}
		if sent.Load() == before {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s: the local cache still reaches Redis after 10 s of reads", t.Name)
}

// counter is a go-redis hook that counts commands (a pipeline counts each
// of its commands).
type counter struct{ n *atomic.Int64 }

func (counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
