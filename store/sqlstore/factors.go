package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gin-authkit/authkit/store"
)

// Second factors (authkit_factors) and recovery codes
// (authkit_recovery_codes), see migrations/002_factors.sql. Counters are
// numeric(20) and travel as decimal text, since bigint and
// database/sql's int64 cannot hold every uint64.

var (
	_ store.FactorStore       = (*Store)(nil)
	_ store.RecoveryCodeStore = (*Store)(nil)
)

// userLockClass is the first key of the transaction-level advisory lock
// that serialises the changes of one user's factors or recovery codes
// (the second is hashtext of the username; two users sharing it only
// wait for each other). The two-key locks do not collide with
// migrateLock's one-key space.
const userLockClass = 0x61757468 // "auth"

// inUserTx runs f in a transaction that holds username's advisory lock.
func (s *Store) inUserTx(ctx context.Context, username string, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", userLockClass, username); err != nil {
		return err
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// AddFactor implements [store.FactorStore]: one transaction under the
// user's advisory lock checks the factor in place and the user's count,
// then inserts or replaces; the unique index on passkey IDs refuses one
// another user holds.
func (s *Store) AddFactor(ctx context.Context, username string, f store.Factor) error {
	const op = "add factor"
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	err := s.inUserTx(ctx, username, func(tx *sql.Tx) error {
		var confirmed sql.NullBool
		var count int
		err := tx.QueryRowContext(ctx, `
			SELECT (SELECT confirmed FROM authkit_factors WHERE username = $1 AND kind = $2 AND id = $3),
			       (SELECT count(*) FROM authkit_factors WHERE username = $1)`,
			username, string(f.Kind), f.ID).Scan(&confirmed, &count)
		switch {
		case err != nil:
			return err
		case confirmed.Valid && confirmed.Bool:
			return store.ErrExists
		case !confirmed.Valid && count >= store.MaxFactors:
			return fmt.Errorf("%w: more than %d factors", store.ErrInvalid, store.MaxFactors)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO authkit_factors (username, kind, id, name, data, confirmed, counter, created_at, last_used)
			VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9)
			ON CONFLICT (username, kind, id) DO UPDATE SET
			    name = EXCLUDED.name, data = EXCLUDED.data, confirmed = EXCLUDED.confirmed,
			    counter = EXCLUDED.counter, created_at = EXCLUDED.created_at, last_used = EXCLUDED.last_used`,
			username, string(f.Kind), f.ID, f.Name, f.Data, f.Confirmed,
			strconv.FormatUint(f.Counter, 10), f.CreatedAt, nullTime(f.LastUsed))
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("credential held by another user: %w", store.ErrExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return nil
}

// factorColumns are the columns scanFactor reads, in its order.
const factorColumns = `kind, id, name, data, confirmed, counter::text, created_at, last_used`

// scanFactor reads one row of factorColumns.
func scanFactor(row interface{ Scan(...any) error }) (store.Factor, error) {
	var (
		f       store.Factor
		kind    string
		counter string
		last    sql.NullTime
	)
	if err := row.Scan(&kind, &f.ID, &f.Name, &f.Data, &f.Confirmed, &counter, &f.CreatedAt, &last); err != nil {
		return store.Factor{}, err
	}
	n, err := strconv.ParseUint(counter, 10, 64)
	if err != nil {
		return store.Factor{}, fmt.Errorf("counter column: %w", err)
	}
	f.Kind, f.Counter = store.FactorKind(kind), n
	if last.Valid {
		f.LastUsed = last.Time
	}
	return f, nil
}

// Factors implements [store.FactorStore]. The order is applied in Go
// ([store.SortFactors]), not by the database's collation.
func (s *Store) Factors(ctx context.Context, username string) ([]store.Factor, error) {
	const op = "factors"
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+factorColumns+` FROM authkit_factors WHERE username = $1`, username)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	defer rows.Close()
	var out []store.Factor
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	store.SortFactors(out)
	return out, nil
}

// FactorOwner implements [store.FactorStore] with one lookup in the
// unique index of credential IDs.
func (s *Store) FactorOwner(ctx context.Context, kind store.FactorKind, id string) (string, error) {
	const op = "factor owner"
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if kind == store.TOTP {
		return "", notFound(op)
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `
		SELECT username FROM authkit_factors WHERE kind = $1 AND id = $2 AND kind <> 'totp'`,
		string(kind), id).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound(op)
	}
	if err != nil {
		return "", fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return owner, nil
}

// UseFactor implements [store.FactorStore] with one statement: an
// UPDATE whose WHERE clause is the counter rule ([store.Accepts]) and
// which RETURNING the factor as stored. When it changes nothing, the
// same statement reports (from its snapshot) whether the factor exists,
// which tells a refused counter from an absent factor; of concurrent
// uses, those that waited for the winner's row lock find the rule false
// on the row it wrote.
func (s *Store) UseFactor(ctx context.Context, username string, kind store.FactorKind, id string, counter uint64, at time.Time) (store.Factor, error) {
	const op = "use factor"
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return store.Factor{}, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return store.Factor{}, notFound(op)
	}
	rows, err := s.db.QueryContext(ctx, `
		WITH used AS (
		    UPDATE authkit_factors SET counter = $4::numeric, last_used = $5, confirmed = true
		    WHERE username = $1 AND kind = $2 AND id = $3
		      AND ($4::numeric > counter OR ($4::numeric = 0 AND counter = 0))
		    RETURNING `+factorColumns+`)
		SELECT true, `+factorColumns+` FROM used
		UNION ALL
		SELECT false, `+factorColumns+` FROM authkit_factors
		WHERE username = $1 AND kind = $2 AND id = $3 AND NOT EXISTS (SELECT 1 FROM used)`,
		username, string(kind), id, strconv.FormatUint(counter, 10), nullTime(at))
	if err != nil {
		return store.Factor{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return store.Factor{}, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return store.Factor{}, notFound(op)
	}
	var accepted bool
	f, err := scanFactor(scanFunc(func(dest ...any) error { return rows.Scan(append([]any{&accepted}, dest...)...) }))
	if err != nil {
		return store.Factor{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !accepted {
		return store.Factor{}, fmt.Errorf("sqlstore: %s: %w", op, store.ErrReused)
	}
	return f, nil
}

// scanFunc adapts a function to scanFactor's row.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// RemoveFactor implements [store.FactorStore].
func (s *Store) RemoveFactor(ctx context.Context, username string, kind store.FactorKind, id string) error {
	const op = "remove factor"
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return notFound(op)
	}
	changed, err := rowChanged(s.db.ExecContext(ctx,
		`DELETE FROM authkit_factors WHERE username = $1 AND kind = $2 AND id = $3`, username, string(kind), id))
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !changed {
		return notFound(op)
	}
	return nil
}

// SetRecoveryCodes implements [store.RecoveryCodeStore]: one
// transaction, under the user's advisory lock, deletes the old codes and
// inserts the new.
func (s *Store) SetRecoveryCodes(ctx context.Context, username string, codes []store.Digest) error {
	const op = "set recovery codes"
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if err := store.ValidateRecoveryCodes(codes); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	hexes := make([]string, len(codes))
	for i, c := range codes {
		hexes[i] = hex.EncodeToString(c[:])
	}
	err := s.inUserTx(ctx, username, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM authkit_recovery_codes WHERE username = $1`, username); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO authkit_recovery_codes (username, digest)
			SELECT $1, decode(c, 'hex') FROM unnest(string_to_array($2, ',')) AS c`,
			username, strings.Join(hexes, ","))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return nil
}

// UseRecoveryCode implements [store.RecoveryCodeStore] with one DELETE …
// RETURNING: of concurrent uses of a code, one deletes the row. The
// count left is read in the same statement, from its snapshot, minus
// the code used, so concurrent uses of different codes may each report
// one more than is left once both are done.
func (s *Store) UseRecoveryCode(ctx context.Context, username string, code store.Digest) (int, error) {
	const op = "use recovery code"
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return 0, notFound(op)
	}
	var used, before int
	err := s.db.QueryRowContext(ctx, `
		WITH used AS (
		    DELETE FROM authkit_recovery_codes WHERE username = $1 AND digest = $2 RETURNING 1)
		SELECT (SELECT count(*) FROM used), (SELECT count(*) FROM authkit_recovery_codes WHERE username = $1)`,
		username, code[:]).Scan(&used, &before)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if used == 0 {
		return 0, notFound(op)
	}
	return max(before-1, 0), nil
}

// RecoveryCodes implements [store.RecoveryCodeStore].
func (s *Store) RecoveryCodes(ctx context.Context, username string) (int, error) {
	const op = "recovery codes"
	if store.ValidateUsername(username) != nil {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return 0, nil
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM authkit_recovery_codes WHERE username = $1`, username).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return n, nil
}

// nullTime is t for the database, NULL for the zero time.
func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }
