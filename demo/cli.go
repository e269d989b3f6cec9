package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/store/redisstore"
)

// Bounds of a user command: the ping that tells an unreachable Redis
// apart, and the whole command (bcrypt at cost 16 takes seconds).
const (
	cliPingTimeout    = 5 * time.Second
	cliCommandTimeout = 60 * time.Second
	// maxPasswordInput caps what --password-stdin reads.
	maxPasswordInput = 1024
)

type command func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// commands are the user commands and healthcheck; serve and help are
// handled by run.
var commands = map[string]command{
	"useradd":         cmdUseradd,
	"passwd":          cmdPasswd,
	"roles":           cmdRoles,
	"disable":         cmdDisable,
	"sessions":        cmdSessions,
	"revoke":          cmdRevoke,
	"totp":            cmdTOTP,
	"passkey":         cmdPasskey,
	"apikey":          cmdAPIKey,
	"client":          cmdClient,
	"service-account": cmdServiceAccount,
	"healthcheck":     cmdHealthcheck,
}

// cliEnv is what a user command works with.
type cliEnv struct {
	cfg    config
	client redis.UniversalClient
	store  *redisstore.Store
	// logger writes to stderr, in AUTHKIT_LOG_FORMAT: the audit events of
	// password changes and of disabling or enabling a user.
	logger *slog.Logger
}

// openCLI reads the configuration and opens the Redis store. It does not
// contact Redis; connect does.
func openCLI(getenv func(string) string, stderr io.Writer) (*cliEnv, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.redis == nil {
		return nil, withKind(errConfig, "%s is not set: the user commands manage the users kept in Redis "+
			"(without Redis, demo serve seeds its own users in memory)", envRedisURL)
	}
	logger := newLogger(cfg, stderr)
	client, st, err := openRedis(cfg, logger)
	if err != nil {
		return nil, err
	}
	return &cliEnv{cfg: cfg, client: client, store: st, logger: logger}, nil
}

func (e *cliEnv) Close() { _ = e.client.Close() }

// connect checks that Redis answers, so that an unreachable server gets a
// clear message rather than the error of whichever command came first.
func (e *cliEnv) connect(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, cliPingTimeout)
	defer cancel()
	if err := e.store.Ping(pctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("cannot reach Redis at %s from %s: no answer within %v", redisTarget(e.cfg.redis), envRedisURL, cliPingTimeout)
		}
		return fmt.Errorf("cannot reach Redis at %s from %s: %w", redisTarget(e.cfg.redis), envRedisURL, err)
	}
	return nil
}

// accounts builds the account service for the commands that set
// passwords, disable users or manage their factors. It needs no Auth:
// the CLI issues no tokens, but the factors' keys derive from the
// signing key, so the CLI needs the server's key.
func (e *cliEnv) accounts() (*accounts.Manager, error) {
	key, err := signingKey(e.cfg)
	if err != nil {
		return nil, err
	}
	issuer, _, err := newIssuer(e.cfg, key)
	if err != nil {
		return nil, err
	}
	return newAccounts(e.cfg, e.store, issuer, e.logger)
}

// userFlag declares --username and returns a function that checks it and
// returns its canonical form (store.CanonicalUsername: "Alice" is
// "alice"), the one name every command then works on.
func userFlag(fs *flag.FlagSet) func() (string, error) {
	name := fs.String("username", "", "the user's name (required; compared in lower case)")
	return func() (string, error) {
		if *name == "" {
			return "", withKind(errUsage, "%s: --username is required", fs.Name())
		}
		canonical, err := store.CanonicalUsername(*name)
		if err != nil {
			return "", &kindError{kind: errRejected, err: fmt.Errorf("invalid username: %w", err)}
		}
		return canonical, nil
	}
}

