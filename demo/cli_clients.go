package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// The OAuth client commands, "demo client …": clients registered in the
// demo's store (store.ClientStore) obtain access tokens for themselves
// with the client_credentials grant at /oauth/token. The store keeps the
// SHA-256 of each secret; secrets are read from stdin, never from the
// command line, and must be at least store.MinClientSecretLen characters
// (generate one with: openssl rand -hex 32: hex needs no form-encoding
// in HTTP Basic, RFC 6749 §2.3.1).

var clientCommands = map[string]command{
	"add":    cmdClientAdd,
	"list":   cmdClientList,
	"remove": cmdClientRemove,
}

func cmdClient(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return subcommand(ctx, "client", clientCommands, args, getenv, stdin, stdout, stderr)
}

// clientFlag declares --id and returns a function that checks it.
func clientFlag(fs *flag.FlagSet) func() (string, error) {
	id := fs.String("id", "", "the client_id: letters, digits, '.', '_' and '-' (required)")
	return func() (string, error) {
		if *id == "" {
			return "", withKind(errUsage, "%s: --id is required", fs.Name())
		}
		return *id, nil
	}
}

func cmdClientAdd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "client add", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		clientID := clientFlag(fs)
		rolesFlag := fs.String("roles", "", "comma-separated roles its tokens carry, e.g. reports (default: none)")
		secretStdin := fs.Bool("secret-stdin", false, "read the client_secret from standard input (required)")
		return func(ctx context.Context, env *cliEnv) error {
			id, err := clientID()
			if err != nil {
				return err
			}
			if !*secretStdin {
				return withKind(errUsage, "client add: --secret-stdin is required: secrets are never taken from the command line, where ps and shell history would see them")
			}
			roles := parseRoles(*rolesFlag)
			if err := checkRoles(roles); err != nil {
				return err
			}
			secret, err := readPassword(ctx, stdin)
			if err != nil {
				return err
			}
			if len(secret) < store.MinClientSecretLen {
				return withKind(errRejected, "client add: the secret is %d characters; at least %d are required (generate one with: openssl rand -hex 32)", len(secret), store.MinClientSecretLen)
			}
			c := store.OAuthClient{ID: id, Secret: store.HashSecret([]byte(secret)), Roles: roles, CreatedAt: time.Now()}
			if err := c.Validate(); err != nil {
				return &kindError{kind: store.ErrInvalid, err: fmt.Errorf("client add: %w", err)}
			}
			if err := env.connect(ctx); err != nil {
				return err
			}
			if err := env.store.AddClient(ctx, c); err != nil {
				return clientError(err, id)
			}
			fmt.Fprintf(stdout, "added client %s (roles: %s)\n", id, joinRoles(roles))
			return nil
		}
	})
}

func cmdClientList(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "client list", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		return func(ctx context.Context, env *cliEnv) error {
			if err := env.connect(ctx); err != nil {
				return err
			}
			list, err := env.store.Clients(ctx)
			if err != nil {
				return clientError(err, "")
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLES\tCREATED")
			for _, c := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, joinRoles(c.Roles), stamp(c.CreatedAt))
			}
			return tw.Flush()
		}
	})
}

func cmdClientRemove(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return userCommand(ctx, "client remove", args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		clientID := clientFlag(fs)
		return func(ctx context.Context, env *cliEnv) error {
			id, err := clientID()
			if err != nil {
				return err
			}
			if err := env.connect(ctx); err != nil {
				return err
			}
			if err := env.store.RemoveClient(ctx, id); err != nil {
				return clientError(err, id)
			}
			fmt.Fprintf(stdout, "removed client %s: its access tokens no longer work\n", id)
			return nil
		}
	})
}

// clientError is storeError for clients.
func clientError(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &kindError{kind: store.ErrNotFound, err: fmt.Errorf("no client %q", id)}
	case errors.Is(err, store.ErrExists):
		return &kindError{kind: store.ErrExists, err: fmt.Errorf("client %q already exists", id)}
	}
	return storeError(err, id)
}
