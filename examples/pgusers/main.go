// Command pgusers is a small application whose users live in its own
// PostgreSQL and whose sessions live in Redis: the layout most
// applications that adopt authkit have.
//
//	export AUTHKIT_SECRET=$(head -c 32 /dev/urandom | base64)
//	go run ./examples/pgusers adduser alice admin   # reads the password on stdin
//	go run ./examples/pgusers serve                 # on 127.0.0.1:8081
//
// PGUSERS_POSTGRES and PGUSERS_REDIS name the servers (defaults: the
// loopback ones, database test). The users table is created at start
// (sqlstore.Migrate). Changing a user in SQL, such as
//
//	UPDATE authkit_users SET disabled = true WHERE username = 'alice';
//
// takes effect on that user's next request after PostgreSQL's
// notification of it (sqlstore.Cache), a fraction of a millisecond.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/ginauth"
	"github.com/gin-authkit/authkit/store/redisstore"
	"github.com/gin-authkit/authkit/store/sqlstore"
	"github.com/gin-authkit/authkit/tokens"
)

const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
	defaultAddr     = "127.0.0.1:8081"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pgusers:", err)
		os.Exit(1)
	}
}

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: pgusers serve | adduser NAME [ROLE...]")
	}
	app, err := open(ctx, getenv)
	if err != nil {
		return err
	}
	defer app.close()
	switch args[0] {
	case "serve":
		srv := &http.Server{Addr: defaultAddr, Handler: app.engine, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			<-ctx.Done()
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(shut) //nolint:errcheck // best effort at exit
		}()
		fmt.Fprintln(stdout, "pgusers: listening on", defaultAddr)
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case "adduser":
		if len(args) < 2 {
			return errors.New("usage: pgusers adduser NAME [ROLE...]")
		}
		pw, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return app.accounts.CreateUser(ctx, args[1], strings.TrimRight(pw, "\r\n"), args[2:])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// app is the application: its engine, its accounts and its connections.
type app struct {
	engine   *gin.Engine
	accounts *accounts.Manager
	close    func()
}

// open connects to PostgreSQL and Redis as the environment says and
// builds the app.
func open(ctx context.Context, getenv func(string) string) (*app, error) {
	secret := getenv("AUTHKIT_SECRET")
	if len(secret) < 32 {
		return nil, errors.New("AUTHKIT_SECRET must hold at least 32 bytes")
	}
	db, err := sql.Open("pgx", or(getenv("PGUSERS_POSTGRES"), defaultPostgres))
	if err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(or(getenv("PGUSERS_REDIS"), defaultRedis))
	if err != nil {
		db.Close()
		return nil, err
	}
	ropts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(ropts)
	a, err := newApp(ctx, db, rdb, "pgusers:", []byte(secret), slog.Default())
	if err != nil {
		db.Close()
		rdb.Close()
		return nil, err
	}
	closeUsers := a.close
	a.close = func() { closeUsers(); db.Close(); rdb.Close() }
	return a, nil
}

// newApp wires authkit with users in db and sessions in rdb, and mounts
// the routes; the Redis keys start with prefix. tune, if any, changes the
// accounts configuration (tests lower the bcrypt cost).
func newApp(ctx context.Context, db *sql.DB, rdb redis.UniversalClient, prefix string, secret []byte, logger *slog.Logger, tune ...func(*accounts.Config)) (*app, error) {
	if err := sqlstore.Migrate(ctx, db); err != nil {
		return nil, err
	}
	src, err := sqlstore.New(db, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	// The cache answers the per-request user check from memory; LISTEN
	// on the users table tells it of every change, SQL edits included.
	users, err := sqlstore.NewCache(src, sqlstore.CacheOptions{Logger: logger})
	if err != nil {
		return nil, err
	}
	// The sessions' store knows no users: ginauth checks each session's
	// owner against PostgreSQL.
	sessions, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix, ExternalUsers: true})
	if err != nil {
		return nil, err
	}
	key, err := tokens.NewHMACKey("pgusers-1", secret)
	if err != nil {
		return nil, err
	}
	iss, err := tokens.NewIssuer(key, tokens.WithIssuer("pgusers"), tokens.WithAudience("pgusers"))
	if err != nil {
		return nil, err
	}
	ver, err := tokens.NewVerifier([]*tokens.Key{key}, tokens.WithIssuer("pgusers"), tokens.WithAudience("pgusers"))
	if err != nil {
		return nil, err
	}
	// Accounts write to PostgreSQL; with Sessions set, a password change
	// or a disable made through them also frees the Redis sessions and
	// ends the user's device credentials at once.
	acfg := accounts.Config{Users: users, Sessions: sessions, Audit: audit.Log(logger), Logger: logger}
	for _, f := range tune {
		f(&acfg)
	}
	m, err := accounts.New(acfg)
	if err != nil {
		users.Close()
		return nil, err
	}
	auth, err := ginauth.New(ginauth.Config{Store: sessions, Accounts: m, Issuer: iss, Verifier: ver, Logger: logger})
	if err != nil {
		users.Close()
		return nil, err
	}
	r := gin.New()
	rt := auth.Router(r) // every route takes its rule
	rt.GET("/healthz", ginauth.Open(), auth.HealthHandler())
	rt.POST("/auth/login", ginauth.Open(), auth.LoginHandler())
	rt.POST("/auth/refresh", ginauth.Open(), auth.RefreshHandler())
	rt.POST("/auth/logout", ginauth.Open(), auth.LogoutHandler())
	api := rt.Group("/api", ginauth.SignedIn())
	api.GET("/me", ginauth.SignedIn(), func(c *gin.Context) {
		p, _ := ginauth.PrincipalFrom(c)
		c.JSON(http.StatusOK, gin.H{"username": p.Username, "roles": p.Roles})
	})
	api.GET("/admin", ginauth.AnyRole("admin"), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"admin": true})
	})
	if err := rt.Check(); err != nil {
		users.Close()
		return nil, err
	}
	return &app{engine: r, accounts: auth.Accounts(), close: func() { users.Close() }}, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
