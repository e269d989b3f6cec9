package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/internal/softauthn"
	"github.com/gin-authkit/authkit/passkey"
)

// expectRun checks a CLI run's exit code and a piece of its output
// (stdout on success, stderr otherwise).
func expectRun(t *testing.T, r cliResult, code int, want string) {
	t.Helper()
	out := r.stdout
	if code != exitOK {
		out = r.stderr
	}
	if r.code != code || !strings.Contains(out, want) {
		t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %q", r.code, code, r.stdout, r.stderr, want)
	}
}

// liveLogins logs user in n times through a demo server on env's Redis,
// so that a command's "were live" count can be checked.
func liveLogins(t *testing.T, env map[string]string, user, pw string, n int) {
	t.Helper()
	srv := startInProcess(t, env)
	c := newClient(t, srv.URL)
	for range n {
		c.login(user, pw)
	}
}

// The totp commands, in order, on one user: enrol, the test code,
// confirm with its recovery codes, status at each stage, and disable,
// which revokes the sessions; with the exit codes of their errors.
func TestTOTPCommands(t *testing.T) {
	url, prefix := testRedis(t)
	env := cliEnvFor(url, prefix)
	env[envSecret] = testSecret
	expectRun(t, runDemo(t, env, "alice-password-1", "useradd", "--username", "alice", "--password-stdin"), exitOK, "created user alice")
	liveLogins(t, env, "alice", "alice-password-1", 2)

	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "alice"), exitOK, "alice: no TOTP factor")
	expectRun(t, runDemo(t, env, "", "totp", "code", "--username", "alice", "--test"), exitNoUser, "alice has no TOTP factor")

	r := runDemo(t, env, "", "totp", "enroll", "--username", "Alice")
	expectRun(t, r, exitOK, "a pending TOTP factor for alice")
	m := regexp.MustCompile(`(?m)^uri: (otpauth://totp/authkit-demo:alice\?\S*secret=([A-Z2-7]+)\S*)\nsecret: ([A-Z2-7]+)\n`).FindStringSubmatch(r.stdout)
	if m == nil || m[2] != m[3] {
		t.Fatalf("enroll printed:\n%s", r.stdout)
	}
	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "alice"), exitOK, "alice: TOTP pending (enrolled, not confirmed yet)")

	expectRun(t, runDemo(t, env, "", "totp", "code", "--username", "alice"), exitUsage, "refused without --test")
	r = runDemo(t, env, "", "totp", "code", "--username", "alice", "--test")
	expectRun(t, r, exitOK, "")
	code := strings.TrimSpace(r.stdout)
	if !regexp.MustCompile(`^\d{6}$`).MatchString(code) {
		t.Fatalf("totp code printed %q", r.stdout)
	}

	expectRun(t, runDemo(t, env, "", "totp", "confirm", "--username", "alice"), exitUsage, "--code is required")
	expectRun(t, runDemo(t, env, "", "totp", "confirm", "--username", "alice", "--code", "12345"), exitRejected, "code rejected")
	r = runDemo(t, env, "", "totp", "confirm", "--username", "alice", "--code", code)
	expectRun(t, r, exitOK, "confirmed the TOTP factor of alice")
	if n := len(regexp.MustCompile(`(?m)^  [0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$`).FindAllString(r.stdout, -1)); n != 10 {
		t.Fatalf("confirm printed %d recovery codes, want 10:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stderr, "event=totp_confirmed user=alice") {
		t.Fatalf("no audit line for the confirmation:\n%s", r.stderr)
	}
	expectRun(t, runDemo(t, env, "", "totp", "confirm", "--username", "alice", "--code", code), exitExists, "alice already has an active TOTP factor")
	expectRun(t, runDemo(t, env, "", "totp", "enroll", "--username", "alice"), exitExists, "alice already has an active TOTP factor")
	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "ALICE"), exitOK, "alice: TOTP active, 10 recovery codes left")

	// Another key cannot open the secret: a configuration error, and
	// without any key the commands that seal or open refuse to run.
	other := cliEnvFor(url, prefix)
	other[envSecret] = strings.Repeat("x", 40)
	expectRun(t, runDemo(t, other, "", "totp", "code", "--username", "alice", "--test"), exitUsage, "does not open with this key")
	nokey := cliEnvFor(url, prefix)
	expectRun(t, runDemo(t, nokey, "", "totp", "enroll", "--username", "alice"), exitUsage, "give the CLI the server's AUTHKIT_SECRET")
	expectRun(t, runDemo(t, nokey, "", "totp", "status", "--username", "alice"), exitOK, "TOTP active")

	r = runDemo(t, env, "", "totp", "disable", "--username", "alice")
	expectRun(t, r, exitOK, "removed the TOTP factor and recovery codes of alice and revoked every session of theirs (2 were live)")
	if !strings.Contains(r.stderr, "event=totp_disabled user=alice") {
		t.Fatalf("no audit line for disable:\n%s", r.stderr)
	}
	if r := runDemo(t, env, "", "sessions", "--username", "alice"); len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 1 {
		t.Fatalf("sessions left after disable:\n%s", r.stdout)
	}
	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "alice"), exitOK, "alice: no TOTP factor")
	expectRun(t, runDemo(t, env, "", "totp", "disable", "--username", "alice"), exitNoUser, "alice has no TOTP factor")
	expectRun(t, runDemo(t, env, "", "totp", "confirm", "--username", "alice", "--code", code), exitNoUser, "no pending TOTP enrolment")

	for _, sub := range [][]string{{"enroll"}, {"confirm", "--code", "123456"}, {"disable"}, {"code", "--test"}, {"status"}} {
		args := append([]string{"totp", sub[0], "--username", "nobody"}, sub[1:]...)
		expectRun(t, runDemo(t, env, "", args...), exitNoUser, `no user "nobody"`)
	}
	expectRun(t, runDemo(t, env, "", "totp", "status", "--username", "-x"), exitRejected, "invalid username")
	expectRun(t, runDemo(t, env, "", "totp", "status"), exitUsage, "--username is required")
}

