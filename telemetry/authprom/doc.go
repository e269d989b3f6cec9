// Package authprom records authkit's Prometheus metrics: counters of
// authentication outcomes, logins, refreshes, logouts, reuse detections,
// throttle locks and refusals, device credentials and evicted sessions;
// histograms of the authentication of a request, of each store call and
// of the password check (the wait for a hashing slot apart from the
// comparison); and gauges of the hashing slots and of the local caches
// (entries, hits, misses, hit ratio, health), read at scrape time.
//
// It lives apart from ginauth so that an application that does not use
// Prometheus never imports it. [New] registers the metrics with the
// prometheus.Registerer the application passes; the [Metrics] it returns
// is an observe.EventObserver for ginauth.Config.Observer (combine it
// with a tracer through observe.Join). Gauges need their sources, known
// only once they are built: [Metrics.WatchPasswordSlots] with the
// *ginauth.Auth, [Metrics.WatchCache] with a *redisstore.Store that has a
// local cache or a *sqlstore.Cache.
//
// Names follow Prometheus conventions: the authkit_ prefix, _total for
// counters, _seconds for durations. Labels take values from bounded sets
// only (statuses, error and reason codes, store method names, cache
// names): never a username, token, address or session. The operations
// guide (docs/OPERATIONS.md) lists every metric.
package authprom
