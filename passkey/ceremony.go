package passkey

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gin-authkit/authkit/store"
)

// The purposes a ceremony is begun for; a finish checks it.
const (
	purposeRegister = "register"
	purposeLogin    = "login"
)

// ceremonySecretLen is the length of the random secret a ceremony string
// carries; the store keeps only its digest.
const ceremonySecretLen = 32

// ceremony is what a begin leaves in the ChallengeStore for its finish.
type ceremony struct {
	Purpose string `json:"p"`
	// Username is the user the ceremony is for; empty for a discoverable
	// sign-in, where the credential names its owner.
	Username string `json:"u,omitempty"`
	// Name is the label a registration gives the new passkey.
	Name    string               `json:"n,omitempty"`
	Session webauthn.SessionData `json:"s"`
}

// put stores c under the digest of a fresh random secret until the
// timeout and returns the secret, base64url without padding.
func (p *Passkeys) put(ctx context.Context, c ceremony) (string, error) {
	value, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("passkey: encode ceremony: %w", err)
	}
	secret := make([]byte, ceremonySecretLen)
	rand.Read(secret)
	if err := p.challenges.PutChallenge(ctx, store.HashSecret(secret), value, p.now().Add(p.timeout)); err != nil {
		return "", fmt.Errorf("passkey: store ceremony: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(secret), nil
}

// take removes the ceremony named by secret from the store and checks
// that it was begun for purpose. An unknown, expired, used or mistyped
// one is refused; the store's other failures are returned as they are.
func (p *Passkeys) take(ctx context.Context, op, secret, purpose string) (ceremony, error) {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != ceremonySecretLen {
		return ceremony{}, reject(op, errors.New("malformed ceremony"))
	}
	value, err := p.challenges.TakeChallenge(ctx, store.HashSecret(raw))
	if errors.Is(err, store.ErrNotFound) {
		return ceremony{}, reject(op, errors.New("ceremony unknown, expired or already used"))
	}
	if err != nil {
		return ceremony{}, fmt.Errorf("passkey: %s: %w", op, err)
	}
	var c ceremony
	if err := json.Unmarshal(value, &c); err != nil {
		return ceremony{}, fmt.Errorf("passkey: %s: decode ceremony: %w", op, err)
	}
	if c.Purpose != purpose {
		return ceremony{}, reject(op, fmt.Errorf("ceremony was begun for %s", c.Purpose))
	}
	return c, nil
}
