// Command rediscpu measures the Redis CPU that one authenticated request
// costs in authkit's session mode, against the one plain HGETALL of the
// hand-written one-round-trip limit; the goal of issue 7 is at most 2×.
//
//	go run ./cmd/rediscpu -requests 20000
//
// It starts a private redis-server (it resets its statistics, which no
// shared server should suffer), and for each scenario logs the users in,
// warms up, runs CONFIG RESETSTAT, sends the requests through the
// target's engine one after another, and reads INFO commandstats and INFO
// cpu. The Redis CPU of a request is the usec that commandstats gives the
// commands the target's clients sent (a go-redis hook records their
// names; a script's usec includes the commands it calls), divided by the
// number of requests. The
// server's whole CPU (used_cpu_user + used_cpu_sys, network I/O included)
// per request is shown beside it.
package main
