// Package redisproc runs a private redis-server on a loopback port, for
// the tests (through internal/testredis), the benchmarks and the tools of
// authkit: a server they may pause, kill, restart and reset statistics on
// without disturbing anyone else's Redis.
package redisproc
