package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/telemetry/authprom"
)

// newPrometheus returns a registry with the Go runtime's and the
// process's metrics and authkit's, whose Metrics observe the Auth.
func newPrometheus() (*prometheus.Registry, *authprom.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := authprom.New(reg)
	return reg, m, err
}

// metricsServer serves reg at /metrics on its own listener, apart from
// the API: a scraper needs no route through the API's middleware, and
// the API's port exposes no metrics.
type metricsServer struct {
	srv  *http.Server
	errc chan error
}

// startMetrics listens on cfg.MetricsAddr and serves reg, with the
// gauges of auth's password slots read at each scrape.
func startMetrics(cfg config, reg *prometheus.Registry, m *authprom.Metrics, auth *ginauth.Auth, logger *slog.Logger) (*metricsServer, error) {
	if err := m.WatchPasswordSlots(auth); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s: %w", envMetricsAddr, cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errLog, Registry: reg}))
	ms := &metricsServer{errc: make(chan error, 1), srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes, ErrorLog: errLog,
	}}
	go func() { ms.errc <- ms.srv.Serve(ln) }()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return ms, nil
}

// stop shuts the metrics server down within ctx.
func (ms *metricsServer) stop(ctx context.Context) error {
	if ms == nil {
		return nil
	}
	err := ms.srv.Shutdown(ctx)
	if serr := <-ms.errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
