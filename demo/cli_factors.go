package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/store"
)

// The second-factor commands, "demo totp …" and "demo passkey …": an
// administrator's view of a user's factors, through the same mfa and
// passkey services (accounts.Config's TOTP and Passkeys) the server uses,
// without HTTP.

var totpCommands = map[string]command{
	"enroll":  cmdTOTPEnroll,
	"confirm": cmdTOTPConfirm,
	"disable": cmdTOTPDisable,
	"code":    cmdTOTPCode,
	"status":  cmdTOTPStatus,
}

var passkeyCommands = map[string]command{
	"list":   cmdPasskeyList,
	"revoke": cmdPasskeyRevoke,
}

func cmdTOTP(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return subcommand(ctx, "totp", totpCommands, args, getenv, stdin, stdout, stderr)
}

func cmdPasskey(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return subcommand(ctx, "passkey", passkeyCommands, args, getenv, stdin, stdout, stderr)
}

// subcommand runs the subcommand of group that args name.
func subcommand(ctx context.Context, group string, subs map[string]command, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range subs {
			if !yield(n) {
				return
			}
		}
	})
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintf(stderr, "Usage:\n")
		for _, n := range names {
			fmt.Fprintf(stderr, "  demo %s %s %s\n", group, n, synopsis[group+" "+n])
		}
		return flag.ErrHelp
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return withKind(errUsage, "%s: a subcommand is required: %s (see demo help)", group, strings.Join(names, ", "))
	}
	c, ok := subs[args[0]]
	if !ok {
		return withKind(errUsage, "%s: unknown subcommand %q: %s (see demo help)", group, args[0], strings.Join(names, ", "))
	}
	return c(ctx, args[1:], getenv, stdin, stdout, stderr)
}

// factorKey says whether the CLI has the key that seals TOTP secrets: the
// server's AUTHKIT_MFA_KEYS, or its signing key, from which the sealing
// key derives when AUTHKIT_MFA_KEYS is unset. Without either, the CLI
// would seal with a key of its own, which the server cannot open.
func (env *cliEnv) factorKey(cmd string) error {
	if env.cfg.mfaKeys.Current != "" || env.cfg.secret != nil || env.cfg.signingKey != nil {
		return nil
	}
	return withKind(errConfig, "%s: TOTP secrets are sealed with %s or, when it is unset, with a key derived from the signing key: "+
		"give the CLI the server's %s, %s or %s (or %s)", cmd, envMFAKeys, envSecret, envSecretFile, envSigningKey, envMFAKeys)
}

// factorUser connects, checks that the user exists, and returns the
// account service, whose Config holds the TOTP and passkey services.
func (env *cliEnv) factorUser(ctx context.Context, name string) (*accounts.Manager, error) {
	m, err := env.accounts()
	if err != nil {
		return nil, err
	}
	if err := env.existingUser(ctx, name); err != nil {
		return nil, err
	}
	return m, nil
}

// factorError turns an error of the mfa service into a message for
// people; the exit code follows its kind: 4 for a factor already active,
// 5 for none, 3 for a wrong code, 2 for a secret the configured keys do
// not open.
func factorError(err error, name, missing string) error {
	switch {
	case errors.Is(err, mfa.ErrEnrolled):
		return &kindError{kind: store.ErrExists, err: fmt.Errorf("%s already has an active TOTP factor; remove it first with demo totp disable", name)}
	case errors.Is(err, mfa.ErrNotEnrolled):
		return &kindError{kind: store.ErrNotFound, err: fmt.Errorf("%s has %s", name, missing)}
	case errors.Is(err, mfa.ErrReplayed):
		return withKind(errRejected, "code rejected: its time step was already used; wait for the next code")
	case errors.Is(err, mfa.ErrBadCode):
		return withKind(errRejected, "code rejected: not a current code of %s's authenticator", name)
	case errors.Is(err, mfa.ErrBadSeal), errors.Is(err, mfa.ErrUnknownKey):
		return &kindError{kind: errConfig, err: fmt.Errorf("the TOTP secret of %s does not open with this key (%w): give the CLI the server's %s, or its signing key when that is unset", name, err, envMFAKeys)}
	default:
		return storeError(err, name)
	}
}

