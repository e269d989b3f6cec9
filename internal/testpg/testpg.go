// Package testpg gives each test a PostgreSQL schema of its own, dropped
// when the test ends. The server is the one named by
// AUTHKIT_TEST_POSTGRES, or DefaultURL when that is unset.
//
// When AUTHKIT_TEST_POSTGRES is set (CI sets it), a server that does not
// answer fails the test. When it is unset and the default server does
// not answer, the test is skipped and says so: there is no in-process
// PostgreSQL to fall back on.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DefaultURL is the server tried when AUTHKIT_TEST_POSTGRES is unset:
// the loopback PostgreSQL of a development machine, database test.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the server's URL and whether it was set explicitly.
func URL() (string, bool) {
	if u := os.Getenv("AUTHKIT_TEST_POSTGRES"); u != "" {
		return u, true
	}
	return DefaultURL, false
}

// maxConns caps each test's pool.
const maxConns = 8

// New creates a schema named after a random string, returns a pool whose
// connections use it (search_path), and drops it, cascading, when t
// ends.
func New(t testing.TB) *sql.DB {
	t.Helper()
	base, explicit := URL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(ctx); err != nil {
		if explicit {
			t.Fatalf("testpg: PostgreSQL at AUTHKIT_TEST_POSTGRES does not answer: %v", err)
		}
		t.Skipf("testpg: no PostgreSQL at %s (set AUTHKIT_TEST_POSTGRES to require one): %v", base, err)
	}
	schema := "authkit_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testpg: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testpg: dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testpg: AUTHKIT_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	// A test that runs 70 calls at once would otherwise open 70
	// connections; two test processes at a time then pass PostgreSQL's
	// max_connections (100) and fail with "too many clients". Calls wait
	// for a connection instead.
	db.SetMaxOpenConns(maxConns)
	t.Cleanup(func() { db.Close() })
	t.Logf("postgres backend: schema %s on %s", schema, redact(u))
	return db
}

// redact drops the password from u for logging.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return fmt.Sprint(&c)
}
