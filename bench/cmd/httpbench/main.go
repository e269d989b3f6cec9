// Command httpbench measures the HTTP goals of the benchmark: each target
// serves GET /me on a loopback port and wrk (2 threads, 50 connections)
// drives it, target after target, for a few interleaved rounds; it prints
// the median req/s of each and the ratios against their goals. It needs
// wrk on PATH and a Redis (BENCH_REDIS, default 127.0.0.1:6379); every key
// it writes is deleted at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/bench"
)

func main() {
	rounds := flag.Int("rounds", 3, "interleaved rounds (1 to 20)")
	dur := flag.Duration("d", 5*time.Second, "wrk duration per target and round (1s to 60s)")
	flag.Parse()
	if err := run(*rounds, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "httpbench:", err)
		os.Exit(1)
	}
}

func run(rounds int, dur time.Duration) error {
	if rounds < 1 || rounds > 20 || dur < time.Second || dur > time.Minute {
		return fmt.Errorf("rounds must be 1 to 20 and -d 1s to 60s")
	}
	addr := os.Getenv("BENCH_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
	defer rdb.Close()
	env, err := bench.NewEnv(ctx, rdb)
	if err != nil {
		return err
	}
	defer env.Close(ctx)

	type served struct {
		t    *bench.Target
		url  string
		cred bench.Credential
		rps  []float64
	}
	var all []*served
	makers := []func() (*bench.Target, error){
		func() (*bench.Target, error) { return bench.GinJWT(env) },
		func() (*bench.Target, error) { return bench.Limit(env), nil },
		func() (*bench.Target, error) { return bench.Authkit(env, bench.Stateless) },
		func() (*bench.Target, error) { return bench.Authkit(env, bench.Session) },
		func() (*bench.Target, error) { return bench.Authkit(env, bench.Cached) },
	}
	for _, mk := range makers {
		t, err := mk()
		if err != nil {
			return err
		}
		defer t.Close()
		cred, err := t.Login(bench.UserName(0))
		if err != nil {
			return fmt.Errorf("%s: login: %w", t.Name, err)
		}
		if err := t.Warm("/me", []bench.Credential{cred}); err != nil {
			return fmt.Errorf("%s: warm: %w", t.Name, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: t.Engine, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		all = append(all, &served{t: t, url: "http://" + ln.Addr().String() + "/me", cred: cred})
	}
	for r := range rounds {
		for _, s := range all {
			rps, err := wrk(s.url, s.cred, dur)
			if err != nil {
				return fmt.Errorf("%s: %w", s.t.Name, err)
			}
			s.rps = append(s.rps, rps)
			fmt.Printf("round %d  %-18s %9.0f req/s\n", r+1, s.t.Name, rps)
		}
	}
	med := map[string]float64{}
	for _, s := range all {
		slices.Sort(s.rps)
		med[s.t.Name] = s.rps[len(s.rps)/2]
	}
	fmt.Println()
	for _, s := range all {
		fmt.Printf("%-18s median %9.0f req/s\n", s.t.Name, med[s.t.Name])
	}
	fmt.Println()
	goal := func(what string, got, want float64) {
		verdict := "met"
		if got < want {
			verdict = "NOT met"
		}
		fmt.Printf("%-52s %5.2f×  goal ≥ %.2f×  %s\n", what, got, want, verdict)
	}
	goal("HTTP: authkit-stateless vs gin-jwt (req/s)", med["authkit-stateless"]/med["gin-jwt"], 1.1)
	goal("HTTP: authkit-cached vs the one-round-trip limit", med["authkit-cached"]/med["limit"], 0.9)
	fmt.Printf("%-52s %5.2f×  (for information)\n", "HTTP: authkit-session vs the one-round-trip limit", med["authkit-session"]/med["limit"])
	return nil
}

var rpsLine = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrk runs wrk against url with the credential and returns its req/s. A
// run with any non-2xx answer is an error: a rate of refusals means
// nothing.
func wrk(url string, c bench.Credential, dur time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", "-t2", "-c50", "-d"+strconv.Itoa(int(dur.Seconds()))+"s",
		"-H", c.Header+": "+c.Value, url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if regexp.MustCompile(`Non-2xx or 3xx responses`).Match(out) {
		return 0, fmt.Errorf("wrk saw non-2xx answers:\n%s", out)
	}
	m := rpsLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk's output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