// factorCommand is userCommand for a command on one user's second
// factors: it declares --username, and once the flags are parsed reads
// the name, runs check (the command's own flag checks; nil for none),
// checks the factor key when needsKey, and gives run the name and the
// accounts manager of an existing user, in that order, so that a usage
// error comes before any store access.
func factorCommand(ctx context.Context, cmd string, args []string, getenv func(string) string, stderr io.Writer, needsKey bool,
	declare func(fs *flag.FlagSet) (check func() error, run factorRun)) error {
	return userCommand(ctx, cmd, args, getenv, stderr, func(fs *flag.FlagSet) func(context.Context, *cliEnv) error {
		username := userFlag(fs)
		check, run := declare(fs)
		return func(ctx context.Context, env *cliEnv) error {
			name, err := username()
			if err != nil {
				return err
			}
			if check != nil {
				if err := check(); err != nil {
					return err
				}
			}
			if needsKey {
				if err := env.factorKey(cmd); err != nil {
					return err
				}
			}
			m, err := env.factorUser(ctx, name)
			if err != nil {
				return err
			}
			return run(ctx, env, name, m)
		}
	})
}

// factorRun is what a factor command does with its user.
type factorRun = func(ctx context.Context, env *cliEnv, name string, m *accounts.Manager) error

func cmdTOTPEnroll(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "totp enroll", args, getenv, stderr, true, func(fs *flag.FlagSet) (func() error, factorRun) {
		return nil, func(ctx context.Context, _ *cliEnv, name string, m *accounts.Manager) error {
			e, err := m.Config().TOTP.EnrollTOTP(ctx, name)
			if err != nil {
				return factorError(err, name, "")
			}
			fmt.Fprintf(stdout, "uri: %s\nsecret: %s\n", e.URI, e.Secret)
			fmt.Fprintf(stdout, "a pending TOTP factor for %s: add it to an authenticator app, then confirm it with a first code (demo totp confirm --username %s --code CODE)\n", name, name)
			return nil
		}
	})
}

func cmdTOTPConfirm(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "totp confirm", args, getenv, stderr, true, func(fs *flag.FlagSet) (func() error, factorRun) {
		code := fs.String("code", "", "a current code of the authenticator app (required)")
		check := func() error {
			if *code == "" {
				return withKind(errUsage, "totp confirm: --code is required")
			}
			return nil
		}
		return check, func(ctx context.Context, _ *cliEnv, name string, m *accounts.Manager) error {
			codes, err := m.Config().TOTP.ConfirmTOTP(ctx, name, *code)
			if err != nil {
				return factorError(err, name, "no pending TOTP enrolment to confirm; start one with demo totp enroll")
			}
			fmt.Fprintf(stdout, "confirmed the TOTP factor of %s; the recovery codes, shown only this once (each works once, in place of a code):\n", name)
			for _, c := range codes {
				fmt.Fprintf(stdout, "  %s\n", c)
			}
			return nil
		}
	})
}

func cmdTOTPDisable(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "totp disable", args, getenv, stderr, false, func(fs *flag.FlagSet) (func() error, factorRun) {
		return nil, func(ctx context.Context, env *cliEnv, name string, m *accounts.Manager) error {
			// An administrator's action: no password or code is asked
			// for. A session opened with the factor must not outlive it.
			if err := m.Config().TOTP.DisableTOTP(ctx, name); err != nil {
				return factorError(err, name, "no TOTP factor")
			}
			n, err := env.revokeAll(ctx, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed the TOTP factor and recovery codes of %s and revoked every session of theirs (%d were live)\n", name, n)
			return nil
		}
	})
}

