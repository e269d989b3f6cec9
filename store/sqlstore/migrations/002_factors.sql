-- authkit second factors and recovery codes in PostgreSQL
-- (store/sqlstore), migration 002.
--
-- Safe to run again: it creates what is missing. sqlstore.Migrate runs
-- it after 001; with a migration tool of your own, copy this file into
-- its directory. The tables do not reference authkit_users: factors may
-- belong to users kept elsewhere (any store.UserSource). To delete a
-- user by hand, delete its rows here too.

CREATE TABLE IF NOT EXISTS authkit_factors (
    -- The canonical username, as in authkit_users.
    username   text        NOT NULL,
    -- 'totp' or 'passkey' (store.FactorKind).
    kind       text        NOT NULL,
    -- 'totp' for a TOTP factor; a passkey's credential ID in base64url.
    id         text        NOT NULL,
    -- The user's label for the factor.
    name       text        NOT NULL DEFAULT '',
    -- Opaque to the store: the sealed TOTP secret, or the encoded
    -- passkey credential.
    data       bytea       NOT NULL,
    -- false while the enrolment waits for its first valid use.
    confirmed  boolean     NOT NULL DEFAULT false,
    -- The last TOTP time step accepted, or the passkey's signature
    -- counter: a uint64, which bigint cannot hold.
    counter    numeric(20) NOT NULL DEFAULT 0
               CHECK (counter BETWEEN 0 AND 18446744073709551615),
    created_at timestamptz NOT NULL,
    -- NULL before the first accepted use.
    last_used  timestamptz,
    PRIMARY KEY (username, kind, id)
);

-- A passkey's credential ID belongs to one user (FactorOwner's lookup);
-- TOTP factors all have the ID 'totp'.
CREATE UNIQUE INDEX IF NOT EXISTS authkit_factors_credential
    ON authkit_factors (kind, id) WHERE kind <> 'totp';

CREATE TABLE IF NOT EXISTS authkit_recovery_codes (
    username text  NOT NULL,
    -- The SHA-256 digest of a single-use recovery code.
    digest   bytea NOT NULL CHECK (length(digest) = 32),
    PRIMARY KEY (username, digest)
);
