package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkGET/gin-jwt/serial-2         	   40000	     30000 ns/op	   11128 B/op	     100 allocs/op
BenchmarkGET/authkit-stateless/serial-2	   80000	     12000 ns/op	    5000 B/op	      30 allocs/op
BenchmarkGET/limit/serial-2           	    5000	    200000 ns/op	   11244 B/op	     104 allocs/op
BenchmarkGET/authkit-session/serial-2 	    5000	    220000 ns/op	   13287 B/op	     147 allocs/op
BenchmarkGET/authkit-stateless-miss/serial-2	   40000	     25000 ns/op	    8600 B/op	      33 allocs/op
PASS
pkg: github.com/gin-authkit/authkit/tokens
BenchmarkVerifyMiss/HS256/lean-2      	  250000	      4000 ns/op	     512 B/op	       2 allocs/op
BenchmarkVerifyMiss/HS256/reference-2 	   60000	     16000 ns/op	    3635 B/op	      63 allocs/op
PASS
goos: linux
BenchmarkGET/gin-jwt/serial-2         	   40000	     20000 ns/op	   11128 B/op	     100 allocs/op
BenchmarkGET/authkit-stateless/serial-2	   80000	     12000 ns/op	    5000 B/op	      30 allocs/op
BenchmarkGET/limit/serial-2           	    5000	    200000 ns/op	   11244 B/op	     104 allocs/op
BenchmarkGET/authkit-session/serial-2 	    5000	    200000 ns/op	   13287 B/op	     147 allocs/op
BenchmarkGET/authkit-stateless-miss/serial-2	   40000	     29000 ns/op	    8600 B/op	      33 allocs/op
BenchmarkVerifyMiss/HS256/lean-2      	  250000	      4000 ns/op	     512 B/op	       2 allocs/op
BenchmarkVerifyMiss/HS256/reference-2 	   60000	     16000 ns/op	    3635 B/op	      63 allocs/op
`

func TestReport(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.rounds["GET/limit/serial"]); n != 2 {
		t.Fatalf("GET/limit/serial has %d rounds, want 2", n)
	}
	var out strings.Builder
	if allMet := report(&out, res); allMet {
		t.Error("every goal met, though the cache and parallel scenarios are missing")
	}
	for _, tc := range []struct{ name, want string }{
		// per-round ratios 0.4 and 0.6: median 0.5, which meets ≤ 0.5
		{"stateless time", "| authkit stateless vs gin-jwt, time (serial) | GET/authkit-stateless/serial (12.0 µs) | GET/gin-jwt/serial (25.0 µs) | 0.500× [0.40×–0.60×] | ≤ 0.50× | met |"},
		{"stateless allocs", "| 0.300× [0.30×–0.30×] | ≤ 0.33× | met |"},
		// 1.10 and 1.00: median 1.05
		{"session serial", "| 1.050× [1.00×–1.10×] | ≤ 1.05× | met |"},
		{"scenario", "| GET/gin-jwt/serial | 25.0 µs | 11128 | 100 |"},
		// (16 - 4) / (25 - 4 + 16) = 32.4 % and 12 / 41 = 29.3 %: median 30.9 %
		{"rent", "| VerifyMiss/HS256/lean (4.0 µs) | VerifyMiss/HS256/reference (16.0 µs) | GET/authkit-stateless-miss/serial (27.0 µs) | 30.9 % [29.3 %–32.4 %] | ≥ 25.0 % | met |"},
		{"miss vs gin-jwt", "| authkit stateless, every token a cache miss, vs gin-jwt (serial) | GET/authkit-stateless-miss/serial (27.0 µs) | GET/gin-jwt/serial (25.0 µs) | 1.142× [0.83×–1.45×] | — | info |"},
		{"missing", "| authkit local-cache hit vs one-round-trip limit (serial) | GET/authkit-cached/serial | GET/limit/serial | not measured | ≤ 0.10× | not measured |"},
	} {
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: no line containing\n%s\nin\n%s", tc.name, tc.want, out.String())
		}
	}
}
