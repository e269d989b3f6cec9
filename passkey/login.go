package passkey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gin-authkit/authkit/store"
)

// Result is a sign-in that [Passkeys.FinishLogin] accepted.
type Result struct {
	// Username is the owner of the passkey.
	Username string
	// CredentialID is the passkey's [Info.ID].
	CredentialID string
	// UserVerified reports that the authenticator verified the user (PIN,
	// biometrics) as well as their presence.
	UserVerified bool
}

// AMR returns the RFC 8176 authentication method references the passkey
// assertion proves: "hwk" (proof of possession of a key held by an
// authenticator), and "mfa" as well when the authenticator verified the
// user, since the key and the PIN or biometric are two factors. A caller
// that used the passkey as a second factor after a password adds "pwd"
// and "mfa" itself.
func (r Result) AMR() []string {
	if r.UserVerified {
		return []string{"hwk", "mfa"}
	}
	return []string{"hwk"}
}

// BeginLogin starts a sign-in. It returns the options to hand to the
// browser (see the package documentation) and the ceremony string to give
// back to [Passkeys.FinishLogin].
//
// With username "", the sign-in is discoverable: the options name no
// credential, the browser offers the passkeys it holds for the site, and
// the one chosen names its owner. This is sign-in with a passkey alone,
// and its answer tells nothing about any user.
//
// With a username, the options list that user's passkeys
// (allowCredentials), for a passkey as a second factor. A user with no
// passkey and an unknown user both fail with [ErrNoPasskey]; but the
// answer does tell a user with passkeys from one without, and lists the
// credential IDs, so call it only after the password was verified.
func (p *Passkeys) BeginLogin(ctx context.Context, username string) (options json.RawMessage, ceremonyID string, err error) {
	if username == "" {
		assertion, session, err := p.wa.BeginDiscoverableLogin()
		if err != nil {
			return nil, "", fmt.Errorf("passkey: begin login: %w", err)
		}
		return p.begin(ctx, assertion, ceremony{Purpose: purposeLogin, Session: *session})
	}
	if store.ValidateUsername(username) != nil {
		return nil, "", fmt.Errorf("passkey: begin login: %w", ErrNoPasskey)
	}
	u, _, err := p.user(ctx, username, true)
	if err != nil {
		return nil, "", err
	}
	if len(u.creds) == 0 {
		return nil, "", fmt.Errorf("passkey: begin login: %w", ErrNoPasskey)
	}
	assertion, session, err := p.wa.BeginLogin(u)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin login: %w", err)
	}
	return p.begin(ctx, assertion, ceremony{Purpose: purposeLogin, Username: username, Session: *session})
}

// FinishLogin verifies the browser's response body (the JSON of the
// PublicKeyCredential that navigator.credentials.get returned) against
// the ceremony, which it consumes, and records the use of the passkey.
//
// It fails with [ErrRejected] when the ceremony is unknown, expired or
// used, the response fails verification (origin, challenge, RP ID,
// signature, malformed), the credential is not one the user holds
// (another user's, a revoked one), or its user handle is not the owner's;
// and with [ErrCloned] as well when the signature counter did not grow
// past the stored one (see the package documentation). Other errors are
// the store's failures.
func (p *Passkeys) FinishLogin(ctx context.Context, ceremonyID string, body io.Reader) (Result, error) {
	const op = "finish login"
	c, err := p.take(ctx, op, ceremonyID, purposeLogin)
	if err != nil {
		return Result{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(body, maxBody))
	if err != nil {
		return Result{}, reject(op, err)
	}
	id := credentialID(parsed.RawID)
	username := c.Username
	if username == "" {
		username, err = p.factors.FactorOwner(ctx, store.Passkey, id)
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, reject(op, errors.New("unknown credential"))
		}
		if err != nil {
			return Result{}, fmt.Errorf("passkey: %s: %w", op, err)
		}
		if !hmac.Equal(parsed.Response.UserHandle, p.UserHandle(username)) {
			return Result{}, reject(op, errors.New("user handle is not the credential owner's"))
		}
	}
	u, _, err := p.user(ctx, username, true)
	if err != nil {
		return Result{}, err
	}
	if c.Username == "" {
		owner := func(rawID, userHandle []byte) (webauthn.User, error) { return u, nil }
		_, err = p.wa.ValidateDiscoverableLogin(owner, c.Session, parsed)
	} else {
		// A passkey revoked since the begin leaves the allow list: the
		// others still sign in, and go-webauthn, which wants the user to
		// own the whole list, still checks the one used against it.
		c.Session.AllowedCredentialIDs = slices.DeleteFunc(c.Session.AllowedCredentialIDs, func(id []byte) bool {
			return !slices.ContainsFunc(u.creds, func(cred webauthn.Credential) bool { return bytes.Equal(cred.ID, id) })
		})
		_, err = p.wa.ValidateLogin(u, c.Session, parsed)
	}
	if err != nil {
		return Result{}, reject(op, err)
	}
	authData := parsed.Response.AuthenticatorData
	_, err = p.factors.UseFactor(ctx, username, store.Passkey, id, uint64(authData.Counter), p.now())
	switch {
	case errors.Is(err, store.ErrReused):
		return Result{}, reject(op, ErrCloned)
	case errors.Is(err, store.ErrNotFound):
		return Result{}, reject(op, errors.New("passkey revoked during the ceremony"))
	case err != nil:
		return Result{}, fmt.Errorf("passkey: %s: %w", op, err)
	}
	return Result{Username: username, CredentialID: id, UserVerified: authData.Flags.HasUserVerified()}, nil
}
