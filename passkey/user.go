package passkey

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gin-authkit/authkit/store"
)

// user is a [webauthn.User] built for one ceremony.
type user struct {
	handle []byte
	name   string
	creds  []webauthn.Credential
}

var _ webauthn.User = (*user)(nil)

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// credentialID is how a credential ID is written in a store.Factor's ID.
func credentialID(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }

// encodeCredential returns the Data of a passkey factor: the credential as
// JSON, without its attestation statement, which "none" attestation leaves
// empty of meaning and which would only take room.
func encodeCredential(c webauthn.Credential) ([]byte, error) {
	c.Attestation = webauthn.CredentialAttestation{}
	return json.Marshal(c)
}

// user loads username's passkeys, and reports how many factors of any
// kind the user holds. With confirmedOnly, pending passkeys (which a
// FactorStore may hold, though this package stores none) are left out.
// The stored counter, not the one in Data, is the credential's count.
func (p *Passkeys) user(ctx context.Context, username string, confirmedOnly bool) (*user, int, error) {
	factors, err := p.factors.Factors(ctx, username)
	if err != nil {
		return nil, 0, fmt.Errorf("passkey: factors: %w", err)
	}
	u := &user{handle: p.UserHandle(username), name: username}
	for _, f := range factors {
		if f.Kind != store.Passkey || confirmedOnly && !f.Confirmed {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(f.Data, &c); err != nil {
			return nil, 0, fmt.Errorf("passkey: decode passkey %s of %q: %w", f.ID, username, err)
		}
		c.Authenticator.SignCount = uint32(f.Counter)
		u.creds = append(u.creds, c)
	}
	return u, len(factors), nil
}
