// Package authotel traces authkit with OpenTelemetry: a span for each
// authentication of a request (authkit.authenticate), login
// (authkit.login), refresh (authkit.refresh), logout (authkit.logout,
// authkit.logout_all), password step (authkit.password_wait,
// authkit.password_hash) and store call (authkit.store.<Method>), each a
// child of the span in the request's context, so that an application's
// HTTP instrumentation (such as otelgin) becomes their parent.
//
// Spans carry the outcome as attributes (authkit.outcome,
// authkit.status, authkit.code, authkit.reason, and db.operation.name
// for store calls) and the audit events recorded during them as span
// events; never a password, token, cookie, username or address. Only a
// failure to decide (a 503, a store error, no hashing slot) marks a span
// as an error: a 401 is the library doing its work.
//
// It lives apart from ginauth so that an application that does not use
// OpenTelemetry never imports it. [New] returns a [Tracer], an
// observe.EventObserver for ginauth.Config.Observer (combine it with
// telemetry/authprom through observe.Join). The operations guide
// (docs/OPERATIONS.md) lists the spans.
package authotel
