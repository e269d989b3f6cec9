package store

import (
	"context"
	"fmt"
	"time"
)

// Limits on OAuth clients, enforced by [OAuthClient.Validate].
const (
	MaxClientIDLen = 64
	// MinClientSecretLen is the shortest client secret to register:
	// secrets are machine-generated, so a fast digest is enough only
	// when they are long enough not to be guessed. Whoever hashes the
	// secret checks it; a store sees only the digest and cannot.
	MinClientSecretLen = 32
)

// OAuthClient is an OAuth 2.0 client registered in a store, for the
// client_credentials grant (RFC 6749 §4.4): a service that obtains access
// tokens with its own credentials, acting as itself.
type OAuthClient struct {
	// ID is the client_id: 1 to 64 bytes of ASCII letters, digits and
	// "._-".
	ID string
	// Secret is the SHA-256 digest of the client_secret.
	Secret Digest
	// Roles are the roles its access tokens carry.
	Roles []string
	// CreatedAt is when it was registered.
	CreatedAt time.Time
}

// Validate reports whether c can be stored. Errors wrap [ErrInvalid].
func (c OAuthClient) Validate() error {
	if c.ID == "" || len(c.ID) > MaxClientIDLen {
		return fmt.Errorf("%w: client id must be 1 to %d bytes", ErrInvalid, MaxClientIDLen)
	}
	for i := 0; i < len(c.ID); i++ {
		b := c.ID[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return fmt.Errorf("%w: client id byte %d is not a letter, digit, '.', '_' or '-'", ErrInvalid, i)
		}
	}
	if c.Secret.IsZero() {
		return fmt.Errorf("%w: client without a secret digest", ErrInvalid)
	}
	if c.CreatedAt.IsZero() {
		return fmt.Errorf("%w: client without a creation time", ErrInvalid)
	}
	return ValidateRoles(c.Roles)
}

// ClientStore keeps registered OAuth clients. It is an optional
// capability of a session backend; memstore and redisstore have it.
// Absent clients, and IDs that no valid client can have, read as
// [ErrNotFound]; any error that wraps no sentinel is an infrastructure
// failure.
type ClientStore interface {
	// AddClient registers c (see [OAuthClient.Validate]); an existing ID
	// fails with [ErrExists].
	AddClient(ctx context.Context, c OAuthClient) error
	// Client returns the client id.
	Client(ctx context.Context, id string) (OAuthClient, error)
	// Clients lists the clients, ordered by ID.
	Clients(ctx context.Context) ([]OAuthClient, error)
	// RemoveClient deletes the client id; [ErrNotFound] when absent.
	RemoveClient(ctx context.Context, id string) error
}
