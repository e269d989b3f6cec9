package main

import (
	"regexp"
	"strings"
	"testing"
)

// keyLine is what apikey create and rotate print last: the whole key.
var keyLine = regexp.MustCompile(`^ak_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$`)

// newKey checks a run that printed a new key and returns the key (its
// last line) and its ID.
func newKey(t *testing.T, r cliResult) (key, id string) {
	t.Helper()
	expectRun(t, r, exitOK, "the key, shown only this once:\n")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	key = lines[len(lines)-1]
	m := regexp.MustCompile(`id ([A-Za-z0-9_-]+), `).FindStringSubmatch(r.stdout)
	if !keyLine.MatchString(key) || m == nil || !strings.Contains(key, "."+m[1]+".") {
		t.Fatalf("no key on the last line, or no id:\n%s", r.stdout)
	}
	return key, m[1]
}

// The apikey and service-account commands on one Redis prefix, each key
// tried against an in-process demo on the same Redis: create, use (200,
// and 403 for a role the key lacks), list, rotate with and without
// overlap, revoke (401), disable the owner (401, and still after enabling
// them again), and a service account that cannot log in but acts through
// its key, whose keys end when it is logged out everywhere or given a
// password; with the exit codes of their errors.
func TestAPIKeyCommands(t *testing.T) {
	url, prefix := testRedis(t)
	env := cliEnvFor(url, prefix)
	env[envSecret] = testSecret
	expectRun(t, runDemo(t, env, "alice-password-1", "useradd", "--username", "alice", "--roles", "admin,user", "--password-stdin"), exitOK, "created user alice")
	srv := startInProcess(t, env)
	c := newClient(t, srv.URL)
	me := func(key string, status int, code string) reply {
		t.Helper()
		r := c.do("GET", "/api/me", nil, bearer(key)...)
		expectStatus(t, r, status, code)
		return r
	}

	// Create: the key on the last line, the audit event on stderr.
	r := runDemo(t, env, "", "apikey", "create", "--username", "Alice", "--roles", "user", "--expires", "720h", "--name", "cron")
	key, id := newKey(t, r)
	if !strings.Contains(r.stdout, "created an API key for alice: id "+id+", name cron, roles user, expires 20") {
		t.Fatalf("create printed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "event=api_key_created reason="+id+" user=alice") {
		t.Fatalf("no audit line for the key:\n%s", r.stderr)
	}
	if got := me(key, 200, ""); got.str("username") != "alice" || !strings.Contains(got.raw, `"roles":["user"]`) {
		t.Fatalf("/api/me with the key: %s", got.raw)
	}
	expectStatus(t, c.do("GET", "/api/admin/stats", nil, bearer(key)...), 403, "forbidden")

	// Refused: a role alice lacks, no such user, bad flags.
	expectRun(t, runDemo(t, env, "", "apikey", "create", "--username", "alice", "--roles", "analyst"), exitRejected, `roles rejected: apikey: the owner does not have every role asked for: "analyst" (a key's roles must be its owner's`)
	expectRun(t, runDemo(t, env, "", "apikey", "create", "--username", "alice", "--roles", "a b"), exitRejected, "invalid roles")
	expectRun(t, runDemo(t, env, "", "apikey", "create", "--username", "nobody"), exitNoUser, `no user "nobody"`)
	expectRun(t, runDemo(t, env, "", "apikey", "create", "--username", "alice", "--expires", "-1h"), exitUsage, "--expires must not be negative")
	expectRun(t, runDemo(t, env, "", "apikey", "create", "--username", "alice", "--expires", "soon"), exitUsage, "invalid value")
	expectRun(t, runDemo(t, env, "", "apikey", "create"), exitUsage, "--username is required")
	expectRun(t, runDemo(t, env, "", "apikey"), exitUsage, "a subcommand is required: create, list, revoke, rotate")
	expectRun(t, runDemo(t, env, "", "apikey", "show"), exitUsage, `unknown subcommand "show"`)

	// List: the key as used, never its secret.
	r = runDemo(t, env, "", "apikey", "list", "--username", "alice")
	row := regexp.MustCompile(`(?m)^` + id + `\s+cron\s+user\s+\S+Z\s+\S+Z\s+\d{4}-\S+Z\s+live$`)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "ID  ") || !row.MatchString(r.stdout) || strings.Contains(r.stdout, key[len(key)-43:]) {
		t.Fatalf("apikey list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	expectRun(t, runDemo(t, env, "", "apikey", "list", "--username", "nobody"), exitNoUser, `no user "nobody"`)

	// Rotate with an overlap: both keys work. Then rotate the successor
	// without one: it ends at once, its own successor works.
	r = runDemo(t, env, "", "apikey", "rotate", "--username", "alice", "--id", id, "--overlap", "1h")
	expectRun(t, r, exitOK, "rotated the API key "+id+" of alice: the old key keeps working until ")
	key2, id2 := newKey(t, r)
	me(key, 200, "")
	me(key2, 200, "")
	r = runDemo(t, env, "", "apikey", "rotate", "--username", "alice", "--id", id2)
	expectRun(t, r, exitOK, "the old key is refused from now on")
	key3, id3 := newKey(t, r)
	me(key2, 401, "invalid_token")
	if got := me(key3, 200, ""); !strings.Contains(got.raw, `"roles":["user"]`) {
		t.Fatalf("the successor's roles: %s", got.raw)
	}
	expectRun(t, runDemo(t, env, "", "apikey", "rotate", "--username", "alice", "--id", id2), exitNoUser, `alice has no API key "`+id2+`"`)
	expectRun(t, runDemo(t, env, "", "apikey", "rotate", "--username", "alice", "--id", id3, "--overlap", "-1s"), exitUsage, "--overlap must not be negative")
	r = runDemo(t, env, "", "apikey", "list", "--username", "alice")
	if !regexp.MustCompile(`(?m)^`+id2+`\s.*\sexpired$`).MatchString(r.stdout) || strings.Count(r.stdout, " live\n") != 2 {
		t.Fatalf("apikey list after the rotations:\n%s", r.stdout)
	}

	// Revoke: refused at once; a second time there is nothing to revoke.
	r = runDemo(t, env, "", "apikey", "revoke", "--username", "alice", "--id", id3)
	expectRun(t, r, exitOK, "revoked the API key "+id3+" of alice: it is refused from now on")
	if !strings.Contains(r.stderr, "event=api_key_revoked reason="+id3+" user=alice") {
		t.Fatalf("no audit line for the revocation:\n%s", r.stderr)
	}
	me(key3, 401, "invalid_token")
	expectRun(t, runDemo(t, env, "", "apikey", "revoke", "--username", "alice", "--id", id3), exitNoUser, `alice has no API key "`+id3+`"`)
	expectRun(t, runDemo(t, env, "", "apikey", "revoke", "--username", "alice"), exitUsage, "--id is required")

	// Disabling the owner ends the key still in its overlap; a disabled
	// owner gets no new key.
	me(key, 200, "")
	expectRun(t, runDemo(t, env, "", "disable", "--username", "alice"), exitOK, "disabled alice")
	me(key, 401, "invalid_token")
	expectRun(t, runDemo(t, env, "", "apikey", "create", "--username", "alice"), exitRejected, "alice is disabled")
	r = runDemo(t, env, "", "apikey", "list", "--username", "alice")
	if strings.Contains(r.stdout, " live\n") {
		t.Fatalf("apikey list of a disabled owner:\n%s", r.stdout)
	}
	expectRun(t, runDemo(t, env, "", "disable", "--username", "alice", "--enable"), exitOK, "enabled alice")
	me(key, 401, "invalid_token")

	// A service account: no password, no login, a key with its role.
	expectRun(t, runDemo(t, env, "", "service-account", "create", "--username", "CI-Bot", "--roles", "deploy"), exitOK,
		"created service account ci-bot (roles: deploy): it has no password and cannot log in")
	expectRun(t, runDemo(t, env, "", "service-account", "create", "--username", "ci-bot"), exitExists, `user "ci-bot" already exists`)
	expectRun(t, runDemo(t, env, "", "service-account", "create", "--username", "-bot"), exitRejected, "invalid username")
	expectRun(t, runDemo(t, env, "", "service-account", "create", "--username", "bot", "--roles", "a,,b"), exitRejected, "invalid roles")
	botKey, _ := newKey(t, runDemo(t, env, "", "apikey", "create", "--username", "ci-bot", "--roles", "deploy", "--name", "deployer"))
	if got := me(botKey, 200, ""); got.str("username") != "ci-bot" || !strings.Contains(got.raw, `"roles":["deploy"]`) {
		t.Fatalf("/api/me with the service account's key: %s", got.raw)
	}
	expectStatus(t, c.do("GET", "/api/reports", nil, bearer(botKey)...), 403, "forbidden")
	r2 := c.do("POST", "/auth/login", map[string]string{"username": "ci-bot", "password": "any-password-at-all"})
	expectStatus(t, r2, 401, "invalid_credentials")

	// Logging the owner out everywhere, and a password change, end their
	// keys as they end their sessions.
	expectRun(t, runDemo(t, env, "", "revoke", "--username", "ci-bot"), exitOK, "revoked every session of ci-bot")
	me(botKey, 401, "invalid_token")
	botKey, _ = newKey(t, runDemo(t, env, "", "apikey", "create", "--username", "ci-bot"))
	me(botKey, 200, "")
	expectRun(t, runDemo(t, env, "bot-password-123", "passwd", "--username", "ci-bot", "--password-stdin"), exitOK, "changed the password of ci-bot")
	me(botKey, 401, "invalid_token")
}
