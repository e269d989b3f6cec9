package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ratio is one line of the table: num/den of a metric, against max when
// max > 0 (otherwise shown for information).
type ratio struct {
	what     string
	num, den string
	metric   string
	max      float64
}

// goals are the ratios of issue 7, then some for information.
var goals = []ratio{
	{"authkit stateless vs gin-jwt, time (serial)", "GET/authkit-stateless/serial", "GET/gin-jwt/serial", "ns/op", 0.5},
	{"authkit stateless vs gin-jwt, time (parallel)", "GET/authkit-stateless/parallel", "GET/gin-jwt/parallel", "ns/op", 0.5},
	{"authkit stateless vs gin-jwt, allocs", "GET/authkit-stateless/serial", "GET/gin-jwt/serial", "allocs/op", 1.0 / 3},
	{"authkit stateless, every token a cache miss, vs gin-jwt (serial)", "GET/authkit-stateless-miss/serial", "GET/gin-jwt/serial", "ns/op", 0},
	{"authkit stateless, every token a cache miss, vs gin-jwt (parallel)", "GET/authkit-stateless-miss/parallel", "GET/gin-jwt/parallel", "ns/op", 0},
	{"authkit stateless, cache miss vs cache hit (serial)", "GET/authkit-stateless-miss/serial", "GET/authkit-stateless/serial", "ns/op", 0},
	{"authkit stateless EdDSA, cache hit, vs gin-jwt (serial)", "GET/authkit-stateless-eddsa/serial", "GET/gin-jwt/serial", "ns/op", 0},
	{"authkit stateless RS256, cache hit, vs gin-jwt (serial)", "GET/authkit-stateless-rs256/serial", "GET/gin-jwt/serial", "ns/op", 0},
	{"authkit stateless HS256, no cache, vs gin-jwt (serial)", "GET/authkit-stateless-nocache/serial", "GET/gin-jwt/serial", "ns/op", 0},
	{"authkit stateless HS256, no cache, vs gin-jwt (parallel)", "GET/authkit-stateless-nocache/parallel", "GET/gin-jwt/parallel", "ns/op", 0},
	{"authkit stateless EdDSA, no cache, vs gin-jwt (serial)", "GET/authkit-stateless-nocache-eddsa/serial", "GET/gin-jwt/serial", "ns/op", 0},
	{"authkit stateless EdDSA, no cache, vs gin-jwt (parallel)", "GET/authkit-stateless-nocache-eddsa/parallel", "GET/gin-jwt/parallel", "ns/op", 0},
	{"authkit stateless RS256, no cache, vs gin-jwt (serial)", "GET/authkit-stateless-nocache-rs256/serial", "GET/gin-jwt/serial", "ns/op", 0},
	{"authkit stateless RS256, no cache, vs gin-jwt (parallel)", "GET/authkit-stateless-nocache-rs256/parallel", "GET/gin-jwt/parallel", "ns/op", 0},
	{"authkit stateless, no cache, RS256 vs HS256 (serial)", "GET/authkit-stateless-nocache-rs256/serial", "GET/authkit-stateless-nocache/serial", "ns/op", 0},
	{"authkit session vs one-round-trip limit (serial)", "GET/authkit-session/serial", "GET/limit/serial", "ns/op", 1.05},
	{"authkit session vs one-round-trip limit (parallel)", "GET/authkit-session/parallel", "GET/limit/parallel", "ns/op", 1.1},
	{"authkit local-cache hit vs one-round-trip limit (serial)", "GET/authkit-cached/serial", "GET/limit/serial", "ns/op", 0.1},
	{"authkit local-cache hit vs one-round-trip limit (parallel)", "GET/authkit-cached/parallel", "GET/limit/parallel", "ns/op", 0.1},
	{"authkit session with Prometheus metrics (telemetry/authprom) vs session (serial)", "GET/authkit-session-metrics/serial", "GET/authkit-session/serial", "ns/op", 0},
	{"authkit session with Prometheus metrics (telemetry/authprom) vs session (parallel)", "GET/authkit-session-metrics/parallel", "GET/authkit-session/parallel", "ns/op", 0},
	{"authkit session + RequireRoles vs session (serial)", "GET/authkit-session-roles/serial", "GET/authkit-session/serial", "ns/op", 0},
	{"gin-contrib/sessions + Redis vs limit (serial)", "GET/sessions-redis/serial", "GET/limit/serial", "ns/op", 0},
	{"gin-contrib/sessions + Redis vs limit (parallel)", "GET/sessions-redis/parallel", "GET/limit/parallel", "ns/op", 0},
	{"authkit login vs hand-written login", "Login/authkit-session", "Login/limit", "ns/op", 0},
	{"authkit refresh vs one-script rotation limit (issue 13)", "Refresh/authkit-session", "Refresh/limit", "ns/op", 1.1},
	{"authkit refresh (rotation in Redis) vs gin-jwt refresh (re-sign)", "Refresh/authkit-session", "Refresh/gin-jwt", "ns/op", 0},
}

