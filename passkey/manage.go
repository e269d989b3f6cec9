package passkey

import (
	"context"
	"fmt"
	"time"

	"github.com/gin-authkit/authkit/store"
)

// Info describes one of a user's passkeys.
type Info struct {
	// ID is the credential ID, base64url without padding.
	ID string
	// Name is the label the user gave it; may be empty.
	Name string
	// CreatedAt is when it was registered.
	CreatedAt time.Time
	// LastUsed is the time of its last accepted sign-in; zero before.
	LastUsed time.Time
}

func info(f store.Factor) Info {
	return Info{ID: f.ID, Name: f.Name, CreatedAt: f.CreatedAt, LastUsed: f.LastUsed}
}

// List returns username's passkeys, oldest first. An unknown user has
// none.
func (p *Passkeys) List(ctx context.Context, username string) ([]Info, error) {
	factors, err := p.factors.Factors(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("passkey: list: %w", err)
	}
	var out []Info
	for _, f := range factors {
		if f.Kind == store.Passkey && f.Confirmed {
			out = append(out, info(f))
		}
	}
	return out, nil
}

// Revoke deletes username's passkey id (an [Info.ID]); it can no longer
// sign in, and a ceremony already begun with it fails. A passkey the user
// does not hold fails with an error wrapping store.ErrNotFound.
//
// The authenticator keeps the credential: the browser may still offer it
// for a discoverable sign-in, which is then refused.
func (p *Passkeys) Revoke(ctx context.Context, username, id string) error {
	if err := p.factors.RemoveFactor(ctx, username, store.Passkey, id); err != nil {
		return fmt.Errorf("passkey: revoke: %w", err)
	}
	return nil
}