// The passkey commands list a user's passkeys without their keys, and
// revoke one, which ends the user's sessions; the passkey then cannot
// sign in.
func TestPasskeyCommands(t *testing.T) {
	url, prefix := testRedis(t)
	env := cliEnvFor(url, prefix)
	env[envSecret] = testSecret
	expectRun(t, runDemo(t, env, "bob-password-12", "useradd", "--username", "bob", "--password-stdin"), exitOK, "created user bob")
	liveLogins(t, env, "bob", "bob-password-12", 2)

	// Register a passkey through the demo's own passkey service, with a
	// software authenticator on the default origin.
	ce, err := openCLI(envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close()
	m, err := ce.accounts()
	if err != nil {
		t.Fatal(err)
	}
	pk := m.Config().Passkeys
	ctx := context.Background()
	authn := &softauthn.Authenticator{Origin: "http://localhost:8080"}
	opts, ceremony, err := pk.BeginRegistration(ctx, "bob", "YubiKey")
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := authn.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := pk.FinishRegistration(ctx, "bob", ceremony, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}

	r := runDemo(t, env, "", "passkey", "list", "--username", "Bob")
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(info.ID) + `\s+YubiKey\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+never$`)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "ID") || !row.MatchString(r.stdout) {
		t.Fatalf("passkey list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Sign in once: the list shows when.
	opts, ceremony, err = pk.BeginLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	body, err = authn.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pk.FinishLogin(ctx, ceremony, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	r = runDemo(t, env, "", "passkey", "list", "--username", "bob")
	if !regexp.MustCompile(`YubiKey\s+\S+Z\s+\d{4}-\d\d-\d\dT\S+Z\n$`).MatchString(r.stdout) {
		t.Fatalf("passkey list after a sign-in:\n%s", r.stdout)
	}

	expectRun(t, runDemo(t, env, "", "passkey", "revoke", "--username", "bob"), exitUsage, "--id is required")
	expectRun(t, runDemo(t, env, "", "passkey", "revoke", "--username", "bob", "--id", "AAAA"), exitNoUser, `bob has no passkey "AAAA"`)
	expectRun(t, runDemo(t, env, "", "passkey", "revoke", "--username", "nobody", "--id", info.ID), exitNoUser, `no user "nobody"`)
	expectRun(t, runDemo(t, env, "", "passkey", "list", "--username", "nobody"), exitNoUser, `no user "nobody"`)
	r = runDemo(t, env, "", "passkey", "revoke", "--username", "bob", "--id", info.ID)
	expectRun(t, r, exitOK, "revoked the passkey "+info.ID+" of bob and every session of theirs (2 were live)")
	if !strings.Contains(r.stderr, "event=passkey_revoked reason=cli user=bob") {
		t.Fatalf("no audit line for the revocation:\n%s", r.stderr)
	}
	r = runDemo(t, env, "", "passkey", "list", "--username", "bob")
	if r.code != exitOK || strings.TrimSpace(r.stdout) != "ID  NAME  CREATED  LAST USED" {
		t.Fatalf("passkey list after revoke: exit %d\n%q", r.code, r.stdout)
	}
	if r := runDemo(t, env, "", "sessions", "--username", "bob"); len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 1 {
		t.Fatalf("sessions left after revoke:\n%s", r.stdout)
	}
	if _, _, err := pk.BeginLogin(ctx, "bob"); !errors.Is(err, passkey.ErrNoPasskey) {
		t.Fatalf("BeginLogin after revoke: %v, want ErrNoPasskey", err)
	}
}
