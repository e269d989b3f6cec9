package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/gin-authkit/authkit/store"
)

// deviceTable holds the users' known devices. It has a mutex of its own,
// like the failure counters: logins under attack read it. Its zero value
// is empty and ready to use. A user's expired devices go when the user's
// devices are next written; each user keeps at most the cap given to
// AddDevice, so the table is bounded by the users who ever logged in.
type deviceTable struct {
	mu     sync.Mutex
	byUser map[string]map[store.Digest]store.Device
}

// AddDevice implements [store.DeviceStore].
func (s *Store) AddDevice(ctx context.Context, username string, d store.Device, max int) error {
	if err := store.ValidateUsername(username); err != nil {
		return fmt.Errorf("memstore: add device: %w", err)
	}
	if err := store.ValidateDevice(d, max); err != nil {
		return fmt.Errorf("memstore: add device: %w", err)
	}
	if err := ctxErr(ctx, "add device"); err != nil {
		return err
	}
	now := s.now()
	t := &s.devices
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byUser == nil {
		t.byUser = make(map[string]map[store.Digest]store.Device)
	}
	mine := t.byUser[username]
	if mine == nil {
		mine = make(map[store.Digest]store.Device)
		t.byUser[username] = mine
	}
	for id, old := range mine {
		if !now.Before(old.ExpiresAt) {
			delete(mine, id)
		}
	}
	delete(mine, d.ID)
	for len(mine) >= max {
		var oldest *store.Device
		for _, o := range mine {
			if oldest == nil || o.CreatedAt.Before(oldest.CreatedAt) ||
				o.CreatedAt.Equal(oldest.CreatedAt) && string(o.ID[:]) < string(oldest.ID[:]) {
				oldest = &o
			}
		}
		delete(mine, oldest.ID)
	}
	mine[d.ID] = d
	return nil
}

// Device implements [store.DeviceStore].
func (s *Store) Device(ctx context.Context, username string, id store.Digest) (store.Device, error) {
	if err := ctxErr(ctx, "device"); err != nil {
		return store.Device{}, err
	}
	now := s.now()
	t := &s.devices
	t.mu.Lock()
	d, ok := t.byUser[username][id]
	t.mu.Unlock()
	if !ok || !now.Before(d.ExpiresAt) {
		return store.Device{}, fmt.Errorf("memstore: device: %w", store.ErrNotFound)
	}
	return d, nil
}

// RevokeDevice implements [store.DeviceStore].
func (s *Store) RevokeDevice(ctx context.Context, username string, id store.Digest) error {
	if err := ctxErr(ctx, "revoke device"); err != nil {
		return err
	}
	t := &s.devices
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byUser[username], id)
	return nil
}

// RevokeDevices implements [store.DeviceStore].
func (s *Store) RevokeDevices(ctx context.Context, username string) error {
	if err := ctxErr(ctx, "revoke devices"); err != nil {
		return err
	}
	t := &s.devices
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byUser, username)
	return nil
}
