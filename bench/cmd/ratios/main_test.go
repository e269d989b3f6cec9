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
PASS
goos: linux
BenchmarkGET/gin-jwt/serial-2         	   40000	     20000 ns/op	   11128 B/op	     100 allocs/op
BenchmarkGET/authkit-stateless/serial-2	   80000	     12000 ns/op	    5000 B/op	      30 allocs/op
BenchmarkGET/limit/serial-2           	    5000	    200000 ns/op	   11244 B/op	     104 allocs/op
BenchmarkGET/authkit-session/serial-2 	    5000	    200000 ns/op	   13287 B/op	     147 allocs/op
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
		{"missing", "| authkit local-cache hit vs one-round-trip limit (serial) | GET/authkit-cached/serial | GET/limit/serial | not measured | ≤ 0.10× | not measured |"},
	} {
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: no line containing\n%s\nin\n%s", tc.name, tc.want, out.String())
		}
	}
}
