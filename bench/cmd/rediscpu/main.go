package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/bench"
	"github.com/gin-authkit/authkit/internal/redisproc"
)

// maxRatio is the goal of issue 7: authkit's Redis CPU per authenticated
// request at most twice a plain HGETALL's.
const maxRatio = 2.0

func main() {
	requests := flag.Int("requests", 20000, "authenticated requests per scenario (1 to 1000000)")
	flag.Parse()
	if *requests < 1 || *requests > 1_000_000 {
		fmt.Fprintln(os.Stderr, "rediscpu: -requests must be between 1 and 1000000")
		os.Exit(2)
	}
	if err := run(*requests); err != nil {
		fmt.Fprintln(os.Stderr, "rediscpu:", err)
		os.Exit(1)
	}
}

// measurement is what one scenario cost Redis.
type measurement struct {
	name     string
	commands []string // what the client sent, with calls per request
	usec     float64  // commandstats usec of those commands, per request
	cpuUsec  float64  // the server's CPU, per request
}

func run(requests int) error {
	srv, err := redisproc.Start("")
	if err != nil {
		return err
	}
	defer srv.Close()
	admin := srv.Client()
	defer admin.Close()
	rdb := srv.Client()
	defer rdb.Close()
	sent := &commandNames{counts: map[string]int{}}
	rdb.AddHook(sent)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, err := bench.NewEnv(ctx, rdb)
	if err != nil {
		return err
	}
	env.Hook = sent
	scenarios := []struct {
		name  string
		build func() (*bench.Target, error)
	}{
		{"limit (HS256 + HGETALL)", func() (*bench.Target, error) { return bench.Limit(env), nil }},
		{"authkit session mode", func() (*bench.Target, error) { return bench.Authkit(env, bench.Session) }},
		{"authkit local-cache hit", func() (*bench.Target, error) { return bench.Authkit(env, bench.Cached) }},
	}
	var results []measurement
	for _, sc := range scenarios {
		t, err := sc.build()
		if err != nil {
			return err
		}
		m, err := measure(ctx, sc.name, t, admin, sent, requests)
		t.Close()
		if err != nil {
			return err
		}
		results = append(results, m)
	}
	report(results, requests, srv.Addr)
	return nil
}

// measure runs one scenario; see the package comment.
func measure(ctx context.Context, name string, t *bench.Target, admin *redis.Client, sent *commandNames, requests int) (measurement, error) {
	creds := make([]bench.Credential, bench.Users)
	for i := range creds {
		var err error
		if creds[i], err = t.Login(bench.UserName(i)); err != nil {
			return measurement{}, err
		}
	}
	get := func(i int) error {
		if w := t.Serve(bench.Get("/me", creds[i%len(creds)])); w.Code != 200 {
			return fmt.Errorf("%s: GET /me: %d %s", name, w.Code, w.Body)
		}
		return nil
	}
	for i := range 200 { // warm up: scripts loaded, connections open
		if err := get(i); err != nil {
			return measurement{}, err
		}
	}
	if err := t.Warm("/me", creds); err != nil {
		return measurement{}, err
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		return measurement{}, err
	}
	cpu0, err := serverCPU(ctx, admin)
	if err != nil {
		return measurement{}, err
	}
	sent.reset()
	for i := range requests {
		if err := get(i); err != nil {
			return measurement{}, err
		}
	}
	counts := sent.snapshot()
	cpu1, err := serverCPU(ctx, admin)
	if err != nil {
		return measurement{}, err
	}
	stats, err := commandStats(ctx, admin)
	if err != nil {
		return measurement{}, err
	}
	m := measurement{name: name, cpuUsec: (cpu1 - cpu0) * 1e6 / float64(requests)}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		st := stats[n]
		m.usec += st.usec / float64(requests)
		m.commands = append(m.commands, fmt.Sprintf("%s %.2f/req", strings.ToUpper(n), float64(counts[n])/float64(requests)))
	}
	if len(names) == 0 {
		m.commands = []string{"none"}
	}
	return m, nil
}

func report(results []measurement, requests int, addr string) {
	fmt.Printf("Redis CPU per authenticated request (private redis-server on %s, %d requests per scenario, INFO commandstats after CONFIG RESETSTAT)\n\n", addr, requests)
	fmt.Println("| scenario | commands sent | commandstats usec per request | server CPU per request (incl. I/O) |")
	fmt.Println("|---|---|---|---|")
	var limit, session *measurement
	for i, m := range results {
		fmt.Printf("| %s | %s | %.2f µs | %.1f µs |\n", m.name, strings.Join(m.commands, ", "), m.usec, m.cpuUsec)
		switch {
		case strings.HasPrefix(m.name, "limit"):
			limit = &results[i]
		case m.name == "authkit session mode":
			session = &results[i]
		}
	}
	if limit == nil || session == nil || limit.usec == 0 {
		fmt.Println("\nauthkit session vs HGETALL: not measured")
		return
	}
	r := session.usec / limit.usec
	verdict := "met"
	if r > maxRatio {
		verdict = "NOT met"
	}
	fmt.Printf("\nauthkit session vs plain HGETALL, Redis CPU (commandstats): %.2f× (goal ≤ %.0f×): %s\n", r, maxRatio, verdict)
	fmt.Printf("authkit session vs plain HGETALL, whole server CPU: %.2f× (for information)\n", session.cpuUsec/limit.cpuUsec)
}

// commandNames is a go-redis hook that counts the commands a client sends,
// by name.
type commandNames struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *commandNames) add(cmds ...redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cmds {
		h.counts[strings.ToLower(c.Name())]++
	}
}

func (h *commandNames) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.counts)
}

func (h *commandNames) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.counts))
	for k, v := range h.counts {
		out[k] = v
	}
	return out
}

func (h *commandNames) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *commandNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.add(cmd); return next(ctx, cmd) }
}

func (h *commandNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.add(cmds...); return next(ctx, cmds) }
}

// stat is one line of INFO commandstats.
type stat struct{ usec float64 }

// commandStats reads INFO commandstats: cmdstat_NAME:calls=…,usec=…,…
func commandStats(ctx context.Context, c *redis.Client) (map[string]stat, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]stat{}
	for _, line := range strings.Split(info, "\n") {
		name, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var s stat
		for _, kv := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if k == "usec" {
				s.usec, _ = strconv.ParseFloat(v, 64)
			}
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = s
	}
	return out, nil
}

// serverCPU is used_cpu_user + used_cpu_sys of INFO cpu, in seconds.
func serverCPU(ctx context.Context, c *redis.Client) (float64, error) {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO cpu: %s: %v", k, err)
			}
			total += f
		}
	}
	return total, nil
}