// rent is a rule for hand-written code that a well-kept library could do
// instead: it stays only while it saves at least min of the request it
// serves. Per round, saved = (slow - fast) / (request - fast + slow):
// the time it saves, over what the request would cost with the library.
type rent struct {
	what string
	// fast and slow are the benchmarks of the hand-written code and of
	// the library doing the same work; request is a whole request that
	// runs fast.
	fast, slow, request string
	min                 float64
}

// rents: the lean JWT verifier against golang-jwt on a request whose token
// misses the verified-token cache, both on HS256 as the scenario signs
// (BenchmarkVerifyMiss of package tokens, in the same input). Only the
// serial request: a parallel request's time per op is wall time shared by
// the cores, not comparable with one verification's.
var rents = []rent{
	{"lean verifier vs golang-jwt, share of a cache-miss request (serial)",
		"VerifyMiss/HS256/lean", "VerifyMiss/HS256/reference", "GET/authkit-stateless-miss/serial", 0.25},
}

func main() {
	strict := flag.Bool("strict", false, "exit 1 unless every goal is met")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ratios [-strict] [file ...]   (standard input without files)")
		flag.PrintDefaults()
	}
	flag.Parse()
	results, err := readAll(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(2)
	}
	if len(results.names) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark results in the input")
		os.Exit(2)
	}
	if allMet := report(os.Stdout, results); *strict && !allMet {
		os.Exit(1)
	}
}

