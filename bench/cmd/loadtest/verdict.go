package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// answers counts what one kind of client of an attack scenario got.
type answers struct {
	who string

	mu       sync.Mutex
	statuses map[int]int     // status → count; 0 for no answer at all
	latency  []time.Duration // of every request, answered or not
}

func newAnswers(who string) *answers { return &answers{who: who, statuses: map[int]int{}} }

// add records one answer; a transport error counts as status 0.
func (s *answers) add(a answer) {
	status := a.status
	if a.err != nil {
		status = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[status]++
	s.latency = append(s.latency, a.end.Sub(a.start))
}

// sent is how many requests were recorded.
func (s *answers) sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.latency)
}

func (s *answers) count(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statuses[status]
}

// others returns the statuses not among listed, as "500 ×2, no answer ×1".
func (s *answers) others(listed ...int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(s.statuses)) {
		if slices.Contains(listed, st) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", statusName(st), s.statuses[st]))
	}
	return strings.Join(parts, ", ")
}

// quantile is the p-th percentile of the latencies (0 when none).
func (s *answers) quantile(p int) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return quantile(s.latency, p)
}

func statusName(status int) string {
	if status == 0 {
		return "no answer"
	}
	return strconv.Itoa(status)
}

// quantile returns the p-th percentile of ds, the nearest rank rounded
// down (so p99 of 10 values is the largest); 0 when ds is empty. It sorts
// a copy.
func quantile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	return s[min(len(s)-1, len(s)*p/100)]
}

// goal is one pass criterion of an attack scenario and what was measured.
type goal struct {
	what string
	met  bool
	got  string
}

// onlyStatuses: every request of s got one of the allowed statuses (a
// request without an answer fails it).
func onlyStatuses(s *answers, allowed ...int) goal {
	names := make([]string, len(allowed))
	for i, st := range allowed {
		names[i] = statusName(st)
	}
	g := goal{what: s.who + ": only " + strings.Join(names, ", ")}
	other := s.others(allowed...)
	g.met = other == "" && s.sent() > 0
	g.got = "none else"
	switch {
	case s.sent() == 0:
		g.got = "no request sent"
	case other != "":
		g.got = other
	}
	return g
}

// noServerErrors: no request of any of ss got a 5xx or no answer.
func noServerErrors(ss ...*answers) goal {
	g := goal{what: "no 5xx and no request without an answer", met: true}
	var bad []string
	for _, s := range ss {
		s.mu.Lock()
		for st, n := range s.statuses {
			if st == 0 || st >= 500 {
				bad = append(bad, fmt.Sprintf("%s: %s ×%d", s.who, statusName(st), n))
			}
		}
		s.mu.Unlock()
	}
	slices.Sort(bad)
	if len(bad) > 0 {
		g.met, g.got = false, strings.Join(bad, "; ")
	} else {
		g.got = "none"
	}
	return g
}

// allOK: every request of s got 200 (at least one was sent), and the p99
// of their latency is under limit.
func allOK(s *answers, limit time.Duration) goal {
	n, ok, p99 := s.sent(), s.count(200), s.quantile(99)
	return goal{
		what: fmt.Sprintf("%s: every login 200, p99 < %v", s.who, limit),
		met:  n > 0 && ok == n && p99 < limit,
		got:  fmt.Sprintf("%d of %d 200, p99 %s", ok, n, ms(p99)),
	}
}

// answeredWith: every request of s (at least one) got status.
func answeredWith(s *answers, status int) goal {
	g := onlyStatuses(s, status)
	g.what = fmt.Sprintf("%s: %d", s.who, status)
	if g.met {
		g.got = fmt.Sprintf("%d ×%d", status, s.count(status))
	}
	return g
}

// reached: a count the scenario needed to reach (such as the attacker's
// failures), within the run's bounds.
func reached(what string, got, want int) goal {
	return goal{what: what, met: got >= want, got: fmt.Sprintf("%d of %d", got, want)}
}

// scenario is the outcome of one attack.
type scenario struct {
	title   string
	notes   []string // measured facts printed above the table
	rows    []*answers
	goals   []goal
	elapsed time.Duration
}

func (sc *scenario) passed() bool {
	for _, g := range sc.goals {
		if !g.met {
			return false
		}
	}
	return len(sc.goals) > 0
}

// print writes the scenario's table and goals.
func (sc *scenario) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s (%.1f s)\n", sc.title, sc.elapsed.Seconds())
	for _, n := range sc.notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintf(w, "  %-44s %5s %5s %5s %5s %5s %9s %9s  %s\n", "client", "sent", "200", "401", "429", "503", "p50", "p99", "other")
	for _, r := range sc.rows {
		line := fmt.Sprintf("  %-44s %5d %5d %5d %5d %5d %9s %9s  %s", r.who, r.sent(), r.count(200), r.count(401),
			r.count(429), r.count(503), ms(r.quantile(50)), ms(r.quantile(99)), r.others(200, 401, 429, 503))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	for _, g := range sc.goals {
		verdict := "met"
		if !g.met {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "  goal: %s: %s (%s)\n", g.what, verdict, g.got)
	}
}

// ms formats d in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }
