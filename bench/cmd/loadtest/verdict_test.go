package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ten := func() []time.Duration {
		var ds []time.Duration
		for _, n := range []int{7, 3, 10, 1, 9, 2, 8, 4, 6, 5} {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p    int
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{time.Second}, 99, time.Second},
		{"p50 of ten", ten(), 50, 6 * time.Millisecond},
		{"p99 of ten is the largest", ten(), 99, 10 * time.Millisecond},
		{"p0 is the smallest", ten(), 0, time.Millisecond},
		{"p100 is the largest", ten(), 100, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.ds...)
			if got := quantile(tc.ds, tc.p); got != tc.want {
				t.Errorf("quantile(p%d) = %v, want %v", tc.p, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.ds[i] {
					t.Fatalf("quantile reordered its input")
				}
			}
		})
	}
}

// tallyOf records one answer per status with the given latency; status 0
// is a request without an answer.
func tallyOf(who string, latency time.Duration, statuses ...int) *answers {
	s := newAnswers(who)
	t0 := time.Now()
	for _, st := range statuses {
		a := answer{status: st, start: t0, end: t0.Add(latency)}
		if st == 0 {
			a.err = errors.New("connection refused")
		}
		s.add(a)
	}
	return s
}

func TestGoals(t *testing.T) {
	fast, slow := 300*time.Millisecond, 1500*time.Millisecond
	for _, tc := range []struct {
		name    string
		g       goal
		met     bool
		gotHas  string
		whatHas string
	}{
		{"no 5xx: 401 and 429 only", noServerErrors(tallyOf("a", fast, 401, 429, 429)), true, "none", ""},
		{"no 5xx: a 503", noServerErrors(tallyOf("a", fast, 401), tallyOf("b", fast, 503, 503)), false, "b: 503 ×2", ""},
		{"no 5xx: no answer", noServerErrors(tallyOf("a", fast, 0)), false, "a: no answer ×1", ""},
		{"only: allowed", onlyStatuses(tallyOf("s", fast, 401, 429, 503), 401, 429, 503), true, "none else", "only 401, 429, 503"},
		{"only: a 200 for a stranger", onlyStatuses(tallyOf("s", fast, 401, 200), 401, 429), false, "200 ×1", ""},
		{"only: nothing sent", onlyStatuses(tallyOf("s", fast), 401), false, "no request sent", ""},
		{"all ok, fast", allOK(tallyOf("owner", fast, 200, 200, 200), time.Second), true, "3 of 3 200, p99 300 ms", "p99 < 1s"},
		{"all ok, too slow", allOK(tallyOf("owner", slow, 200, 200), time.Second), false, "p99 1500 ms", ""},
		{"all ok, one 503", allOK(tallyOf("owner", fast, 200, 503), time.Second), false, "1 of 2 200", ""},
		{"all ok, nothing sent", allOK(tallyOf("owner", fast), time.Second), false, "0 of 0", ""},
		{"answered 429", answeredWith(tallyOf("new", fast, 429), 429), true, "429 ×1", "new: 429"},
		{"answered 200 instead of 429", answeredWith(tallyOf("new", fast, 200), 429), false, "200 ×1", ""},
		{"reached", reached("failures", 100, 100), true, "100 of 100", ""},
		{"not reached", reached("failures", 85, 100), false, "85 of 100", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.g.met != tc.met {
				t.Errorf("met = %v, want %v (%+v)", tc.g.met, tc.met, tc.g)
			}
			if !strings.Contains(tc.g.got, tc.gotHas) {
				t.Errorf("got = %q, want it to contain %q", tc.g.got, tc.gotHas)
			}
			if !strings.Contains(tc.g.what, tc.whatHas) {
				t.Errorf("what = %q, want it to contain %q", tc.g.what, tc.whatHas)
			}
		})
	}
}

func TestScenarioPrint(t *testing.T) {
	owner := tallyOf("owner", 300*time.Millisecond, 200, 200)
	strangers := tallyOf("strangers", 2*time.Second, 401, 429, 503, 500, 0)
	sc := &scenario{title: "2. flood", rows: []*answers{strangers, owner},
		goals: []goal{allOK(owner, time.Second), onlyStatuses(strangers, 401, 429, 503)}, elapsed: 15 * time.Second}
	if sc.passed() {
		t.Error("passed with a missed goal")
	}
	var b strings.Builder
	sc.print(&b)
	for _, want := range []string{"2. flood (15.0 s)", "no answer ×1, 500 ×1", "MISSED (no answer ×1, 500 ×1)", "met (2 of 2 200, p99 300 ms)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, b.String())
		}
	}
	if (&scenario{}).passed() {
		t.Error("a scenario without goals passed")
	}
	sc.goals = sc.goals[:1]
	if !sc.passed() {
		t.Error("failed with every goal met")
	}
}

func TestPerHash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		judged  int
		elapsed time.Duration
		slots   int
		want    time.Duration
	}{
		{"none judged", 0, 10 * time.Second, 2, 0},
		{"two slots", 40, 10 * time.Second, 2, 500 * time.Millisecond},
		{"one slot", 40, 10 * time.Second, 1, 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := perHash(tc.judged, tc.elapsed, tc.slots); got != tc.want {
				t.Errorf("perHash(%d, %v, %d) = %v, want %v", tc.judged, tc.elapsed, tc.slots, got, tc.want)
			}
		})
	}
}
