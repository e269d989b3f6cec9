package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/gin-authkit/authkit/store"
)

var _ store.ClientStore = (*Store)(nil)

// OAuth clients live in s.clients, by ID, under s.mu, each with roles
// of its own that no caller shares.

// AddClient implements [store.ClientStore].
func (s *Store) AddClient(ctx context.Context, c store.OAuthClient) error {
	if err := ctxErr(ctx, "add client"); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("memstore: add client: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memstore: add client: %w", store.ErrExists)
	}
	c.Roles = slices.Clone(c.Roles)
	s.clients[c.ID] = c
	return nil
}

// Client implements [store.ClientStore].
func (s *Store) Client(ctx context.Context, id string) (store.OAuthClient, error) {
	if err := ctxErr(ctx, "client"); err != nil {
		return store.OAuthClient{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return store.OAuthClient{}, notFound("client")
	}
	c.Roles = slices.Clone(c.Roles)
	return c, nil
}

// Clients implements [store.ClientStore].
func (s *Store) Clients(ctx context.Context) ([]store.OAuthClient, error) {
	if err := ctxErr(ctx, "clients"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.OAuthClient, 0, len(s.clients))
	for _, c := range s.clients {
		c.Roles = slices.Clone(c.Roles)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b store.OAuthClient) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// RemoveClient implements [store.ClientStore].
func (s *Store) RemoveClient(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "remove client"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return notFound("remove client")
	}
	delete(s.clients, id)
	return nil
}
