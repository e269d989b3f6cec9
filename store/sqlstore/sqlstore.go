package sqlstore

import (
	"context"
	"database/sql"
	_ "embed" // the migration
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// The migrations, in the order they run.
var (
	//go:embed migrations/001_users.sql
	schemaUsers string
	//go:embed migrations/002_factors.sql
	schemaFactors string
	//go:embed migrations/003_apikeys.sql
	schemaAPIKeys string
)

// Schema is the migrations, one after the other: the users table, its
// generation and notification triggers (migrations/001_users.sql), and
// the tables of second factors and recovery codes
// (migrations/002_factors.sql), and the table of API keys
// (migrations/003_apikeys.sql). Every statement is safe to run again.
// [Migrate] runs it; an application with a migration tool of its own
// copies the files instead.
var Schema = schemaUsers + "\n" + schemaFactors + "\n" + schemaAPIKeys

// Options configures a [Store]. The zero value is ready to use.
type Options struct {
	// Now stamps new users' CreatedAt, records API keys' uses and
	// decides which keys have expired. Default time.Now. Tests inject a
	// fake clock.
	Now func() time.Time
}

// Store keeps users in PostgreSQL, in the table authkit_users of the
// connection's search_path, their second factors and recovery codes in
// authkit_factors and authkit_recovery_codes, and their API keys in
// authkit_api_keys (see [Schema]). It implements store.UserStore, and
// so store.UserSource and store.PasswordRehasher, store.FactorBackend,
// store.APIKeyStore and store.Pinger. It is safe for concurrent use.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

var (
	_ store.UserStore = (*Store)(nil)
	_ store.Pinger    = (*Store)(nil)
)

// New returns a store on db, which should be opened with the pgx driver
// ("pgx", from github.com/jackc/pgx/v5/stdlib). It does not contact the
// database; the table must exist (see [Migrate]).
func New(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: new: nil db")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// migrateLock is the advisory lock key that serialises [Migrate] across
// processes: replicas starting together would otherwise race on
// CREATE OR REPLACE FUNCTION.
const migrateLock = 0x61757468_6b697401 // "authkit\x01"

// Migrate creates the tables of [Schema], or completes them, in one
// transaction under an advisory lock, so that replicas starting together
// are safe. Running it again changes nothing.
func Migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if _, err := tx.ExecContext(ctx, Schema); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

func notFound(op string) error { return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound) }

// CreateUser implements [store.UserStore].
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	const op = "create user"
	if err := store.ValidateUsername(u.Username); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if err := store.ValidateRoles(u.Roles); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	// The first generation is random, so that no caller can rely on where
	// generations start.
	gen := rand.Int64N(1 << 62)
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO authkit_users (username, password_hash, roles, disabled, created_at, generation)
		VALUES ($1, $2, string_to_array($3, ','), $4, $5, $6)
		ON CONFLICT (username) DO NOTHING`,
		u.Username, nonNil(u.PasswordHash), encodeRoles(u.Roles), u.Disabled, s.now(), gen)
	changed, err := rowChanged(res, err)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !changed {
		return fmt.Errorf("sqlstore: %s %q: %w", op, u.Username, store.ErrExists)
	}
	return nil
}

// rowChanged reports whether the statement that gave res and err changed
// a row.
func rowChanged(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// User implements [store.UserSource] with one query by primary key.
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	const op = "user"
	if store.ValidateUsername(username) != nil {
		return store.User{}, notFound(op)
	}
	var (
		u     = store.User{Username: username}
		roles string
		gen   int64
	)
	err := s.db.QueryRowContext(ctx, `
		SELECT password_hash, array_to_json(roles)::text, disabled, created_at, generation
		FROM authkit_users WHERE username = $1`, username).
		Scan(&u.PasswordHash, &roles, &u.Disabled, &u.CreatedAt, &gen)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, notFound(op)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if u.Roles, err = decodeRoles(roles); err != nil {
		// A row edited by hand with a role the kit cannot represent: fail
		// closed, as an infrastructure error, rather than guess.
		return store.User{}, fmt.Errorf("sqlstore: %s %q: roles column: %v", op, username, err)
	}
	u.Generation = uint64(gen)
	return u, nil
}

// SetPasswordHash implements [store.UserStore]: the UPDATE that writes
// the hash moves the user to the next generation.
func (s *Store) SetPasswordHash(ctx context.Context, username string, hash []byte) error {
	return s.update(ctx, "set password hash", username,
		`UPDATE authkit_users SET password_hash = $2, generation = generation + 1 WHERE username = $1`, nonNil(hash))
}

// RehashPassword implements [store.PasswordRehasher]: one statement that
// compares the hash and the generation and writes the new hash, having
// first told the trigger, for this statement's transaction only, that
// this is no password change.
func (s *Store) RehashPassword(ctx context.Context, username string, gen uint64, old, hash []byte) (bool, error) {
	const op = "rehash password"
	if store.ValidateUsername(username) != nil {
		return false, notFound(op)
	}
	var found, replaced bool
	err := s.db.QueryRowContext(ctx, `
		WITH flag AS (SELECT set_config('authkit.rehash', 'on', true)),
		     cur AS (SELECT generation, password_hash FROM authkit_users WHERE username = $1 FOR UPDATE),
		     upd AS (
		         UPDATE authkit_users SET password_hash = $4
		         FROM cur, flag
		         WHERE authkit_users.username = $1 AND cur.generation = $2 AND cur.password_hash = $3
		         RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM cur), EXISTS (SELECT 1 FROM upd)`,
		username, int64(gen), nonNil(old), nonNil(hash)).Scan(&found, &replaced)
	if err != nil {
		return false, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !found {
		return false, notFound(op)
	}
	return replaced, nil
}

// SetRoles implements [store.UserStore]. The next request of any of the
// user's sessions reads the new roles.
func (s *Store) SetRoles(ctx context.Context, username string, roles []string) error {
	if err := store.ValidateRoles(roles); err != nil {
		return fmt.Errorf("sqlstore: set roles: %w", err)
	}
	return s.update(ctx, "set roles", username,
		`UPDATE authkit_users SET roles = string_to_array($2, ',') WHERE username = $1`, encodeRoles(roles))
}

// SetDisabled implements [store.UserStore]. Disabling moves the user to
// the next generation, so re-enabling revives no session.
func (s *Store) SetDisabled(ctx context.Context, username string, disabled bool) error {
	return s.update(ctx, "set disabled", username, `
		UPDATE authkit_users SET disabled = $2,
		    generation = generation + CASE WHEN $2 THEN 1 ELSE 0 END
		WHERE username = $1`, disabled)
}

// update runs an UPDATE of one user, whose name is $1 and value $2.
func (s *Store) update(ctx context.Context, op, username, query string, value any) error {
	if store.ValidateUsername(username) != nil {
		return notFound(op)
	}
	changed, err := rowChanged(s.db.ExecContext(ctx, query, username, value))
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !changed {
		return notFound(op)
	}
	return nil
}

// Ping implements [store.Pinger].
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

// encodeRoles joins roles with commas, which [store.ValidateRoles]
// forbids inside a role; the query splits them into a text[].
func encodeRoles(roles []string) string { return strings.Join(roles, ",") }

// decodeRoles reads the roles column as array_to_json wrote it and checks
// the roles as the kit would have on writing them. It never returns nil.
func decodeRoles(s string) ([]string, error) {
	roles := []string{}
	if err := json.Unmarshal([]byte(s), &roles); err != nil {
		return nil, err
	}
	if roles == nil {
		roles = []string{}
	}
	if err := store.ValidateRoles(roles); err != nil {
		return nil, err
	}
	return roles, nil
}

// nonNil returns b, or an empty slice for nil: the column is NOT NULL
// and a nil []byte is sent as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
