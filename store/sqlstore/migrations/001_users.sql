-- authkit users in PostgreSQL (store/sqlstore), migration 001.
--
-- Safe to run again: it creates what is missing and replaces the
-- trigger function. sqlstore.Migrate runs it; with a migration tool of
-- your own, copy this file into its directory.

CREATE TABLE IF NOT EXISTS authkit_users (
    -- The canonical username (store.CanonicalUsername: NFKC, lower case);
    -- a row whose name is not canonical can never log in.
    username      text        PRIMARY KEY,
    -- bcrypt, or argon2id in PHC string format.
    password_hash bytea       NOT NULL,
    -- Role names: no commas, no spaces, no duplicates (store.ValidateRoles).
    roles         text[]      NOT NULL DEFAULT '{}',
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Moves on whenever the password hash changes or the user is
    -- disabled, which ends the user's sessions on their next request.
    -- The trigger below keeps it so for changes made by hand too.
    generation    bigint      NOT NULL DEFAULT 1
);

CREATE OR REPLACE FUNCTION authkit_users_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A generation never goes back: that would revive ended sessions.
    IF NEW.generation < OLD.generation THEN
        NEW.generation := OLD.generation;
    END IF;
    -- An UPDATE that changes the password hash or disables the user
    -- without moving the generation itself (an administrator's UPDATE,
    -- say) moves it here. A re-hash at login keeps the same password and
    -- says so with the transaction setting authkit.rehash.
    IF NEW.generation = OLD.generation AND (
           (NEW.password_hash IS DISTINCT FROM OLD.password_hash
            AND current_setting('authkit.rehash', true) IS DISTINCT FROM 'on')
        OR (NEW.disabled AND NOT OLD.disabled)) THEN
        NEW.generation := OLD.generation + 1;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS authkit_users_generation ON authkit_users;
CREATE TRIGGER authkit_users_generation
    BEFORE UPDATE ON authkit_users
    FOR EACH ROW EXECUTE FUNCTION authkit_users_generation();

-- Every committed change of a user is announced on the channel
-- authkit_users, with the username as payload (an empty payload after a
-- TRUNCATE: every user), for the caches of sqlstore.NewCache.
CREATE OR REPLACE FUNCTION authkit_users_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('authkit_users', '');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('authkit_users', OLD.username);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.username <> OLD.username) THEN
        PERFORM pg_notify('authkit_users', NEW.username);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS authkit_users_notify ON authkit_users;
CREATE TRIGGER authkit_users_notify
    AFTER INSERT OR UPDATE OR DELETE ON authkit_users
    FOR EACH ROW EXECUTE FUNCTION authkit_users_notify();
DROP TRIGGER IF EXISTS authkit_users_notify_truncate ON authkit_users;
CREATE TRIGGER authkit_users_notify_truncate
    AFTER TRUNCATE ON authkit_users
    FOR EACH STATEMENT EXECUTE FUNCTION authkit_users_notify();
