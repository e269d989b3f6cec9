package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gin-authkit/authkit/store"
)

// BeginRegistration starts adding a passkey named name for username, a
// user the caller has already authenticated. It returns the options to
// hand to the browser (see the package documentation) and the ceremony
// string to give back to [Passkeys.FinishRegistration].
//
// The options ask for a discoverable credential (a passkey), prefer user
// verification, ask for no attestation and exclude the passkeys the user
// already holds, so an authenticator is not registered twice.
//
// A username or name the store cannot keep fails with an error wrapping
// store.ErrInvalid; a user at store.MaxFactors with [ErrTooMany].
func (p *Passkeys) BeginRegistration(ctx context.Context, username, name string) (options json.RawMessage, ceremonyID string, err error) {
	if err := store.ValidateUsername(username); err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration: %w", err)
	}
	probe := store.Factor{Kind: store.Passkey, ID: "-", Name: name, Data: []byte{0}, CreatedAt: p.now()}
	if err := probe.Validate(); err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration: %w", err)
	}
	u, n, err := p.user(ctx, username, false)
	if err != nil {
		return nil, "", err
	}
	if n >= store.MaxFactors {
		return nil, "", fmt.Errorf("passkey: begin registration: %w", ErrTooMany)
	}
	exclude := webauthn.Credentials(u.creds).CredentialDescriptors()
	creation, session, err := p.wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration: %w", err)
	}
	return p.begin(ctx, creation, ceremony{Purpose: purposeRegister, Username: username, Name: name, Session: *session})
}

// begin encodes the options for the browser and stores the ceremony.
func (p *Passkeys) begin(ctx context.Context, options any, c ceremony) (json.RawMessage, string, error) {
	out, err := json.Marshal(options)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: encode options: %w", err)
	}
	id, err := p.put(ctx, c)
	if err != nil {
		return nil, "", err
	}
	return out, id, nil
}

// FinishRegistration verifies the browser's response body (the JSON of
// the PublicKeyCredential that navigator.credentials.create returned)
// against the ceremony, which it consumes, and stores the new passkey,
// confirmed: a passkey is usable as soon as it is registered.
//
// username must be the one the ceremony was begun for. A ceremony that is
// unknown, expired, used or for another user, and a response that fails
// verification (wrong origin, challenge or RP ID, malformed), names a
// credential already registered or one too large for a store.Factor (an
// ID over 192 bytes, a key over about 3 KB), fail with [ErrRejected]; a
// user who reached store.MaxFactors meanwhile with [ErrTooMany].
func (p *Passkeys) FinishRegistration(ctx context.Context, username, ceremonyID string, body io.Reader) (Info, error) {
	const op = "finish registration"
	c, err := p.take(ctx, op, ceremonyID, purposeRegister)
	if err != nil {
		return Info{}, err
	}
	if c.Username != username {
		return Info{}, reject(op, errors.New("ceremony was begun for another user"))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(body, maxBody))
	if err != nil {
		return Info{}, reject(op, err)
	}
	cred, err := p.wa.CreateCredential(&user{handle: p.UserHandle(username), name: username}, c.Session, parsed)
	if err != nil {
		return Info{}, reject(op, err)
	}
	data, err := encodeCredential(*cred)
	if err != nil {
		return Info{}, fmt.Errorf("passkey: %s: encode credential: %w", op, err)
	}
	f := store.Factor{
		Kind:      store.Passkey,
		ID:        credentialID(cred.ID),
		Name:      c.Name,
		Data:      data,
		Confirmed: true,
		Counter:   uint64(cred.Authenticator.SignCount),
		CreatedAt: p.now(),
	}
	if len(f.ID) > store.MaxFactorIDLen || len(f.Data) > store.MaxFactorData {
		return Info{}, reject(op, errors.New("credential ID or key too large to store"))
	}
	switch err := p.factors.AddFactor(ctx, username, f); {
	case errors.Is(err, store.ErrExists):
		return Info{}, reject(op, errors.New("credential already registered"))
	case errors.Is(err, store.ErrInvalid):
		return Info{}, fmt.Errorf("passkey: %s: %w: %w", op, ErrTooMany, err)
	case err != nil:
		return Info{}, fmt.Errorf("passkey: %s: %w", op, err)
	}
	return info(f), nil
}
