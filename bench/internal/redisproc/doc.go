// Package redisproc runs a private redis-server on a loopback port, for
// the benchmarks and tools of this module: a server they may pause, kill,
// restart and reset statistics on without disturbing anyone else's Redis.
package redisproc
