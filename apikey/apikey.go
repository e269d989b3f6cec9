package apikey

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// Prefix starts every key, so that secret scanners can match it:
//
//	ak_<base64url(owner)>.<id>.<base64url(32-byte secret)>
//
// The owner is in the key because every record of a user shares one Redis
// hash slot: the store must know the owner before it can find the key.
const Prefix = "ak_"

// Lengths of a key's random parts.
const (
	idBytes     = 12 // 16 base64url characters
	secretBytes = 32 // 256 bits
)

var b64 = base64.RawURLEncoding

// Errors of Keys. Check them with errors.Is. An error that wraps none of
// them, nor store.ErrInvalid, is the store's failure.
var (
	// ErrConfig reports an invalid [Config].
	ErrConfig = errors.New("apikey: invalid config")
	// ErrRejected: the key is malformed, unknown, revoked, expired, or its
	// owner is disabled or moved on (password change, log out
	// everywhere). One error for all, so an answer does not say which.
	ErrRejected = errors.New("apikey: key refused")
	// ErrRoles: a key asked for a role its owner does not have.
	ErrRoles = errors.New("apikey: the owner does not have every role asked for")
	// ErrNoOwner: the owner does not exist or is disabled.
	ErrNoOwner = errors.New("apikey: no such enabled user")
	// ErrNotFound: the owner has no key with that ID.
	ErrNotFound = errors.New("apikey: no such key")
)

