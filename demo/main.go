package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/store"
)

func init() {
	// Debug mode prints every route on standard output; the demo logs
	// through slog instead.
	gin.SetMode(gin.ReleaseMode)
	// go-redis writes its own lines ("failed to dial…") through a global
	// logger, outside slog. Store failures reach the log anyway: ginauth
	// logs each with its cause, and the CLI reports it.
	redis.SetLogger(discardRedisLog{})
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts the graceful shutdown; stop then restores
	// the default behaviour, so a second Ctrl-C ends the process at once.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// Exit codes, documented in the package comment and the README.
const (
	exitOK       = 0
	exitFailure  = 1 // runtime failure: Redis unreachable, server error
	exitUsage    = 2 // bad command line or configuration
	exitRejected = 3 // input rejected: password policy, username, roles
	exitExists   = 4 // the user already exists
	exitNoUser   = 5 // no such user
)

// Error kinds that choose the exit code. They are attached with withKind,
// which leaves the message alone.
var (
	errUsage    = errors.New("usage error")
	errConfig   = errors.New("configuration error")
	errRejected = errors.New("input rejected")
)

// kindError tags err with a kind for exitCode without changing its text.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func withKind(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

// exitCode maps the error returned by run to the process's exit status.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, errConfig):
		return exitUsage
	case errors.Is(err, store.ErrExists):
		return exitExists
	case errors.Is(err, store.ErrNotFound):
		return exitNoUser
	case errors.Is(err, errRejected), errors.Is(err, store.ErrInvalid):
		return exitRejected
	default:
		return exitFailure
	}
}

const usageText = `Usage: demo [command] [flags]

Commands:
  serve       serve HTTP on AUTHKIT_ADDR (the default command)
  useradd     --username NAME [--roles a,b] --password-stdin
  passwd      --username NAME --password-stdin   (revokes every session)
  roles       --username NAME --set a,b
  disable     --username NAME [--enable]
  sessions    --username NAME                    (list live sessions)
  revoke      --username NAME                    (revoke every session)
  totp enroll   --username NAME                  (a pending TOTP factor: prints its otpauth URI and secret)
  totp confirm  --username NAME --code CODE      (activates it: prints the 10 recovery codes, once)
  totp disable  --username NAME                  (removes it and the recovery codes; revokes every session)
  totp code     --username NAME --test           (for tests and demos only: prints the current code)
  totp status   --username NAME
  passkey list   --username NAME                 (ids, names, created, last used)
  passkey revoke --username NAME --id ID         (revokes every session too)
  apikey create  --username NAME [--roles a,b] [--expires DURATION] [--name LABEL]
                                                 (prints the new key, once, on its last line)
  apikey list    --username NAME                 (ids, names, roles, created, expires, last used; no secret)
  apikey revoke  --username NAME --id ID
  apikey rotate  --username NAME --id ID [--overlap DURATION]
                                                 (a successor on the last line; the old key works for the overlap)
  service-account create --username NAME [--roles a,b]
                                                 (a user without a password, for API keys)
  client add    --id ID [--roles a,b] --secret-stdin  (an OAuth client for the client_credentials grant)
  client list                                    (ids, roles, created; never the secrets)
  client remove --id ID                          (its access tokens stop working at once)
  healthcheck GET /healthz on the port of AUTHKIT_ADDR (exit 0 on 200, else 1)
  help        print this text

The user commands work on the Redis named by REDIS_URL. Without REDIS_URL,
serve uses an in-memory store and seeds two users whose passwords it prints.

Environment: REDIS_URL, AUTHKIT_REDIS_MODE (single, sentinel or cluster:
how to read REDIS_URL), AUTHKIT_ADDR (127.0.0.1:8080; :8080 for every
interface), AUTHKIT_SECRET or AUTHKIT_SECRET_FILE (a file holding it; >= 32
bytes, required with Redis), AUTHKIT_ACCESS_TTL (15m), AUTHKIT_REFRESH_TTL
(720h), AUTHKIT_STORE_TIMEOUT (300ms), AUTHKIT_REDIS_WAIT_REPLICAS (0),
AUTHKIT_REALM (authkit-demo), AUTHKIT_BCRYPT_COST (12), AUTHKIT_REDIS_PREFIX
(authkit:), AUTHKIT_LOG_FORMAT (text or json), AUTHKIT_COOKIE_SECURE (unset:
Secure cookies except on plain HTTP to loopback), AUTHKIT_METRICS_ADDR
(unset: no /metrics), AUTHKIT_MFA_KEYS (id:base64 key,...; unset: derived
from the signing key), AUTHKIT_PASSKEY_RP_ID (localhost),
AUTHKIT_PASSKEY_ORIGINS (http://localhost:<port of AUTHKIT_ADDR>).

Usernames are compared in lower case: --username Alice names alice.

totp enroll, confirm and code need the server's AUTHKIT_MFA_KEYS or signing
key (AUTHKIT_SECRET, AUTHKIT_SECRET_FILE or AUTHKIT_SIGNING_KEY_FILE).

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error,
3 input rejected (wrong code, a key role the owner lacks, a disabled
owner included), 4 user (or active TOTP factor) exists, 5 no such user
(or factor, or passkey, or API key) (healthcheck: 0 or 1 only).
`

