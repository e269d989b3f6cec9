package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gin-authkit/authkit/store"
)

var _ store.APIKeyStore = (*Store)(nil)

// API keys live in s.keys, by owner and ID, under s.mu: UseAPIKey reads
// a key and its owner in one step, as the network backends do.

// AddAPIKey implements [store.APIKeyStore]. It drops the owner's expired
// keys first, so that they neither count nor stay forever.
func (s *Store) AddAPIKey(ctx context.Context, k store.APIKey) error {
	if err := ctxErr(ctx, "add api key"); err != nil {
		return err
	}
	if err := k.Validate(); err != nil {
		return fmt.Errorf("memstore: add api key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[k.Owner]; !ok && !s.external {
		return notFound("add api key")
	}
	now := s.now()
	mine := s.keys[k.Owner]
	for id, old := range mine {
		if old.Expired(now) {
			delete(mine, id)
		}
	}
	switch {
	case mine[k.ID] != nil:
		return fmt.Errorf("memstore: add api key: %w", store.ErrExists)
	case len(mine) >= store.MaxAPIKeys:
		return fmt.Errorf("memstore: add api key: %w: more than %d keys", store.ErrInvalid, store.MaxAPIKeys)
	}
	if mine == nil {
		mine = make(map[string]*store.APIKey)
		s.keys[k.Owner] = mine
	}
	k.Roles = slices.Clone(k.Roles)
	mine[k.ID] = &k
	return nil
}

// UseAPIKey implements [store.APIKeyStore].
func (s *Store) UseAPIKey(ctx context.Context, owner, id string) (store.APIKeyUse, error) {
	if err := ctxErr(ctx, "use api key"); err != nil {
		return store.APIKeyUse{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[owner][id]
	if k == nil {
		return store.APIKeyUse{}, notFound("use api key")
	}
	use := store.APIKeyUse{Key: *k}
	use.Key.Roles = slices.Clone(k.Roles)
	if !s.external {
		u, ok := s.users[owner]
		if !ok {
			return store.APIKeyUse{}, notFound("use api key")
		}
		use.Owner = store.User{
			Username: owner, Roles: cloneRoles(u.roles), Disabled: u.disabled,
			CreatedAt: u.created, Generation: u.gen,
		}
		use.OwnerKnown = true
	}
	if now := s.now(); k.LastUsed.IsZero() || now.Sub(k.LastUsed) >= store.APIKeyTouchInterval {
		k.LastUsed = now
	}
	return use, nil
}

// APIKeys implements [store.APIKeyStore].
func (s *Store) APIKeys(ctx context.Context, owner string) ([]store.APIKey, error) {
	if err := ctxErr(ctx, "api keys"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.APIKey, 0, len(s.keys[owner]))
	for _, k := range s.keys[owner] {
		c := *k
		c.Roles = slices.Clone(k.Roles)
		out = append(out, c)
	}
	store.SortAPIKeys(out)
	return out, nil
}

// ExpireAPIKey implements [store.APIKeyStore].
func (s *Store) ExpireAPIKey(ctx context.Context, owner, id string, at time.Time) error {
	if err := ctxErr(ctx, "expire api key"); err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("memstore: expire api key: %w: zero expiry", store.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[owner][id]
	if k == nil {
		return notFound("expire api key")
	}
	if k.ExpiresAt.IsZero() || at.Before(k.ExpiresAt) {
		k.ExpiresAt = at
	}
	return nil
}

// RevokeAPIKey implements [store.APIKeyStore].
func (s *Store) RevokeAPIKey(ctx context.Context, owner, id string) error {
	if err := ctxErr(ctx, "revoke api key"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[owner][id] == nil {
		return notFound("revoke api key")
	}
	delete(s.keys[owner], id)
	if len(s.keys[owner]) == 0 {
		delete(s.keys, owner)
	}
	return nil
}
