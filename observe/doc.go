// Package observe is the instrumentation interface of authkit: the
// operations ginauth times and the outcomes it reports, for metrics and
// traces, without tying the library to a metrics or tracing system.
//
// An [Observer] is told when an operation begins and how it ended:
// authentication of a request, login, refresh, logout, each store call
// made on the request path, and the password check (the wait for a
// hashing slot apart from the comparison itself). It returns the context
// the operation continues in, so that a tracer's span becomes the parent
// of the store calls made within it. An Observer that also implements
// [EventObserver] receives every audit event as well (logins, reuse,
// locks, device credentials): counters of those need no hook of their
// own.
//
// Gauges are not pushed: they are read when a metrics system asks, from
// methods that cost nothing while nobody calls them:
// (*ginauth.Auth).PasswordSlots for the hashing slots,
// (*redisstore.Store).CacheStats and (*sqlstore.Cache).CacheStats for the
// local caches.
//
// Set an Observer as ginauth.Config.Observer. Without one, the library
// makes a single nil check per operation and nothing else. Two
// implementations ship in their own packages, so that an application that
// uses neither never imports their dependencies: telemetry/authprom
// (Prometheus metrics) and telemetry/authotel (OpenTelemetry traces);
// [Join] combines them.
//
// Nothing an Observer receives is secret: operations are named by
// constants, results carry an HTTP status and bounded error and reason
// codes, and audit events carry no password, token or cookie.
package observe
