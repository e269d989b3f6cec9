package bench_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/bench"
	"github.com/gin-authkit/authkit/bench/internal/redisproc"
)

// EnvVar names a Redis to benchmark against instead of a private
// redis-server, e.g. redis://127.0.0.1:6379/0. The benchmarks write under
// a random key prefix there and delete their keys at the end.
const EnvVar = "AUTHKIT_BENCH_REDIS"

// env is shared by every test and benchmark of the package.
var env *bench.Env

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	rdb, stop, err := openRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err = bench.NewEnv(ctx, rdb)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	code := m.Run()
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := env.Close(cctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return code
}

// openRedis connects to the Redis named by EnvVar, or starts a private
// redis-server, which no other test or agent disturbs.
func openRedis() (*redis.Client, func(), error) {
	if url := os.Getenv(EnvVar); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", EnvVar, err)
		}
		opts.ContextTimeoutEnabled = true
		rdb := redis.NewClient(opts)
		return rdb, func() { _ = rdb.Close() }, nil
	}
	srv, err := redisproc.Start("")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (or set %s)", err, EnvVar)
	}
	rdb := srv.Client()
	return rdb, func() { _ = rdb.Close(); srv.Close() }, nil
}

// scenario is one authenticated GET: a target, and the path it serves.
type scenario struct {
	name  string
	path  string
	build func(*bench.Env) (*bench.Target, error)
}

func authkit(mode bench.Mode) func(*bench.Env) (*bench.Target, error) {
	return func(e *bench.Env) (*bench.Target, error) { return bench.Authkit(e, mode) }
}

// getScenarios are in an order that puts each pair that cmd/ratios
// compares next to each other in a round: gin-jwt and authkit-stateless,
// then the limit between authkit-cached and authkit-session.
var getScenarios = []scenario{
	{"floor", "/me", func(*bench.Env) (*bench.Target, error) { return bench.Floor(), nil }},
	{"gin-jwt", "/me", bench.GinJWT},
	{"authkit-stateless", "/me", authkit(bench.Stateless)},
	{"sessions-redis", "/me", bench.Sessions},
	{"authkit-cached", "/me", authkit(bench.Cached)},
	{"limit", "/me", func(e *bench.Env) (*bench.Target, error) { return bench.Limit(e), nil }},
	{"authkit-session", "/me", authkit(bench.Session)},
	{"authkit-session-roles", "/admin", authkit(bench.Session)},
}

// pick returns the scenarios of getScenarios called names.
func pick(names ...string) []scenario {
	var out []scenario
	for _, n := range names {
		i := slices.IndexFunc(getScenarios, func(sc scenario) bool { return sc.name == n })
		out = append(out, getScenarios[i])
	}
	return out
}

// setUp builds a scenario's target and logs every user in; the caller
// closes the target.
func setUp(b *testing.B, sc scenario) (*bench.Target, []bench.Credential) {
	b.Helper()
	t, err := sc.build(env)
	if err != nil {
		b.Fatal(err)
	}
	creds := make([]bench.Credential, bench.Users)
	for i := range creds {
		if creds[i], err = t.Login(bench.UserName(i)); err != nil {
			t.Close()
			b.Fatal(err)
		}
	}
	if err := t.Warm(sc.path, creds); err != nil {
		t.Close()
		b.Fatal(err)
	}
	return t, creds
}

// BenchmarkGET is one authenticated GET per iteration, a fresh request
// each time, cycling over the users' sessions: serially, and from
// GOMAXPROCS goroutines at once.
func BenchmarkGET(b *testing.B) {
	for _, sc := range getScenarios {
		b.Run(sc.name, func(b *testing.B) {
			t, creds := setUp(b, sc)
			defer t.Close()
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					w := t.Serve(bench.Get(sc.path, creds[i%len(creds)]))
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
					i++
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				var next atomic.Uint64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c := creds[next.Add(1)%uint64(len(creds))]
						if w := t.Serve(bench.Get(sc.path, c)); w.Code != 200 {
							b.Errorf("status %d: %s", w.Code, w.Body)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkLogin is one successful login per iteration, cycling over the
// users, with bcrypt at its lowest cost for every target.
func BenchmarkLogin(b *testing.B) {
	for _, sc := range pick("gin-jwt", "sessions-redis", "limit", "authkit-session") {
		b.Run(sc.name, func(b *testing.B) {
			t, _ := setUp(b, sc)
			defer t.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if w := t.Serve(bench.LoginRequest(bench.UserName(i))); w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}

// BenchmarkRefresh is one refresh per iteration, each presenting the
// credential the previous one returned: gin-jwt re-signs a valid token,
// authkit rotates the refresh token of a session in Redis.
func BenchmarkRefresh(b *testing.B) {
	for _, sc := range pick("gin-jwt", "authkit-session") {
		b.Run(sc.name, func(b *testing.B) {
			t, creds := setUp(b, sc)
			defer t.Close()
			c := creds[0]
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if c, err = t.Read(t.Serve(t.RefreshRequest(c))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
