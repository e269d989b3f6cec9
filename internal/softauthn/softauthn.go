// Package softauthn is a software WebAuthn authenticator and client for
// tests: it answers the options the passkey package hands a browser with
// the response body a browser would post back, signed with a real ECDSA
// P-256 key, so that the server side is verified by go-webauthn itself.
// It does "none" attestation only.
package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data included
)

// ErrExcluded is what Create answers when the options exclude a
// credential it holds (a browser's InvalidStateError).
var ErrExcluded = errors.New("softauthn: a credential in excludeCredentials is already here")

// ErrNoCredential is what Get answers when it holds no usable credential.
var ErrNoCredential = errors.New("softauthn: no credential for these options")

// Authenticator holds passkeys and plays the browser too. The zero value
// is not usable; set Origin.
type Authenticator struct {
	// Origin is the origin the "browser" writes into clientDataJSON.
	Origin string
	// NoUV makes it report user presence only, not user verification.
	NoUV bool
	// ZeroCounter makes it keep no signature counter (always 0), as many
	// platform authenticators do.
	ZeroCounter bool

	creds []*Credential
}

// Credential is one passkey the Authenticator holds. Tests may change its
// fields to forge responses: a lower Counter (a clone), another
// UserHandle.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	// Counter is the signature counter; each assertion increments it
	// first, unless the Authenticator has ZeroCounter.
	Counter uint32
	key     *ecdsa.PrivateKey
}

type descriptor struct {
	ID string `json:"id"`
}

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Exclude []descriptor `json:"excludeCredentials"`
		Allow   []descriptor `json:"allowCredentials"`
	} `json:"publicKey"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Create answers PublicKeyCredentialCreationOptions JSON (as
// passkey.BeginRegistration returns it) with a new credential and the
// registration response body.
func (a *Authenticator) Create(opts []byte) (body []byte, c *Credential, err error) {
	var o options
	if err := json.Unmarshal(opts, &o); err != nil {
		return nil, nil, err
	}
	for _, d := range o.PublicKey.Exclude {
		if a.find(d.ID, o.PublicKey.RP.ID) != nil {
			return nil, nil, ErrExcluded
		}
	}
	handle, err := base64.RawURLEncoding.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("softauthn: user.id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	c = &Credential{ID: make([]byte, 16), RPID: o.PublicKey.RP.ID, UserHandle: handle, key: key}
	rand.Read(c.ID)
	cose, err := c.coseKey()
	if err != nil {
		return nil, nil, err
	}
	auth := a.authData(c.RPID, flagAT, 0)
	auth = append(auth, make([]byte, 16)...) // AAGUID: zero
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(c.ID)))
	auth = append(auth, c.ID...)
	auth = append(auth, cose...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, nil, err
	}
	client := a.clientData("webauthn.create", o.PublicKey.Challenge)
	body, err = json.Marshal(map[string]any{
		"id": b64(c.ID), "rawId": b64(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64(client),
			"attestationObject": b64(att),
			"transports":        []string{"internal"},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	a.creds = append(a.creds, c)
	return body, c, nil
}

// Get answers PublicKeyCredentialRequestOptions JSON (as
// passkey.BeginLogin returns it) with an assertion from the first
// credential it holds that the options allow (any for the RP when they
// list none).
func (a *Authenticator) Get(opts []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(opts, &o); err != nil {
		return nil, err
	}
	for _, c := range a.creds {
		if c.RPID != o.PublicKey.RPID {
			continue
		}
		allowed := slices.ContainsFunc(o.PublicKey.Allow, func(d descriptor) bool { return d.ID == b64(c.ID) })
		if len(o.PublicKey.Allow) == 0 || allowed {
			return a.Assert(c, opts)
		}
	}
	return nil, ErrNoCredential
}

// Assert answers the request options with an assertion from c, whatever
// the options allow: the way to forge a response a browser would not
// send.
func (a *Authenticator) Assert(c *Credential, opts []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(opts, &o); err != nil {
		return nil, err
	}
	if !a.ZeroCounter {
		c.Counter++
	}
	auth := a.authData(c.RPID, 0, c.Counter)
	client := a.clientData("webauthn.get", o.PublicKey.Challenge)
	h := sha256.Sum256(client)
	digest := sha256.Sum256(append(bytes.Clone(auth), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(c.ID), "rawId": b64(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64(client),
			"authenticatorData": b64(auth),
			"signature":         b64(sig),
			"userHandle":        b64(c.UserHandle),
		},
	})
}

func (a *Authenticator) find(id, rpID string) *Credential {
	for _, c := range a.creds {
		if b64(c.ID) == id && c.RPID == rpID {
			return c
		}
	}
	return nil
}

// authData returns rpIdHash, flags and the counter.
func (a *Authenticator) authData(rpID string, flags byte, counter uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	flags |= flagUP
	if !a.NoUV {
		flags |= flagUV
	}
	return binary.BigEndian.AppendUint32(append(h[:], flags), counter)
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// coseKey returns the public key as a COSE_Key: EC2, ES256, P-256.
func (c *Credential) coseKey() ([]byte, error) {
	pub, err := c.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:65]})
}
