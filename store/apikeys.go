package store

import (
	"context"
	"fmt"
	"time"
)

// Limits on API keys, enforced by [APIKey.Validate].
const (
	// MaxAPIKeyIDLen caps an API key's public ID.
	MaxAPIKeyIDLen = 32
	// MaxAPIKeyNameLen caps the label of a key.
	MaxAPIKeyNameLen = 64
	// MaxAPIKeys caps the keys of one owner, revoked and expired ones
	// not counted.
	MaxAPIKeys = 50
)

// APIKeyTouchInterval is how old the last recorded use of a key must be
// before [APIKeyStore.UseAPIKey] records a new one, so that a key in
// steady use costs one write a minute, not one per request.
const APIKeyTouchInterval = time.Minute

// APIKey is a credential for machines: a cron job, a webhook sender or
// another service acting as its owner, a user or a service account (a
// user without a password). The store keeps the digest of its secret
// only.
type APIKey struct {
	// ID is the key's public ID: 8 to 32 bytes of ASCII letters, digits,
	// '-' and '_'. It is unique per owner.
	ID string
	// Owner is the username the key acts for.
	Owner string
	// Name is the owner's label for it; may be empty.
	Name string
	// Secret is the digest of the key's secret part.
	Secret Digest
	// Roles are the key's own roles. At use, only those the owner still
	// has count (see [APIKey.EffectiveRoles]).
	Roles []string
	// CreatedAt is when the key was added.
	CreatedAt time.Time
	// ExpiresAt ends the key; zero means never.
	ExpiresAt time.Time
	// LastUsed is the last recorded use, recorded at most once a minute
	// by [APIKeyStore.UseAPIKey]; zero before.
	LastUsed time.Time
	// Generation is the owner's [User.Generation] when the key was added:
	// a key of an older generation is dead, so disabling the owner,
	// changing their password or revoking all their sessions also ends
	// their keys.
	Generation uint64
}

// Validate reports whether k can be stored. Errors wrap [ErrInvalid].
func (k APIKey) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: api key: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if len(k.ID) < 8 || len(k.ID) > MaxAPIKeyIDLen {
		return bad("ID must be 8 to %d bytes", MaxAPIKeyIDLen)
	}
	for i := 0; i < len(k.ID); i++ {
		c := k.ID[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return bad("ID byte %d is not a letter, digit, '-' or '_'", i)
		}
	}
	if err := ValidateUsername(k.Owner); err != nil {
		return fmt.Errorf("api key owner: %w", err)
	}
	if len(k.Name) > MaxAPIKeyNameLen {
		return bad("name is longer than %d bytes", MaxAPIKeyNameLen)
	}
	for _, r := range k.Name {
		if r < ' ' || r == 0x7f {
			return bad("name holds a control character")
		}
	}
	if k.Secret.IsZero() {
		return bad("no secret digest")
	}
	if err := ValidateRoles(k.Roles); err != nil {
		return err
	}
	if k.CreatedAt.IsZero() {
		return bad("no creation time")
	}
	if !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(k.CreatedAt) {
		return bad("expires at or before its creation")
	}
	return nil
}

// Live reports whether the key works at now for owner: the owner is
// enabled and still in the key's generation, and the key has not
// expired. This is the one statement of the rule; stores do not apply
// it.
func (k APIKey) Live(now time.Time, owner User) bool {
	return !owner.Disabled && owner.Generation == k.Generation && !k.Expired(now)
}

// Expired reports whether the key's expiry has passed at now: the one
// statement of the expiry rule, which stores apply only to drop keys
// (see [APIKeyStore.AddAPIKey]).
func (k APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// EffectiveRoles returns the key's roles that the owner still has, in
// the key's order: a key never grants more than its owner holds now.
func (k APIKey) EffectiveRoles(owner User) []string {
	out := make([]string, 0, len(k.Roles))
	for _, r := range k.Roles {
		for _, o := range owner.Roles {
			if r == o {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// APIKeyUse is what [APIKeyStore.UseAPIKey] reads in one step: the key,
// and its owner as the store keeps them.
type APIKeyUse struct {
	Key APIKey
	// Owner is the owner's record without its password hash, when the
	// store keeps the owner (OwnerKnown); a store for external users
	// leaves it zero, and the caller reads the owner from its
	// [UserSource].
	Owner      User
	OwnerKnown bool
}

// APIKeyStore keeps API keys. It is an optional capability of a
// session backend or user store; memstore, redisstore and sqlstore have
// it.
//
// Lookups of absent keys, and any key of a username that fails
// [ValidateUsername], return an error wrapping [ErrNotFound]; any error
// that wraps no sentinel is an infrastructure failure. Revoked keys are
// deleted; expired ones read as they are (the caller applies
// [APIKey.Live]) until the store drops them, which it may do at any
// AddAPIKey of their owner.
//
// A store that keeps users (memstore and redisstore by default,
// sqlstore) keeps keys of its own users only, and reads the owner with
// the key; one configured for external users (memstore and redisstore
// with ExternalUsers) keeps keys of any valid username and leaves the
// owner to the caller's [UserSource] (see [APIKeyUse]).
type APIKeyStore interface {
	// AddAPIKey stores k (see [APIKey.Validate]). A key of the same owner
	// and ID fails with [ErrExists]; an owner with [MaxAPIKeys] keys not
	// expired at the store's clock gets [ErrInvalid], and the expired
	// ones may be dropped. A store that keeps users fails with
	// [ErrNotFound] when it has no user k.Owner.
	AddAPIKey(ctx context.Context, k APIKey) error
	// UseAPIKey is the request path's one read: the key of owner with id
	// and, when the store keeps users, the owner, in one step (one round
	// trip; a store may offer a local cache, as redisstore does, whose
	// answers trail a change made through another process by the short
	// delay it documents). It records the use in LastUsed when the last
	// recorded one is [APIKeyTouchInterval] old or more (by the store's
	// clock), and returns the key as it was before that. It applies no
	// rule: a key of a disabled owner or of an older generation is
	// returned like any other, and so is an expired one until it is
	// dropped. A store that keeps users reports a key whose owner it no
	// longer has as [ErrNotFound].
	UseAPIKey(ctx context.Context, owner, id string) (APIKeyUse, error)
	// APIKeys lists the owner's keys, expired ones included, oldest first,
	// ties by ID.
	APIKeys(ctx context.Context, owner string) ([]APIKey, error)
	// ExpireAPIKey moves the key's expiry to at when at is earlier than
	// its expiry (or it had none), for a rotation: the old key works
	// until the new one is deployed. A later at changes nothing; a zero
	// one fails with [ErrInvalid]. [ErrNotFound] when absent.
	ExpireAPIKey(ctx context.Context, owner, id string, at time.Time) error
	// RevokeAPIKey deletes the key; [ErrNotFound] when absent.
	RevokeAPIKey(ctx context.Context, owner, id string) error
}