func cmdTOTPCode(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "totp code", args, getenv, stderr, true, func(fs *flag.FlagSet) (func() error, factorRun) {
		test := fs.Bool("test", false, "required: this command is for tests and demos only, since the code it prints stands in for the user's authenticator")
		check := func() error {
			if !*test {
				return withKind(errUsage, "totp code: refused without --test: the current code stands in for the user's authenticator, so this command is for tests and demos only")
			}
			return nil
		}
		return check, func(ctx context.Context, _ *cliEnv, name string, m *accounts.Manager) error {
			code, err := m.Config().TOTP.CurrentCode(ctx, name)
			if err != nil {
				return factorError(err, name, "no TOTP factor")
			}
			fmt.Fprintln(stdout, code)
			return nil
		}
	})
}

func cmdTOTPStatus(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "totp status", args, getenv, stderr, false, func(fs *flag.FlagSet) (func() error, factorRun) {
		return nil, func(ctx context.Context, env *cliEnv, name string, m *accounts.Manager) error {
			st, err := m.Config().TOTP.Status(ctx, name)
			if err != nil {
				return storeError(err, name)
			}
			if st.TOTP {
				fmt.Fprintf(stdout, "%s: TOTP active, %d recovery codes left\n", name, st.RecoveryCodes)
				return nil
			}
			// Status counts confirmed factors only; the store tells a
			// pending enrolment from none.
			factors, err := env.store.Factors(ctx, name)
			if err != nil {
				return storeError(err, name)
			}
			if slices.ContainsFunc(factors, func(f store.Factor) bool { return f.Kind == store.TOTP }) {
				fmt.Fprintf(stdout, "%s: TOTP pending (enrolled, not confirmed yet)\n", name)
			} else {
				fmt.Fprintf(stdout, "%s: no TOTP factor\n", name)
			}
			return nil
		}
	})
}

func cmdPasskeyList(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "passkey list", args, getenv, stderr, false, func(fs *flag.FlagSet) (func() error, factorRun) {
		return nil, func(ctx context.Context, _ *cliEnv, name string, m *accounts.Manager) error {
			list, err := m.Config().Passkeys.List(ctx, name)
			if err != nil {
				return storeError(err, name)
			}
			// The credential IDs are public (the browser sends them with
			// every sign-in); the keys are not shown.
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED")
			for _, p := range list {
				label, used := p.Name, "never"
				if label == "" {
					label = "-"
				}
				if !p.LastUsed.IsZero() {
					used = stamp(p.LastUsed)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, label, stamp(p.CreatedAt), used)
			}
			return tw.Flush()
		}
	})
}

func cmdPasskeyRevoke(ctx context.Context, args []string, getenv func(string) string, _ io.Reader, stdout, stderr io.Writer) error {
	return factorCommand(ctx, "passkey revoke", args, getenv, stderr, false, func(fs *flag.FlagSet) (func() error, factorRun) {
		id := fs.String("id", "", "the passkey's ID, as demo passkey list shows it (required)")
		check := func() error {
			if *id == "" {
				return withKind(errUsage, "passkey revoke: --id is required (see demo passkey list)")
			}
			return nil
		}
		return check, func(ctx context.Context, env *cliEnv, name string, m *accounts.Manager) error {
			err := m.Config().Passkeys.Revoke(ctx, name, *id)
			switch {
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
				return &kindError{kind: store.ErrNotFound, err: fmt.Errorf("%s has no passkey %q (see demo passkey list)", name, *id)}
			case err != nil:
				return storeError(err, name)
			}
			audit.Log(env.logger)(ctx, audit.Event{Kind: audit.PasskeyRevoked, Reason: "cli", Username: name})
			n, err := env.revokeAll(ctx, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked the passkey %s of %s and every session of theirs (%d were live)\n", *id, name, n)
			return nil
		}
	})
}

// revokeAll ends every session of name and says how many were live.
func (env *cliEnv) revokeAll(ctx context.Context, name string) (int, error) {
	list, err := env.store.Sessions(ctx, name)
	if err != nil {
		return 0, storeError(err, name)
	}
	if err := env.store.RevokeAll(ctx, name); err != nil {
		return 0, storeError(err, name)
	}
	return len(list), nil
}
