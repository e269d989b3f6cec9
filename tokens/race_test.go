//go:build race

package tokens_test

// raceEnabled: the race detector's instrumentation allocates, so counts of
// allocations mean nothing under it.
const raceEnabled = true