// parseRoles splits a comma-separated list; "" is no roles. Empty items
// ("a,,b") are kept so that validation names them.
func parseRoles(s string) []string {
	if strings.TrimSpace(s) == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

func checkRoles(roles []string) error {
	if err := store.ValidateRoles(roles); err != nil {
		return &kindError{kind: errRejected, err: fmt.Errorf("invalid roles: %w", err)}
	}
	return nil
}

// readPassword reads the password from standard input: one line, up to
// its line break (the final line break optional), so a password typed at
// a terminal needs only Enter. Further lines that arrive with the first
// one (a piped file of several lines) are refused rather than ignored.
//
// The read is bounded by ctx (the command's deadline, or the interrupt
// signal). It runs in a goroutine, since a read cannot be cancelled; when
// ctx ends first, that goroutine stays blocked until stdin delivers or is
// closed, which happens at the latest when the process exits.
func readPassword(ctx context.Context, stdin io.Reader) (string, error) {
	if stdin == nil {
		return "", nil
	}
	type result struct {
		line  string
		extra bool
		err   error
	}
	done := make(chan result, 1) // buffered: an abandoned read does not block
	go func() {
		br := bufio.NewReader(io.LimitReader(stdin, maxPasswordInput+1))
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			err = nil
		}
		done <- result{line: line, extra: br.Buffered() > 0, err: err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", fmt.Errorf("no password on standard input within %v", cliCommandTimeout)
		}
		return "", fmt.Errorf("reading the password from standard input: %w", ctx.Err())
	}
	if r.err != nil {
		return "", fmt.Errorf("reading the password from standard input: %w", r.err)
	}
	if len(r.line) > maxPasswordInput {
		return "", withKind(errRejected, "password rejected: standard input holds more than %d bytes, and bcrypt uses at most %d", maxPasswordInput, accounts.MaxPasswordBytes)
	}
	s := strings.TrimSuffix(r.line, "\n")
	s = strings.TrimSuffix(s, "\r")
	if r.extra || strings.ContainsRune(s, '\r') {
		return "", withKind(errRejected, "password rejected: standard input holds more than one line; send the password alone")
	}
	return s, nil
}

// checkPassword applies the kit's password policy with messages for
// people.
func checkPassword(m *accounts.Manager, pw string) error {
	err := m.ValidatePassword(pw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, accounts.ErrPasswordEmpty):
		return withKind(errRejected, "password rejected: standard input was empty; pipe the password in, e.g. printf '%%s' \"$PASSWORD\" | demo ...")
	case errors.Is(err, accounts.ErrPasswordTooLong):
		return withKind(errRejected, "password rejected: it is %d bytes long, but bcrypt uses at most %d bytes and would silently ignore the rest; choose a shorter one", len(pw), accounts.MaxPasswordBytes)
	case errors.Is(err, accounts.ErrPasswordTooShort):
		return withKind(errRejected, "password rejected: too weak: %d characters, at least %d required", utf8.RuneCountInString(pw), m.Config().MinPasswordLength)
	case errors.Is(err, accounts.ErrPasswordEncoding):
		return withKind(errRejected, "password rejected: it is not valid UTF-8")
	default:
		return &kindError{kind: errRejected, err: fmt.Errorf("password rejected: %w", err)}
	}
}

// storeError turns a store error into a message for people; the kind of
// the original error still chooses the exit code.
func storeError(err error, username string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &kindError{kind: store.ErrNotFound, err: fmt.Errorf("no user %q", username)}
	case errors.Is(err, store.ErrExists):
		return &kindError{kind: store.ErrExists, err: fmt.Errorf("user %q already exists", username)}
	case errors.Is(err, store.ErrInvalid):
		return &kindError{kind: store.ErrInvalid, err: fmt.Errorf("rejected: %w", err)}
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("redis did not answer in time: %w", err)
	default:
		return fmt.Errorf("redis: %w", err)
	}
}

// userCommand is the frame of every user command: parse flags, open the
// store, run body with a bounded context.
func userCommand(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer,
	declare func(fs *flag.FlagSet) func(ctx context.Context, env *cliEnv) error) error {
	fs := newFlagSet(name, stderr)
	body := declare(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	env, err := openCLI(getenv, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	ctx, cancel := context.WithTimeout(ctx, cliCommandTimeout)
	defer cancel()
	return body(ctx, env)
}

// requireStdin refuses a password command without --password-stdin:
// passwords are never taken from the command line.
func requireStdin(cmd string, set bool) error {
	if !set {
		return withKind(errUsage, "%s: --password-stdin is required: passwords are never taken from the command line, where ps and shell history would see them", cmd)
	}
	return nil
}

// newPassword reads a password from stdin, checks it against the policy,
// and connects to Redis, in that order: bad input fails before any
// network traffic.
func (env *cliEnv) newPassword(ctx context.Context, stdin io.Reader) (*accounts.Manager, string, error) {
	accounts, err := env.accounts()
	if err != nil {
		return nil, "", err
	}
	pw, err := readPassword(ctx, stdin)
	if err != nil {
		return nil, "", err
	}
	if err := checkPassword(accounts, pw); err != nil {
		return nil, "", err
	}
	if err := env.connect(ctx); err != nil {
		return nil, "", err
	}
	return accounts, pw, nil
}

func cmdUseradd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "useradd", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		rolesFlag := fs.String("roles", "", "comma-separated roles, e.g. admin,user (default: none)")
		pwStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			if err := requireStdin("useradd", *pwStdin); err != nil {
				return err
			}
			roles := parseRoles(*rolesFlag)
			if err := checkRoles(roles); err != nil {
				return err
			}
			accounts, pw, err := env.newPassword(ctx, stdin)
			if err != nil {
				return err
			}
			if err := accounts.CreateUser(ctx, name, pw, roles); err != nil {
				return storeError(err, name)
			}
			fmt.Fprintf(stdout, "created user %s (roles: %s)\n", name, joinRoles(roles))
			return nil
		}
	})
}

