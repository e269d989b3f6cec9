package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/telemetry/authprom"
)

// Server timeouts: slow clients cannot hold connections open for ever.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
	// shutdownTimeout bounds the graceful shutdown: requests in flight
	// get this long to finish.
	shutdownTimeout = 10 * time.Second
	// startupPingTimeout bounds the check of Redis at start.
	startupPingTimeout = 2 * time.Second
)

// seedUsers are created, with random passwords, in memory mode.
var seedUsers = []struct {
	name  string
	roles []string
}{
	{"alice", []string{"admin", "user"}},
	{"bob", []string{"user"}},
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serve runs the HTTP server until ctx ends, then shuts it down
// gracefully. Logs go to stderr; stdout gets, in memory mode, the seeded
// users' passwords, once, and then the address. The port is bound before
// the users are seeded: a demo that cannot listen prints no password.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logger := newLogger(cfg, stderr)

	var (
		st   store.Store
		mode string
	)
	if cfg.redis != nil {
		if cfg.secret == nil && cfg.signingKey == nil {
			return withKind(errConfig, "%s, %s or %s is required with %s: every replica must sign and verify with the same key (generate one with: openssl rand -base64 32)", envSecret, envSecretFile, envSigningKey, envRedisURL)
		}
		client, rs, err := openRedis(cfg, logger)
		if err != nil {
			return err
		}
		defer client.Close()
		st, mode = rs, "redis"
		checkRedis(ctx, cfg, rs, logger)
	} else {
		st, mode = openMemory(), "memory"
		if cfg.secret == nil && cfg.signingKey == nil {
			logger.Warn("none of AUTHKIT_SECRET, AUTHKIT_SECRET_FILE, AUTHKIT_SIGNING_KEY_FILE is set: using a random key, so tokens die with this process")
		}
	}

	var (
		reg   *prometheus.Registry
		prom  *authprom.Metrics
		obs   observe.Observer
		mserv *metricsServer
	)
	if cfg.MetricsAddr != "" {
		var err error
		if reg, prom, err = newPrometheus(); err != nil {
			return err
		}
		obs = prom
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("%s: cannot listen on %s: %w", envAddr, cfg.Addr, err)
	}
	if cfg.PasskeyOrigins == nil {
		// AUTHKIT_ADDR's port was 0: the passkeys' origin is the port the
		// listener got.
		cfg.PasskeyOrigins = []string{"http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
	}
	auth, err := newAuth(cfg, st, logger, obs)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.testCost() {
		logger.Warn("AUTHKIT_BCRYPT_COST is below 10: fine for tests, too cheap for real passwords", "cost", cfg.BcryptCost)
	}

	app := newApp(auth, logger, mode)
	if prom != nil {
		if mserv, err = startMetrics(cfg, reg, prom, auth, logger); err != nil {
			ln.Close()
			return err
		}
	}
	// Connections that arrive while the users are seeded wait in the
	// listen backlog; Serve takes them once the users exist.
	if mode == "memory" {
		if err := seed(ctx, auth, stdout); err != nil {
			ln.Close()
			return errors.Join(err, mserv.stop(context.Background()))
		}
		logger.Info("seeded demo users", "users", "alice,bob")
	}
	srv := &http.Server{
		Handler:           app.engine,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	url := "http://" + displayAddr(ln.Addr())
	// The configuration in force, defaults filled in by the library.
	ec := auth.Config()
	hasher := fmt.Sprintf("%+v", auth.Accounts().Config().Hasher)
	logger.Info("listening", "addr", ln.Addr().String(), "store", mode, "realm", ec.Realm,
		"access_ttl", ec.Issuer.TTL().String(), "refresh_ttl", ec.Sessions.Lifetime.String(),
		"idle_timeout", ec.Sessions.IdleTimeout.String(), "max_sessions", ec.Sessions.MaxPerUser,
		"store_timeout", ec.StoreTimeout.String(), "wait_replicas", cfg.WaitReplicas,
		"password_slots", ec.Throttle.PasswordConcurrency, "hasher", hasher)
	fmt.Fprintf(stdout, "authkit demo listening on %s/ (store: %s)\n", url, mode)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(fmt.Errorf("server: %w", err), mserv.stop(context.Background()))
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	err = errors.Join(err, mserv.stop(sctx))
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// checkRedis looks at Redis once at start: whether it answers, then
// whether it may evict keys. Neither stops the server: Redis may come up
// later (compose, restarts), meanwhile /healthz and authenticated routes
// answer 503; and a policy other than noeviction is logged as a warning by
// the store itself.
func checkRedis(ctx context.Context, cfg config, rs *redisstore.Store, logger *slog.Logger) {
	pctx, cancel := context.WithTimeout(ctx, startupPingTimeout)
	defer cancel()
	if err := rs.Ping(pctx); err != nil {
		logger.Warn("redis does not answer yet; /healthz answers 503 until it does",
			"redis", redisTarget(cfg.redis), "err", err)
		return
	}
	ectx, ecancel := context.WithTimeout(ctx, startupPingTimeout)
	defer ecancel()
	if err := rs.CheckEviction(ectx); err != nil && !errors.Is(err, redisstore.ErrEvictionPolicy) {
		logger.Warn("cannot read redis's maxmemory-policy; make sure it is noeviction",
			"redis", redisTarget(cfg.redis), "err", err)
	}
}

// seed creates the demo users with random passwords and prints them once.
func seed(ctx context.Context, auth *ginauth.Auth, stdout io.Writer) error {
	fmt.Fprintln(stdout, "Demo users (in-memory store; the passwords are shown only this once):")
	for _, u := range seedUsers {
		pw := randomPassword()
		if err := auth.Accounts().CreateUser(ctx, u.name, pw, u.roles); err != nil {
			return fmt.Errorf("seeding %s: %w", u.name, err)
		}
		fmt.Fprintf(stdout, "  %-6s password %s  roles %s\n", u.name, pw, joinRoles(u.roles))
	}
	return nil
}

// randomPassword returns 128 random bits as 22 URL-safe characters.
func randomPassword() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: since Go 1.24 it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// displayAddr turns a listener address into one a browser can open: an
// unspecified host becomes localhost, where the session cookie may go
// without the Secure flag.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