// Config configures [New]. Zero values mean the defaults stated per field.
type Config struct {
	// Store keeps the keys. Required.
	Store store.APIKeyStore
	// Users is where owners live. Required: keys are checked against
	// their owner's roles, state and generation.
	Users store.UserSource
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Keys creates, checks, lists, rotates and revokes API keys. It needs no
// HTTP machinery. It is safe for concurrent use.
type Keys struct {
	cfg Config
}

// New validates cfg and returns Keys.
func New(cfg Config) (*Keys, error) {
	if cfg.Store == nil || cfg.Users == nil {
		return nil, fmt.Errorf("%w: Store and Users are required", ErrConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Keys{cfg: cfg}, nil
}

// Spec is what [Keys.Create] makes.
type Spec struct {
	// Name is a label for the owner's list; may be empty.
	Name string
	// Roles are the key's roles, each one the owner's; nil gives none
	// (the key authenticates, and routes that need a role refuse it).
	Roles []string
	// TTL ends the key that long after its creation; zero means never.
	TTL time.Duration
}

// Create makes a key for owner (canonical username) and returns it: raw
// is the whole key, shown once; the store keeps only its secret's digest.
// An owner that does not exist or is disabled is [ErrNoOwner]; a role the
// owner lacks is [ErrRoles]; a bad name or too many keys wrap
// store.ErrInvalid.
func (k *Keys) Create(ctx context.Context, owner string, spec Spec) (raw string, key store.APIKey, err error) {
	u, err := k.owner(ctx, owner)
	if err != nil {
		return "", store.APIKey{}, err
	}
	for _, r := range spec.Roles {
		if !slices.Contains(u.Roles, r) {
			return "", store.APIKey{}, fmt.Errorf("%w: %q", ErrRoles, r)
		}
	}
	if spec.TTL < 0 {
		return "", store.APIKey{}, fmt.Errorf("apikey: create: %w: negative TTL", store.ErrInvalid)
	}
	now := k.cfg.Now()
	key = store.APIKey{Owner: u.Username, Name: spec.Name, Roles: slices.Clone(spec.Roles), CreatedAt: now, Generation: u.Generation}
	if spec.TTL > 0 {
		key.ExpiresAt = now.Add(spec.TTL)
	}
	return k.add(ctx, key)
}

// add gives key a new ID and secret and stores it.
func (k *Keys) add(ctx context.Context, key store.APIKey) (string, store.APIKey, error) {
	var id [idBytes]byte
	var secret [secretBytes]byte
	_, _ = rand.Read(id[:]) // never fails: since Go 1.24 it crashes the program instead
	_, _ = rand.Read(secret[:])
	key.ID = b64.EncodeToString(id[:])
	key.Secret = store.HashSecret(secret[:])
	if err := k.cfg.Store.AddAPIKey(ctx, key); err != nil {
		return "", store.APIKey{}, fmt.Errorf("apikey: create: %w", err)
	}
	raw := Prefix + b64.EncodeToString([]byte(key.Owner)) + "." + key.ID + "." + b64.EncodeToString(secret[:])
	return raw, key, nil
}

// owner reads an enabled owner.
func (k *Keys) owner(ctx context.Context, name string) (store.User, error) {
	u, err := k.cfg.Users.User(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("%w: %q", ErrNoOwner, name)
	case err != nil:
		return store.User{}, fmt.Errorf("apikey: owner: %w", err)
	case u.Disabled:
		return store.User{}, fmt.Errorf("%w: %q is disabled", ErrNoOwner, name)
	}
	return u, nil
}

// Rotate makes a successor of the owner's key id, with its name and
// roles (those the owner still has) and its remaining lifetime, and
// makes the old key expire overlap from now (at once for zero), so that
// the new one can be deployed while the old one still works.
func (k *Keys) Rotate(ctx context.Context, owner, id string, overlap time.Duration) (string, store.APIKey, error) {
	if overlap < 0 {
		return "", store.APIKey{}, fmt.Errorf("apikey: rotate: %w: negative overlap", store.ErrInvalid)
	}
	old, err := k.find(ctx, owner, id)
	if err != nil {
		return "", store.APIKey{}, err
	}
	u, err := k.owner(ctx, owner)
	if err != nil {
		return "", store.APIKey{}, err
	}
	now := k.cfg.Now()
	if !old.Live(now, u) {
		return "", store.APIKey{}, fmt.Errorf("%w: %s is no longer live", ErrNotFound, id)
	}
	next := store.APIKey{Owner: u.Username, Name: old.Name, Roles: old.EffectiveRoles(u), CreatedAt: now,
		ExpiresAt: old.ExpiresAt, Generation: u.Generation}
	raw, next, err := k.add(ctx, next)
	if err != nil {
		return "", store.APIKey{}, err
	}
	if err := k.cfg.Store.ExpireAPIKey(ctx, owner, id, now.Add(overlap)); err != nil {
		return "", store.APIKey{}, fmt.Errorf("apikey: rotate: the new key %s exists, but the old one's expiry was not set: %w", next.ID, err)
	}
	return raw, next, nil
}

// find returns the owner's key id.
func (k *Keys) find(ctx context.Context, owner, id string) (store.APIKey, error) {
	list, err := k.List(ctx, owner)
	if err != nil {
		return store.APIKey{}, err
	}
	for _, key := range list {
		if key.ID == id {
			return key, nil
		}
	}
	return store.APIKey{}, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// List returns the owner's keys, oldest first; their secrets are not
// there to show.
func (k *Keys) List(ctx context.Context, owner string) ([]store.APIKey, error) {
	list, err := k.cfg.Store.APIKeys(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("apikey: list: %w", err)
	}
	return list, nil
}

// Revoke deletes the owner's key id; [ErrNotFound] when there is none.
func (k *Keys) Revoke(ctx context.Context, owner, id string) error {
	err := k.cfg.Store.RevokeAPIKey(ctx, owner, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("apikey: revoke: %w", err)
	}
	return nil
}

// RevokeAll deletes every key of the owner: "log out everywhere" ends
// keys as it ends sessions. (With users kept in the store, the owner's
// new generation already ends them; with users kept apart, only this
// does.)
func (k *Keys) RevokeAll(ctx context.Context, owner string) error {
	list, err := k.List(ctx, owner)
	if err != nil {
		return err
	}
	for _, key := range list {
		if err := k.cfg.Store.RevokeAPIKey(ctx, owner, key.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("apikey: revoke all: %w", err)
		}
	}
	return nil
}

// Principal is who a valid key acts for.
type Principal struct {
	// Owner is the key's owner.
	Owner string
	// Roles are the key's roles that the owner still has.
	Roles []string
	// ID is the key's public ID.
	ID string
}

// Is reports whether s has the shape of an API key (its prefix), so that
// a caller can route it to [Keys.Verify] rather than to a token verifier.
func Is(s string) bool { return strings.HasPrefix(s, Prefix) }

// Parse splits a key into its owner, ID and secret; [ErrRejected] when it
// is not one.
func Parse(raw string) (owner, id string, secret []byte, err error) {
	rest, ok := strings.CutPrefix(raw, Prefix)
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 3 {
		return "", "", nil, fmt.Errorf("%w: malformed", ErrRejected)
	}
	o, err1 := b64.DecodeString(parts[0])
	s, err2 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(s) != secretBytes || store.ValidateUsername(string(o)) != nil ||
		len(parts[1]) < 8 || len(parts[1]) > store.MaxAPIKeyIDLen {
		return "", "", nil, fmt.Errorf("%w: malformed", ErrRejected)
	}
	return string(o), parts[1], s, nil
}

// Verify checks raw in one store read (and, when the store does not keep
// the owner, a read of the owner from Users) and returns whom it
// acts for. A key that is malformed, unknown, revoked or expired, whose
// secret is wrong, or whose owner is disabled or moved on is
// [ErrRejected]; any other error is the store's failure.
func (k *Keys) Verify(ctx context.Context, raw string) (Principal, error) {
	owner, id, secret, err := Parse(raw)
	if err != nil {
		return Principal{}, err
	}
	use, err := k.useWithOwner(ctx, owner, id)
	if err != nil {
		return Principal{}, err
	}
	want := store.HashSecret(secret)
	if subtle.ConstantTimeCompare(want[:], use.Key.Secret[:]) != 1 {
		return Principal{}, fmt.Errorf("%w: wrong secret", ErrRejected)
	}
	if !use.Key.Live(k.cfg.Now(), use.Owner) {
		return Principal{}, fmt.Errorf("%w: expired, or its owner changed", ErrRejected)
	}
	return Principal{Owner: use.Key.Owner, Roles: use.Key.EffectiveRoles(use.Owner), ID: use.Key.ID}, nil
}

// useWithOwner reads the key and its owner: from the store in one step,
// or, when the store does not keep users, from Users after it (whose
// cache, such as sqlstore.Cache's, usually answers without a round trip).
func (k *Keys) useWithOwner(ctx context.Context, owner, id string) (store.APIKeyUse, error) {
	use, err := k.cfg.Store.UseAPIKey(ctx, owner, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.APIKeyUse{}, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err != nil {
		return store.APIKeyUse{}, fmt.Errorf("apikey: verify: %w", err)
	}
	if !use.OwnerKnown {
		u, err := k.cfg.Users.User(ctx, owner)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.APIKeyUse{}, fmt.Errorf("%w: owner gone", ErrRejected)
		case err != nil:
			return store.APIKeyUse{}, fmt.Errorf("apikey: verify: owner: %w", err)
		}
		use.Owner = u
	}
	return use, nil
}