func cmdPasswd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "passwd", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		pwStdin := fs.Bool("password-stdin", false, "read the new password from standard input (required)")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			if err := requireStdin("passwd", *pwStdin); err != nil {
				return err
			}
			accounts, pw, err := env.newPassword(ctx, stdin)
			if err != nil {
				return err
			}
			// SetPassword moves the user to a new generation, which ends
			// every session and every login in flight, so a stolen
			// session does not survive the change.
			if err := accounts.SetPassword(ctx, name, pw); err != nil {
				return storeError(err, name)
			}
			fmt.Fprintf(stdout, "changed the password of %s and revoked all of their sessions\n", name)
			return nil
		}
	})
}

func cmdRoles(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "roles", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		var set *string
		fs.Func("set", "the user's new roles, comma-separated (required; \"\" removes all)", func(s string) error {
			set = &s
			return nil
		})
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			if set == nil {
				return withKind(errUsage, "roles: --set is required (e.g. --set admin,user, or --set '' for none)")
			}
			roles := parseRoles(*set)
			if err := checkRoles(roles); err != nil {
				return err
			}
			if err := env.connect(ctx); err != nil {
				return err
			}
			if err := env.store.SetRoles(ctx, name, roles); err != nil {
				return storeError(err, name)
			}
			fmt.Fprintf(stdout, "roles of %s: %s (live sessions see them on their next request)\n", name, joinRoles(roles))
			return nil
		}
	})
}

func cmdDisable(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "disable", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		enable := fs.Bool("enable", false, "re-enable the user instead (their old sessions stay revoked)")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			accounts, err := env.accounts()
			if err != nil {
				return err
			}
			if err := env.connect(ctx); err != nil {
				return err
			}
			if err := accounts.SetDisabled(ctx, name, !*enable); err != nil {
				return storeError(err, name)
			}
			if *enable {
				fmt.Fprintf(stdout, "enabled %s: they can log in again\n", name)
			} else {
				fmt.Fprintf(stdout, "disabled %s: they cannot log in, and their sessions are revoked\n", name)
			}
			return nil
		}
	})
}

func cmdSessions(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "sessions", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			list, err := env.liveSessions(ctx, name)
			if err != nil {
				return err
			}
			printSessions(stdout, list)
			return nil
		}
	})
}

// liveSessions connects and lists the sessions of an existing user; the
// store reports none for an unknown user, the CLI says so instead.
func (env *cliEnv) liveSessions(ctx context.Context, name string) ([]store.Session, error) {
	if err := env.existingUser(ctx, name); err != nil {
		return nil, err
	}
	list, err := env.store.Sessions(ctx, name)
	if err != nil {
		return nil, storeError(err, name)
	}
	return list, nil
}

// existingUser connects and checks that the user exists: the store
// answers for any name, the CLI says there is no such user.
func (env *cliEnv) existingUser(ctx context.Context, name string) error {
	if err := env.connect(ctx); err != nil {
		return err
	}
	if _, err := env.store.User(ctx, name); err != nil {
		return storeError(err, name)
	}
	return nil
}

// printSessions writes one line per session. Only the first 8 hex digits
// of the session id are shown: enough to tell sessions apart, useless to
// hijack one.
func printSessions(w io.Writer, list []store.Session) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tCREATED\tLAST SEEN\tEXPIRES")
	for _, s := range list {
		fmt.Fprintf(tw, "%s…\t%s\t%s\t%s\n", s.ID.String()[:8], stamp(s.CreatedAt), stamp(s.LastSeen), stamp(s.ExpiresAt))
	}
	_ = tw.Flush()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func cmdRevoke(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "revoke", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			list, err := env.liveSessions(ctx, name)
			if err != nil {
				return err
			}
			if err := env.store.RevokeAll(ctx, name); err != nil {
				return storeError(err, name)
			}
			fmt.Fprintf(stdout, "revoked every session of %s (%d were live)\n", name, len(list))
			return nil
		}
	})
}
