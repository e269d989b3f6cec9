package authprom

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
)

// Metrics records authkit's metrics. It is an observe.EventObserver: set
// it as ginauth.Config.Observer. Its methods are safe for concurrent use.
type Metrics struct {
	reg prometheus.Registerer

	requests     map[observe.Op]*prometheus.CounterVec
	authDuration prometheus.Histogram
	storeTime    *prometheus.HistogramVec
	passwordWait *prometheus.HistogramVec
	passwordHash *prometheus.HistogramVec
	reuse        prometheus.Counter
	locks        *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	devices      *prometheus.CounterVec
	evicted      prometheus.Counter
}

var _ observe.EventObserver = (*Metrics)(nil)

// Buckets of the histograms, in seconds: authentication and store calls
// take well under a millisecond to tens of milliseconds; a password check
// takes tens to hundreds of milliseconds, and its wait up to
// Throttle.PasswordWait.
var (
	fastBuckets     = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	passwordBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
)

// New creates authkit's metrics and registers them with reg (such as
// prometheus.DefaultRegisterer or a prometheus.NewRegistry of the
// application's). It fails when reg already holds metrics of the same
// names.
func New(reg prometheus.Registerer) (*Metrics, error) {
	outcome := []string{"status", "code", "reason"}
	m := &Metrics{
		reg: reg,
		requests: map[observe.Op]*prometheus.CounterVec{
			observe.Authenticate: counterVec("authentications_total", "Request authentications by the middleware, by the status and error code they are answered with (code ok on success) and reason (none when there is no refinement).", outcome...),
			observe.Login:        counterVec("logins_total", "Password logins (login handler and token endpoint), by status, error code and reason.", outcome...),
			observe.Refresh:      counterVec("refreshes_total", "Refresh-token rotations (refresh handler and token endpoint), by status, error code and reason (reused: a reuse detection).", outcome...),
			observe.Logout:       counterVec("logouts_total", "Logouts of one session, by status, error code and reason.", outcome...),
			observe.LogoutAll:    counterVec("logout_all_total", "Logouts of every session of a user, by status, error code and reason.", outcome...),
		},
		authDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "authkit", Name: "authentication_duration_seconds",
			Help: "Time the middleware took to authenticate a request, store round trips included.", Buckets: fastBuckets}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "authkit", Name: "store_operation_duration_seconds",
			Help: "Time of each store call made on the request path, by store method and result (ok, not_found, error).", Buckets: fastBuckets},
			[]string{"operation", "result"}),
		passwordWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "authkit", Name: "password_wait_seconds",
			Help: "Time a password check waited for a hashing slot, by result (ok, busy, canceled).", Buckets: passwordBuckets},
			[]string{"result"}),
		passwordHash: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "authkit", Name: "password_hash_seconds",
			Help: "Time of a password check once a slot was held (user read and hash comparison), by result (ok, invalid_credentials, unavailable).", Buckets: passwordBuckets},
			[]string{"result"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "authkit", Name: "refresh_reuse_total",
			Help: "Reuse detections: a rotated refresh token presented again past the grace period; its session was revoked."}),
		locks:     counterVec("throttle_locks_total", "Throttle counters that reached their limit, by counter (pair, address, account, device).", "counter"),
		throttled: counterVec("throttled_total", "Requests answered 429 by the throttle, by reason.", "reason"),
		devices:   counterVec("device_credentials_total", "Device-credential events, by event (issued, used, revoked).", "event"),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "authkit", Name: "sessions_evicted_total",
			Help: "Sessions ended to make room for a login past Sessions.MaxPerUser."}),
	}
	cs := []prometheus.Collector{m.authDuration, m.storeTime, m.passwordWait, m.passwordHash, m.reuse, m.locks, m.throttled, m.devices, m.evicted}
	for _, c := range m.requests {
		cs = append(cs, c)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "authkit", Name: name, Help: help}, labels)
}

// Begin implements observe.Observer: it times op and counts its outcome.
func (m *Metrics) Begin(ctx context.Context, op observe.Op) (context.Context, observe.End) {
	start := time.Now()
	return ctx, func(r observe.Result) { m.end(op, r, time.Since(start).Seconds()) }
}

func (m *Metrics) end(op observe.Op, r observe.Result, seconds float64) {
	if c, ok := m.requests[op]; ok {
		c.WithLabelValues(strconv.Itoa(r.Status), orDefault(r.Code, "ok"), orDefault(r.Reason, "none")).Inc()
	}
	switch {
	case op == observe.Authenticate:
		m.authDuration.Observe(seconds)
	case op == observe.PasswordWait:
		m.passwordWait.WithLabelValues(orDefault(r.Code, "ok")).Observe(seconds)
	case op == observe.PasswordHash:
		m.passwordHash.WithLabelValues(orDefault(r.Code, "ok")).Observe(seconds)
	case strings.HasPrefix(string(op), observe.StorePrefix):
		name := strings.TrimPrefix(string(op), observe.StorePrefix)
		m.storeTime.WithLabelValues(name, orDefault(r.Code, "ok")).Observe(seconds)
	}
}

// Event implements observe.EventObserver: it counts reuse detections,
// throttle locks and refusals, device credentials and evicted sessions.
func (m *Metrics) Event(_ context.Context, e audit.Event) {
	switch e.Kind {
	case audit.RefreshReused:
		m.reuse.Inc()
	case audit.Locked:
		m.locks.WithLabelValues(e.Reason).Inc()
	case audit.Throttled:
		m.throttled.WithLabelValues(orDefault(e.Reason, "none")).Inc()
	case audit.DeviceIssued:
		m.devices.WithLabelValues("issued").Inc()
	case audit.DeviceUsed:
		m.devices.WithLabelValues("used").Inc()
	case audit.DeviceRevoked:
		m.devices.WithLabelValues("revoked").Inc()
	case audit.SessionEvicted:
		m.evicted.Inc()
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
