package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// API keys (authkit_api_keys, see migrations/003_apikeys.sql). Keys
// reference authkit_users, so the store keeps keys of its own users
// only, and UseAPIKey reads the owner with the key.

var _ store.APIKeyStore = (*Store)(nil)

// ownerGone reports, for a call on owner's keys, an invalid username as
// not found, after a context that is over: a name that fails
// [store.ValidateUsername] has no keys, and needs no query.
func ownerGone(ctx context.Context, op, owner string) error {
	if store.ValidateUsername(owner) == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return notFound(op)
}

// AddAPIKey implements [store.APIKeyStore]: one transaction under the
// owner's advisory lock (the one of the factors) checks the owner,
// deletes the owner's expired keys, counts the others and inserts, so
// concurrent adds never pass [store.MaxAPIKeys].
func (s *Store) AddAPIKey(ctx context.Context, k store.APIKey) error {
	const op = "add api key"
	if err := k.Validate(); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	err := s.inUserTx(ctx, k.Owner, func(tx *sql.Tx) error {
		var owner bool
		var count int
		err := tx.QueryRowContext(ctx, `
			WITH dropped AS (
			    DELETE FROM authkit_api_keys
			    WHERE username = $1 AND expires_at <= $2
			    RETURNING id)
			SELECT EXISTS (SELECT 1 FROM authkit_users WHERE username = $1),
			       (SELECT count(*) FROM authkit_api_keys WHERE username = $1)
			     - (SELECT count(*) FROM dropped)`,
			k.Owner, s.now()).Scan(&owner, &count)
		switch {
		case err != nil:
			return err
		case !owner:
			return store.ErrNotFound
		case count >= store.MaxAPIKeys:
			return fmt.Errorf("%w: more than %d keys", store.ErrInvalid, store.MaxAPIKeys)
		}
		res, err := tx.ExecContext(ctx, `
			INSERT INTO authkit_api_keys (username, id, name, secret, roles, created_at, expires_at, last_used, generation)
			VALUES ($1, $2, $3, $4, string_to_array($5, ','), $6, $7, $8, $9)
			ON CONFLICT (username, id) DO NOTHING`,
			k.Owner, k.ID, k.Name, k.Secret[:], encodeRoles(k.Roles), k.CreatedAt,
			nullTime(k.ExpiresAt), nullTime(k.LastUsed), int64(k.Generation))
		if added, err := rowChanged(res, err); err != nil || !added {
			return cmpErr(err, store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return nil
}

// cmpErr returns err, or sentinel when err is nil.
func cmpErr(err, sentinel error) error {
	if err != nil {
		return err
	}
	return sentinel
}

// apiKeyColumns are the columns scanKey reads, of a table aliased k.
const apiKeyColumns = `k.name, k.secret, array_to_json(k.roles)::text, k.created_at, k.expires_at, k.last_used, k.generation`

// scanKey scans apiKeyColumns, and then more, into k.
func scanKey(row interface{ Scan(...any) error }, k *store.APIKey, more ...any) error {
	var (
		secret        []byte
		roles         string
		expires, last sql.NullTime
		gen           int64
	)
	err := row.Scan(append([]any{&k.Name, &secret, &roles, &k.CreatedAt, &expires, &last, &gen}, more...)...)
	if err != nil {
		return err
	}
	if len(secret) != len(k.Secret) {
		return errors.New("secret column is not a 32-byte digest")
	}
	copy(k.Secret[:], secret)
	if k.Roles, err = decodeRoles(roles); err != nil {
		return fmt.Errorf("roles column: %v", err)
	}
	k.ExpiresAt, k.LastUsed, k.Generation = expires.Time, last.Time, uint64(gen)
	return nil
}

// UseAPIKey implements [store.APIKeyStore] with one statement: it reads
// the key and its owner (joined from authkit_users) from the
// statement's snapshot, and records the use in the same statement when
// the last one is [store.APIKeyTouchInterval] old or more, so it
// returns the key as it was before. Of concurrent uses, the row lock
// lets one record it.
func (s *Store) UseAPIKey(ctx context.Context, owner, id string) (store.APIKeyUse, error) {
	const op = "use api key"
	if err := ownerGone(ctx, op, owner); err != nil {
		return store.APIKeyUse{}, err
	}
	use := store.APIKeyUse{Key: store.APIKey{ID: id, Owner: owner}, OwnerKnown: true}
	o := &use.Owner
	o.Username = owner
	var (
		roles string
		gen   int64
	)
	row := s.db.QueryRowContext(ctx, `
		WITH touch AS (
		    UPDATE authkit_api_keys SET last_used = $3::timestamptz
		    WHERE username = $1 AND id = $2
		      AND (last_used IS NULL OR last_used <= $3::timestamptz - make_interval(secs => $4)))
		SELECT `+apiKeyColumns+`, array_to_json(u.roles)::text, u.disabled, u.created_at, u.generation
		FROM authkit_api_keys k JOIN authkit_users u USING (username)
		WHERE k.username = $1 AND k.id = $2`,
		owner, id, s.now(), store.APIKeyTouchInterval.Seconds())
	err := scanKey(row, &use.Key, &roles, &o.Disabled, &o.CreatedAt, &gen)
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKeyUse{}, notFound(op)
	}
	if err != nil {
		return store.APIKeyUse{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if o.Roles, err = decodeRoles(roles); err != nil {
		return store.APIKeyUse{}, fmt.Errorf("sqlstore: %s: owner %q: roles column: %v", op, owner, err)
	}
	o.Generation = uint64(gen)
	return use, nil
}

// APIKeys implements [store.APIKeyStore].
func (s *Store) APIKeys(ctx context.Context, owner string) ([]store.APIKey, error) {
	const op = "api keys"
	if err := ownerGone(ctx, op, owner); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyColumns+`, k.id FROM authkit_api_keys k WHERE k.username = $1`, owner)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k := store.APIKey{Owner: owner}
		var id string
		if err := scanKey(rows, &k, &id); err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		k.ID = id
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	store.SortAPIKeys(out)
	return out, nil
}

// ExpireAPIKey implements [store.APIKeyStore] with one statement.
func (s *Store) ExpireAPIKey(ctx context.Context, owner, id string, at time.Time) error {
	const op = "expire api key"
	if at.IsZero() {
		return fmt.Errorf("sqlstore: %s: %w: zero expiry", op, store.ErrInvalid)
	}
	if err := ownerGone(ctx, op, owner); err != nil {
		return err
	}
	var found bool
	err := s.db.QueryRowContext(ctx, `
		WITH upd AS (
		    UPDATE authkit_api_keys SET expires_at = $3
		    WHERE username = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3))
		SELECT EXISTS (SELECT 1 FROM authkit_api_keys WHERE username = $1 AND id = $2)`,
		owner, id, at).Scan(&found)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !found {
		return notFound(op)
	}
	return nil
}

// RevokeAPIKey implements [store.APIKeyStore] with one DELETE.
func (s *Store) RevokeAPIKey(ctx context.Context, owner, id string) error {
	const op = "revoke api key"
	if err := ownerGone(ctx, op, owner); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM authkit_api_keys WHERE username = $1 AND id = $2`, owner, id)
	deleted, err := rowChanged(res, err)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if !deleted {
		return notFound(op)
	}
	return nil
}
