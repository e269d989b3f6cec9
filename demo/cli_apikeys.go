package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// The machine commands, "demo apikey …" and "demo service-account …": an
// administrator's view of the API keys of a user or service account,
// through the same apikey.Keys (accounts.Config.APIKeys) the server uses,
// without HTTP. A new key is printed once, alone on the last line, so
// that a script can take it with tail -n 1.

var apikeyCommands = map[string]command{
	"create": cmdAPIKeyCreate,
	"list":   cmdAPIKeyList,
	"revoke": cmdAPIKeyRevoke,
	"rotate": cmdAPIKeyRotate,
}

var serviceAccountCommands = map[string]command{
	"create": cmdServiceAccountCreate,
}

func cmdAPIKey(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return subcommand(ctx, "apikey", apikeyCommands, args, getenv, stdin, stdout, stderr)
}

func cmdServiceAccount(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return subcommand(ctx, "service-account", serviceAccountCommands, args, getenv, stdin, stdout, stderr)
}

// keyOwner connects, checks that the user exists, and returns the API
// keys of the account service.
func (env *cliEnv) keyOwner(ctx context.Context, name string) (*apikey.Keys, error) {
	m, err := env.accounts()
	if err != nil {
		return nil, err
	}
	if err := env.existingUser(ctx, name); err != nil {
		return nil, err
	}
	return m.Config().APIKeys, nil
}

// keyError turns an error of package apikey into a message for people;
// the exit code follows its kind: 3 for a role the owner lacks or an
// owner that is disabled, 5 for no such key.
func keyError(err error, name, id string) error {
	switch {
	case errors.Is(err, apikey.ErrRoles):
		return &kindError{kind: errRejected, err: fmt.Errorf("roles rejected: %w (a key's roles must be its owner's; see demo roles)", err)}
	case errors.Is(err, apikey.ErrNoOwner):
		return withKind(errRejected, "%s is disabled: a disabled user's keys are refused; enable them first with demo disable --enable", name)
	case errors.Is(err, apikey.ErrNotFound):
		return &kindError{kind: store.ErrNotFound, err: fmt.Errorf("%s has no API key %q (see demo apikey list; one that expired or ended cannot be rotated)", name, id)}
	default:
		return storeError(err, name)
	}
}

// durationFlag declares a duration flag that must not be negative.
func durationFlag(fs *flag.FlagSet, name, usage string) func() (time.Duration, error) {
	d := fs.Duration(name, 0, usage)
	return func() (time.Duration, error) {
		if *d < 0 {
			return 0, withKind(errUsage, "%s: --%s must not be negative", fs.Name(), name)
		}
		return *d, nil
	}
}

// expiry renders a key's expiry for people.
func expiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return stamp(t)
}

// printNewKey writes what was made, then the key alone on the last line.
func printNewKey(w io.Writer, what string, k store.APIKey, raw string) {
	label := k.Name
	if label == "" {
		label = "-"
	}
	fmt.Fprintf(w, "%s: id %s, name %s, roles %s, expires %s; the key, shown only this once:\n%s\n",
		what, k.ID, label, joinRoles(k.Roles), expiry(k.ExpiresAt), raw)
}

func cmdAPIKeyCreate(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "apikey create", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		rolesFlag := fs.String("roles", "", "the key's roles, comma-separated, each one the owner's (default: none)")
		expires := durationFlag(fs, "expires", "the key's lifetime, e.g. 720h (default: never expires)")
		label := fs.String("name", "", "a label for the owner's list, e.g. nightly-backup")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			ttl, err := expires()
			if err != nil {
				return err
			}
			roles := parseRoles(*rolesFlag)
			if err := checkRoles(roles); err != nil {
				return err
			}
			keys, err := env.keyOwner(ctx, name)
			if err != nil {
				return err
			}
			raw, k, err := keys.Create(ctx, name, apikey.Spec{Name: *label, Roles: roles, TTL: ttl})
			if err != nil {
				return keyError(err, name, "")
			}
			audit.Log(env.logger)(ctx, audit.Event{Kind: audit.APIKeyCreated, Reason: k.ID, Username: name})
			printNewKey(stdout, "created an API key for "+name, k, raw)
			return nil
		}
	})
}

func cmdAPIKeyList(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "apikey list", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			keys, err := env.keyOwner(ctx, name)
			if err != nil {
				return err
			}
			list, err := keys.List(ctx, name)
			if err != nil {
				return storeError(err, name)
			}
			owner, err := env.store.User(ctx, name)
			if err != nil {
				return storeError(err, name)
			}
			// The secrets are not there to show: the store keeps their
			// digests only. STATE says whether a key works now: one that
			// expired, or that a password change, "log out everywhere" or
			// disabling the owner ended, stays listed until the store
			// drops it.
			now := time.Now()
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLES\tCREATED\tEXPIRES\tLAST USED\tSTATE")
			for _, k := range list {
				label, used, state := k.Name, "never", "live"
				if label == "" {
					label = "-"
				}
				if !k.LastUsed.IsZero() {
					used = stamp(k.LastUsed)
				}
				switch {
				case k.Expired(now):
					state = "expired"
				case !k.Live(now, owner):
					state = "ended"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, label, joinRoles(k.Roles), stamp(k.CreatedAt), expiry(k.ExpiresAt), used, state)
			}
			return tw.Flush()
		}
	})
}

func cmdAPIKeyRevoke(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "apikey revoke", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		id := fs.String("id", "", "the key's ID, as demo apikey list shows it (required)")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			if *id == "" {
				return withKind(errUsage, "apikey revoke: --id is required (see demo apikey list)")
			}
			keys, err := env.keyOwner(ctx, name)
			if err != nil {
				return err
			}
			if err := keys.Revoke(ctx, name, *id); err != nil {
				return keyError(err, name, *id)
			}
			audit.Log(env.logger)(ctx, audit.Event{Kind: audit.APIKeyRevoked, Reason: *id, Username: name})
			fmt.Fprintf(stdout, "revoked the API key %s of %s: it is refused from now on\n", *id, name)
			return nil
		}
	})
}

func cmdAPIKeyRotate(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "apikey rotate", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		id := fs.String("id", "", "the key's ID, as demo apikey list shows it (required)")
		overlap := durationFlag(fs, "overlap", "how long the old key keeps working, e.g. 24h (default: it ends now)")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			if *id == "" {
				return withKind(errUsage, "apikey rotate: --id is required (see demo apikey list)")
			}
			d, err := overlap()
			if err != nil {
				return err
			}
			keys, err := env.keyOwner(ctx, name)
			if err != nil {
				return err
			}
			raw, k, err := keys.Rotate(ctx, name, *id, d)
			if err != nil {
				return keyError(err, name, *id)
			}
			audit.Log(env.logger)(ctx, audit.Event{Kind: audit.APIKeyRotated, Reason: *id + ">" + k.ID, Username: name})
			ends := "is refused from now on"
			if d > 0 {
				ends = "keeps working until " + stamp(time.Now().Add(d))
			}
			fmt.Fprintf(stdout, "rotated the API key %s of %s: the old key %s\n", *id, name, ends)
			printNewKey(stdout, "its successor", k, raw)
			return nil
		}
	})
}

func cmdServiceAccountCreate(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "service-account create", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		rolesFlag := fs.String("roles", "", "comma-separated roles, e.g. deploy (default: none)")
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			roles := parseRoles(*rolesFlag)
			if err := checkRoles(roles); err != nil {
				return err
			}
			m, err := env.accounts()
			if err != nil {
				return err
			}
			if err := env.connect(ctx); err != nil {
				return err
			}
			if err := m.CreateServiceAccount(ctx, name, roles); err != nil {
				return storeError(err, name)
			}
			fmt.Fprintf(stdout, "created service account %s (roles: %s): it has no password and cannot log in; give it a key with demo apikey create --username %s\n",
				name, joinRoles(roles), name)
			return nil
		}
	})
}