// run is the whole program. It reads nothing global: arguments,
// environment and streams are parameters, and ctx ends the server. An
// error is reported on stderr before it is returned; exitCode turns it
// into the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	defer func() {
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			// One line per problem (loadConfig reports them all at once).
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(stderr, "demo: %s\n", line)
			}
		}
	}()
	cmd, rest := "serve", args
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "help":
		fmt.Fprint(stdout, usageText)
		return nil
	case "serve":
		fs := newFlagSet("serve", stderr)
		// serve has no flags: demo -h (serve is the default command) and
		// demo serve -h show the command list.
		fs.Usage = func() { fmt.Fprint(stderr, usageText) }
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		cfg, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	}
	c, ok := commands[cmd]
	if !ok {
		return withKind(errUsage, "unknown command %q (see demo help)", cmd)
	}
	return c(ctx, rest, getenv, stdin, stdout, stderr)
}

// newFlagSet returns a flag set that reports errors instead of exiting.
// Its name is the command's alone: run prefixes every error with "demo: ".
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: demo %s %s\n", name, synopsis[name])
		fs.PrintDefaults()
	}
	return fs
}

// synopsis is the one-line usage of each command.
var synopsis = map[string]string{
	"serve":                  "(configured by the environment; see demo help)",
	"useradd":                "--username NAME [--roles a,b] --password-stdin",
	"passwd":                 "--username NAME --password-stdin",
	"roles":                  "--username NAME --set a,b",
	"disable":                "--username NAME [--enable]",
	"sessions":               "--username NAME",
	"revoke":                 "--username NAME",
	"totp enroll":            "--username NAME",
	"totp confirm":           "--username NAME --code CODE",
	"totp disable":           "--username NAME",
	"totp code":              "--username NAME --test   (tests and demos only)",
	"totp status":            "--username NAME",
	"passkey list":           "--username NAME",
	"passkey revoke":         "--username NAME --id ID",
	"apikey create":          "--username NAME [--roles a,b] [--expires DURATION] [--name LABEL]",
	"apikey list":            "--username NAME",
	"apikey revoke":          "--username NAME --id ID",
	"apikey rotate":          "--username NAME --id ID [--overlap DURATION]",
	"service-account create": "--username NAME [--roles a,b]",
	"client add":             "--id ID [--roles a,b] --secret-stdin",
	"client list":            "",
	"client remove":          "--id ID",
	"healthcheck":            "(reads AUTHKIT_ADDR; exit 0 when GET /healthz answers 200, else 1)",
}

// parseFlags parses args and rejects positional arguments, which are
// always a mistake here.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return withKind(errUsage, "%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return withKind(errUsage, "%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
