package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// growth is the demo's goroutine and thread count around the load.
type growth struct {
	before, peak, after         int
	threadsBefore, threadsAfter int
}

// report prints what the run measured and whether it passed.
func (lt *loadtest) report(c config, elapsed time.Duration, g growth) (pass bool) {
	t := lt.tally
	t.mu.Lock()
	defer t.mu.Unlock()
	lt.tl.mu.Lock()
	defer lt.tl.mu.Unlock()
	pass = true

	fmt.Printf("\nload: %d requests in %.1f s = %.0f req/s from %d users; latency p50 %s, p99 %s; outside fault windows p50 %s, p99 %s\n",
		t.requests, elapsed.Seconds(), float64(t.requests)/elapsed.Seconds(), c.users,
		percentile(t.latency, 50), percentile(t.latency, 99), percentile(t.calm, 50), percentile(t.calm, 99))
	if t.requests == 0 {
		fmt.Println("FAILED: no request was sent")
		pass = false
	}

	fmt.Println("\nanswers by request kind:")
	for _, name := range slices.Sorted(maps.Keys(t.byOp)) {
		counts := t.byOp[name]
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
		}
		fmt.Printf("  %-24s %s\n", name, strings.Join(parts, ", "))
	}

	fmt.Println("\nfaults (a 503 is right from the start of a fault to 2 s after its end, for requests that need Redis):")
	if len(lt.tl.faults) == 0 {
		fmt.Println("  none injected")
	}
	for _, f := range lt.tl.faults {
		at := func(x time.Time) string { return fmt.Sprintf("%.2f s", x.Sub(t.start).Seconds()) }
		line := fmt.Sprintf("  %-7s %s: from %s to %s (%v)", f.name, f.what, at(f.start), at(f.end), f.end.Sub(f.start).Round(time.Millisecond))
		if f.detail != "" {
			line += "; " + f.detail
		}
		line += fmt.Sprintf("; %d answers 503", f.n503)
		switch d := f.last503.Sub(f.end).Round(time.Millisecond); {
		case f.n503 == 0:
		case d > 0:
			line += fmt.Sprintf(", the last %v after the fault ended", d)
		default:
			line += ", none after the fault ended"
		}
		if f.name == "restart" {
			line += fmt.Sprintf("; %d sessions lost with Redis's memory, their users logged in again", f.lost)
		}
		if !f.barrier.IsZero() {
			line += fmt.Sprintf("; %d sessions lost (their latest write acknowledged after the replication barrier %s before the fault), their users logged in again",
				f.lost, f.start.Sub(f.barrier).Round(time.Millisecond))
		}
		if f.n503 > 0 {
			line += fmt.Sprintf("; 503 window %s to %s after the fault started (at %s)",
				f.first503.Sub(f.start).Round(time.Millisecond), f.last503.Sub(f.start).Round(time.Millisecond), at(f.start))
		}
		fmt.Println(line)
		fmt.Println("          " + recoveryLine(f, c.users))
	}

	verdict := "ok"
	if g.after > g.before+goroutineSlack {
		verdict, pass = "FAILED", false
	}
	fmt.Printf("\ndemo goroutines (GET /api/admin/stats): %d before the load, peak %d, %d after it (at most %d allowed): %s; OS threads %d → %d\n",
		g.before, g.peak, g.after, g.before+goroutineSlack, verdict, g.threadsBefore, g.threadsAfter)

	if len(t.wrong) == 0 {
		fmt.Println("\nwrong answers: none")
		return pass
	}
	pass = false
	fmt.Println("\nwrong answers:")
	for _, why := range slices.Sorted(maps.Keys(t.wrong)) {
		fmt.Printf("  %-50s ×%d\n", why, t.wrong[why])
		for _, ex := range t.examples[why] {
			fmt.Printf("      e.g. %s\n", ex)
		}
	}
	return pass
}

// percentile formats the p-th percentile of ds (see quantile).
func percentile(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "n/a"
	}
	d := quantile(ds, p)
	switch {
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

// recoveryLine says how long after the fault ended the service worked
// again for all of its clients: every worker had had a right answer from
// a request that needs the store, and no answer was 503 any more.
func recoveryLine(f *fault, workers int) string {
	if f.end.IsZero() {
		return "recovery: the fault had not ended"
	}
	var last time.Time
	for _, t := range f.firstOK {
		if t.After(last) {
			last = t
		}
	}
	if len(f.firstOK) < workers {
		return fmt.Sprintf("recovery: only %d of %d clients had a success after the fault before the load ended", len(f.firstOK), workers)
	}
	every := last.Sub(f.end)
	recovered := max(every, f.last503.Sub(f.end), 0)
	return fmt.Sprintf("recovery: %v after the fault ended (every one of the %d clients had a success after %v; the last 503 %v after)",
		recovered.Round(time.Millisecond), workers, every.Round(time.Millisecond), max(f.last503.Sub(f.end), 0).Round(time.Millisecond))
}