func readAll(files []string) (*results, error) {
	if len(files) == 0 {
		return parse(os.Stdin)
	}
	all := &results{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		r, err := parse(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, name := range r.names {
			for _, m := range r.rounds[name] {
				all.add(name, m)
			}
		}
	}
	return all, nil
}

// results holds, per benchmark name (without "Benchmark" and the
// GOMAXPROCS suffix), one map of metric to value per round, in order.
type results struct {
	rounds map[string][]map[string]float64
	names  []string // in the order they first appear
}

func (res *results) add(name string, metrics map[string]float64) {
	if res.rounds == nil {
		res.rounds = map[string][]map[string]float64{}
	}
	if _, ok := res.rounds[name]; !ok {
		res.names = append(res.names, name)
	}
	res.rounds[name] = append(res.rounds[name], metrics)
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark lines in the standard format:
//
//	BenchmarkGET/limit/serial-2   5000   213456 ns/op   11244 B/op   104 allocs/op
func parse(r io.Reader) (*results, error) {
	out := &results{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		metrics := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			metrics[f[i+1]] = v
		}
		out.add(name, metrics)
	}
	return out, sc.Err()
}

// errMissing: a benchmark of the ratio is not in the input.
var errMissing = errors.New("not measured")

// measure returns the per-round ratios of g and the medians of its two
// sides.
func (res *results) measure(g ratio) (ratios []float64, num, den float64, err error) {
	a, b := res.rounds[g.num], res.rounds[g.den]
	var as, bs []float64
	for i := range min(len(a), len(b)) {
		x, okx := a[i][g.metric]
		y, oky := b[i][g.metric]
		if !okx || !oky || y == 0 {
			continue
		}
		ratios = append(ratios, x/y)
		as, bs = append(as, x), append(bs, y)
	}
	if len(ratios) == 0 {
		return nil, 0, 0, errMissing
	}
	return ratios, median(as), median(bs), nil
}

// report writes the tables and says whether every goal was met.
func report(w io.Writer, res *results) (allMet bool) {
	allMet = true
	rounds := 0
	for _, r := range res.rounds {
		rounds = max(rounds, len(r))
	}
	fmt.Fprintf(w, "Scenarios: median over %d interleaved round(s)\n\n", rounds)
	fmt.Fprintln(w, "| benchmark | time/op | B/op | allocs/op |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, name := range res.names {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, res.median(name, "ns/op"), res.median(name, "B/op"), res.median(name, "allocs/op"))
	}
	fmt.Fprintf(w, "\nRatios of issue 7: median of the per-round ratios over %d interleaved round(s), [min–max]\n\n", rounds)
	fmt.Fprintln(w, "| ratio | numerator | denominator | measured | goal | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, g := range goals {
		rs, num, den, err := res.measure(g)
		goal, verdict := "—", "info"
		if g.max > 0 {
			goal = "≤ " + formatRatio(g.max)
		}
		if err != nil {
			if g.max > 0 {
				verdict, allMet = "not measured", false
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", g.what, g.num, g.den, err, goal, verdict)
			continue
		}
		m := median(rs)
		if g.max > 0 {
			verdict = "met"
			if m > g.max {
				verdict, allMet = "NOT met", false
			}
		}
		fmt.Fprintf(w, "| %s | %s %s | %s %s | %s [%s–%s] | %s | %s |\n", g.what,
			g.num, formatValue(num, g.metric), g.den, formatValue(den, g.metric),
			strconv.FormatFloat(m, 'f', 3, 64)+"×", formatRatio(slices.Min(rs)), formatRatio(slices.Max(rs)), goal, verdict)
	}
	fmt.Fprintf(w, "\nHand-written code against its library: share of the request saved, median of the per-round shares over %d interleaved round(s), [min–max]\n\n", rounds)
	fmt.Fprintln(w, "| rule | hand-written | library | request | saved | goal | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rents {
		shares, fast, slow, req, err := res.saved(r)
		goal := "≥ " + formatShare(r.min)
		if err != nil {
			allMet = false
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | not measured |\n", r.what, r.fast, r.slow, r.request, err, goal)
			continue
		}
		m := median(shares)
		verdict := "met"
		if m < r.min {
			verdict, allMet = "NOT met", false
		}
		fmt.Fprintf(w, "| %s | %s %s | %s %s | %s %s | %s [%s–%s] | %s | %s |\n", r.what,
			r.fast, formatValue(fast, "ns/op"), r.slow, formatValue(slow, "ns/op"), r.request, formatValue(req, "ns/op"),
			formatShare(m), formatShare(slices.Min(shares)), formatShare(slices.Max(shares)), goal, verdict)
	}
	return allMet
}

// saved returns the per-round shares of r and the medians of its three
// benchmarks.
func (res *results) saved(r rent) (shares []float64, fast, slow, req float64, err error) {
	a, b, c := res.rounds[r.fast], res.rounds[r.slow], res.rounds[r.request]
	var fs, ss, rs []float64
	for i := range min(len(a), len(b), len(c)) {
		f, okf := a[i]["ns/op"]
		s, oks := b[i]["ns/op"]
		q, okq := c[i]["ns/op"]
		if !okf || !oks || !okq || q-f+s <= 0 {
			continue
		}
		shares = append(shares, (s-f)/(q-f+s))
		fs, ss, rs = append(fs, f), append(ss, s), append(rs, q)
	}
	if len(shares) == 0 {
		return nil, 0, 0, 0, errMissing
	}
	return shares, median(fs), median(ss), median(rs), nil
}

func formatShare(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + " %" }

// median formats the median of one metric of a benchmark over its rounds.
func (res *results) median(name, metric string) string {
	var xs []float64
	for _, r := range res.rounds[name] {
		if v, ok := r[metric]; ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return "—"
	}
	if metric != "ns/op" {
		return strconv.FormatFloat(median(xs), 'f', 0, 64)
	}
	return strings.Trim(formatValue(median(xs), metric), "()")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func formatRatio(r float64) string { return strconv.FormatFloat(r, 'f', 2, 64) + "×" }

// formatValue shows ns/op as a duration and other metrics as they are.
func formatValue(v float64, metric string) string {
	switch {
	case metric != "ns/op":
		return fmt.Sprintf("(%.0f %s)", v, metric)
	case v >= 1e6:
		return fmt.Sprintf("(%.2f ms)", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("(%.1f µs)", v/1e3)
	default:
		return fmt.Sprintf("(%.0f ns)", v)
	}
}
