// Command ratios reads the output of the benchmarks of this module (one or
// more interleaved rounds, as bench/run.sh writes them) and prints every
// ratio of issue 7 against its goal, after a table of every scenario's
// medians, both in Markdown:
//
//	go run ./cmd/ratios bench.txt
//
// Each ratio is taken per round, between the two benchmarks of that round
// (the k-th result of one with the k-th of the other), and the table shows
// the median over the rounds (to three decimals, so that a verdict at the
// goal's edge is plain) and their range. A last table applies the rule
// for hand-written code of the issue "A house people can live in": the
// lean JWT verifier must save at least a quarter of a request whose token
// misses the cache, which needs BenchmarkVerifyMiss of package tokens in
// the input beside this module's benchmarks (run.sh runs both in every
// round). A line says met or NOT met;
// a scenario missing from the input is "not measured". With -strict the
// exit status is 1 unless every goal is met.
package main
