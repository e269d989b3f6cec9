package redisstore_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/internal/testredis"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// TestReadCommandStats measures what the per-request read costs the
// Redis server, on a private one: 10,000 reads of a session whose last
// use is recent, and 10,000 plain HGETALLs of the same hash for
// comparison, in alternating rounds of 1,000 after CONFIG RESETSTAT, so
// that a burst of load from elsewhere on the machine spoils a round, not
// the result. INFO commandstats must show one HMGET per read, no script,
// no write, and (median of the rounds) an HMGET that costs at most twice
// an HGETALL.
func TestReadCommandStats(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED: -short: this test starts a private redis-server")
	}
	const rounds, perRound = 10, 1000
	srv := testredis.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	f := newFixtureOn(t, rdb, "authkit:", redisstore.Options{})
	id, _ := f.session(t)
	ctx := context.Background()
	measure := func(call func() error) map[string]cmdStat {
		t.Helper()
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		for range perRound {
			if err := call(); err != nil {
				t.Fatal(err)
			}
		}
		return commandStats(t, rdb)
	}
	var hmget, hgetall []float64
	for range rounds {
		reads := measure(func() error { _, err := f.s.Session(ctx, "alice", id); return err })
		for name, st := range reads {
			switch name {
			case "hmget":
				if st.calls != perRound {
					t.Errorf("%d reads made %d HMGETs, want %d", perRound, st.calls, perRound)
				}
			case "config|resetstat":
			default:
				t.Errorf("%d reads sent %s %d times, want only HMGET", perRound, name, st.calls)
			}
		}
		hmget = append(hmget, reads["hmget"].usec)
		all := measure(func() error { return rdb.HGetAll(ctx, f.key("s")).Err() })
		hgetall = append(hgetall, all["hgetall"].usec)
	}
	h, a := median(hmget), median(hgetall)
	t.Logf("usec_per_call, median of %d rounds of %d: Session's HMGET %.2f µs, plain HGETALL of the same hash %.2f µs (rounds: %v, %v)",
		rounds, perRound, h, a, hmget, hgetall)
	if h > 2*a {
		t.Errorf("HMGET costs %.2f µs per call, more than twice the %.2f of HGETALL", h, a)
	}

	// For the record, what a read that records a use adds (at most once
	// per touch interval per session): a store that touches every read.
	always, err := redisstore.New(rdb, redisstore.Options{Prefix: "authkit:", Now: f.clock.Now, TouchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var touch []float64
	for range rounds {
		st := measure(func() error {
			f.clock.Advance(time.Millisecond)
			_, err := always.Session(ctx, "alice", id)
			return err
		})
		touch = append(touch, st["evalsha"].usec)
	}
	t.Logf("a read that records a use adds one EVALSHA of %.2f µs (median usec_per_call)", median(touch))
}

// median returns the median of xs, which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// cmdStat is one line of INFO commandstats.
type cmdStat struct {
	calls int64
	usec  float64 // per call
}

// commandStats reads INFO commandstats, by lower-case command name.
func commandStats(t *testing.T, rdb *redis.Client) map[string]cmdStat {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cmdStat{}
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(line, ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		var st cmdStat
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				st.calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec_per_call":
				st.usec, _ = strconv.ParseFloat(v, 64)
			}
		}
		m[strings.ToLower(name)] = st
	}
	return m
}
