// Command loadtest drives the demo with a realistic mix of requests on
// loopback while it injects faults into the demo's Redis, checks every
// answer against what it must be, and exits non-zero when one is wrong.
//
//	go run ./cmd/loadtest -duration 30s
//
// It builds the demo (or takes -demo), starts a private redis-server on a
// free loopback port and the demo against it, creates the users with the
// demo's CLI, and lets -users simulated users, each from its own loopback
// address, log in, call /api/me, refresh, log out and in again, call an
// admin route (403 for those without the role) and /healthz, and send
// garbage (no, forged, foreign-key and tampered tokens, unknown paths,
// wrong methods, broken JSON, forged refresh tokens, wrong passwords).
// Meanwhile it pauses every Redis client for 2 s (CLIENT PAUSE 2000 ALL),
// closes the demo's connections (CLIENT KILL TYPE normal), and kills and
// restarts redis-server; that server keeps nothing on disk, so after the
// restart the tool creates the users again and the clients log in again.
//
// Pass criteria, all checked:
//   - no success for a request that must not succeed;
//   - no 401 for a valid session, except one a restart destroyed (its
//     login started before the restart);
//   - 503 only for requests that need the store, only with code
//     unavailable and Retry-After, and only during a fault or within 2 s
//     after it ends; every request that needs no store gets its normal
//     answer even during a fault;
//   - every request gets an answer (within 5 s);
//   - the demo's goroutines (read from GET /api/admin/stats) come back
//     to at most 10 above their number before the load, once the
//     clients have closed their connections.
//
// Everything is bounded: -duration, -max-requests, and a timeout on every
// request, process start and CLI call. The tool stops what it started.
package main
