-- authkit API keys in PostgreSQL (store/sqlstore), migration 003.
--
-- Safe to run again: it creates what is missing. sqlstore.Migrate runs
-- it after 002; with a migration tool of your own, copy this file into
-- its directory. Keys belong to users of authkit_users (AddAPIKey checks
-- the owner, UseAPIKey joins it), but the table does not reference it,
-- so that authkit_users can still be truncated, as the factor tables
-- do: a key whose owner is gone does not work, and one of a user
-- created again under the name is of another generation. To delete a
-- user by hand, delete its rows here too.

CREATE TABLE IF NOT EXISTS authkit_api_keys (
    -- The owner's canonical username.
    username   text        NOT NULL,
    -- The key's public ID (store.APIKey.Validate: 8 to 32 of [A-Za-z0-9_-]),
    -- unique per owner.
    id         text        NOT NULL,
    -- The owner's label for the key.
    name       text        NOT NULL DEFAULT '',
    -- The SHA-256 digest of the key's secret part; never the secret.
    secret     bytea       NOT NULL CHECK (length(secret) = 32),
    -- The key's own roles; only those the owner still has count.
    roles      text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    -- NULL for a key that never expires.
    expires_at timestamptz,
    -- NULL before the first use; recorded at most once a minute.
    last_used  timestamptz,
    -- The owner's generation when the key was added (a uint64 kept in
    -- bigint, as authkit_users.generation): a key of another generation
    -- is dead.
    generation bigint      NOT NULL,
    PRIMARY KEY (username, id)
);
