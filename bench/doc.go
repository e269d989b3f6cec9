// Package bench compares authkit with the other ways a Gin service
// authenticates requests against Redis, each mounted as a [Target] on its
// own engine and driven through engine.ServeHTTP:
//
//   - floor: bare gin, the same handler without authentication;
//   - gin-jwt: github.com/appleboy/gin-jwt/v2 with HS256, stateless;
//   - sessions-redis: github.com/gin-contrib/sessions with its Redis store;
//   - limit: the one-round-trip limit written by hand, an HS256 token
//     verified with golang-jwt and one HGETALL of a session hash, the
//     least any session-checking middleware on Redis can do;
//   - authkit-stateless, authkit-session, authkit-session-roles and
//     authkit-cached: ginauth.Required (and RequireRoles) in each mode;
//   - authkit-session-metrics: authkit-session observed by
//     telemetry/authprom, the price of the metrics when they are on;
//   - authkit-stateless-miss: authkit-stateless with 100,000 clients, each
//     with a token of its own, far more than the verifier's cache holds,
//     so that every request verifies its token in full. (gin-jwt has no
//     such cache: its scenario is already the miss case.)
//
// The benchmarks are in bench_test.go; run.sh runs them interleaved, with
// BenchmarkVerifyMiss of package tokens, and cmd/ratios prints each ratio
// against the goal of issue 7 and the share of a cache-miss request that
// the lean JWT verifier saves. The module is separate from authkit's so
// that the peers never enter the library's go.mod.
package bench
