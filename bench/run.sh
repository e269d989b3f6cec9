#!/usr/bin/env bash
# Runs the comparative benchmarks of issue 7 interleaved: one round runs
# every benchmark once, and the rounds repeat, so that a slow minute of the
# machine spreads over all scenarios instead of skewing one. Each round
# also runs BenchmarkVerifyMiss of package tokens (the lean verifier and
# golang-jwt on tokens the cache does not hold), for the share of a
# cache-miss request that the lean verifier saves. Then it summarises the
# rounds with benchstat, prints every ratio against its goal (cmd/ratios)
# and measures Redis CPU per request (cmd/rediscpu).
#
#   bash bench/run.sh                       # ROUNDS=6 BENCHTIME=1s
#   ROUNDS=4 BENCHTIME=2s bash bench/run.sh
#
# Needs redis-server (each round's test binary starts a private one; set
# AUTHKIT_BENCH_REDIS=redis://… to use another Redis, under a random key
# prefix). The raw output stays in $OUT (a new temporary directory unless
# set).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

ROUNDS="${ROUNDS:-6}"
BENCHTIME="${BENCHTIME:-1s}"
REQUESTS="${REQUESTS:-20000}"
if ! [[ "$ROUNDS" =~ ^[0-9]+$ ]] || [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 50 ]; then
	echo "run.sh: ROUNDS must be 1 to 50" >&2; exit 2
fi
OUT="${OUT:-$(mktemp -d -t authkit-bench-XXXXXX)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)" # the tokens binary runs from its package's directory

# One binary for every round: the rounds compare the same code even if the
# tree changes meanwhile.
go test -c -o "$OUT/bench.test" .
go test -c -o "$OUT/tokens.test" github.com/gin-authkit/authkit/tokens
: > "$OUT/bench.txt"
for round in $(seq "$ROUNDS"); do
	echo "run.sh: round $round of $ROUNDS (benchtime $BENCHTIME)" >&2
	# Each round is bounded: a hung benchmark fails the run after 10 minutes.
	"$OUT/bench.test" -test.run '^$' -test.bench . -test.benchtime "$BENCHTIME" \
		-test.count 1 -test.benchmem -test.timeout 10m >> "$OUT/bench.txt"
	# From the package's directory, as go test runs it: its tests read
	# testdata/ (the RSA key).
	(cd ../tokens && "$OUT/tokens.test" -test.run '^$' -test.bench '^BenchmarkVerifyMiss$' -test.benchtime "$BENCHTIME" \
		-test.count 1 -test.benchmem -test.timeout 10m) >> "$OUT/bench.txt"
done

echo "## benchstat ($ROUNDS interleaved rounds, benchtime $BENCHTIME)"
go tool benchstat "$OUT/bench.txt"
echo
echo "## Ratios against the goals of issue 7"
go run ./cmd/ratios "$OUT/bench.txt"
echo
echo "## Redis CPU per authenticated request"
go run ./cmd/rediscpu -requests "$REQUESTS"
echo
echo "run.sh: raw benchmark output in $OUT/bench.txt"
