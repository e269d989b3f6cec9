package passkey

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gin-authkit/authkit/store"
)

// DefaultTimeout is how long a ceremony stays open when Config.Timeout is
// zero.
const DefaultTimeout = 5 * time.Minute

// MinUserHandleKey is the shortest Config.UserHandleKey accepted.
const MinUserHandleKey = 32

// maxBody caps the bytes read from a ceremony's response body. A browser's
// response is a few kilobytes at most.
const maxBody = 64 << 10

// Config configures [New]. Zero values mean the defaults stated per field.
type Config struct {
	// RPID is the relying party ID: the site's domain ("example.com"), or
	// a registrable suffix of it, without scheme or port. Passkeys are
	// bound to it and cannot be used on another domain. Required.
	RPID string
	// RPDisplayName is the site's name as the authenticator shows it.
	// Default: RPID.
	RPDisplayName string
	// Origins are the web origins ("https://login.example.com") whose pages
	// may run ceremonies; a response collected on any other origin is
	// refused, which is what stops a phishing site from relaying one.
	// Default: "https://" + RPID.
	Origins []string
	// Factors keeps the passkeys. Required.
	Factors store.FactorStore
	// Challenges keeps each ceremony's state between its begin and its
	// finish. Required.
	Challenges store.ChallengeStore
	// UserHandleKey is the key of the user handle, the WebAuthn user.id
	// each authenticator stores with a passkey: HMAC-SHA256(key,
	// username). The handle then holds no personal data and needs no
	// index, since the server can recompute it. It must stay the same for
	// as long as passkeys exist (a new key orphans every discoverable
	// sign-in), and it should be kept secret: whoever holds it can tell
	// which username a handle read from an authenticator belongs to. At
	// least [MinUserHandleKey] bytes. Required.
	UserHandleKey []byte
	// Timeout is how long a ceremony stays open between its begin and its
	// finish; the browser is told the same. Default: [DefaultTimeout].
	Timeout time.Duration
	// Now is the clock. Default: time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Passkeys runs WebAuthn ceremonies and keeps the resulting passkeys in a
// store.FactorStore. It is safe for concurrent use.
type Passkeys struct {
	wa         *webauthn.WebAuthn
	factors    store.FactorStore
	challenges store.ChallengeStore
	key        []byte
	timeout    time.Duration
	now        func() time.Time
}

// New returns a [Passkeys] for cfg, or an error if cfg is not usable.
func New(cfg Config) (*Passkeys, error) {
	switch {
	case cfg.RPID == "":
		return nil, errors.New("passkey: config: RPID is empty")
	case cfg.Factors == nil:
		return nil, errors.New("passkey: config: Factors is nil")
	case cfg.Challenges == nil:
		return nil, errors.New("passkey: config: Challenges is nil")
	case len(cfg.UserHandleKey) < MinUserHandleKey:
		return nil, fmt.Errorf("passkey: config: UserHandleKey must be at least %d bytes", MinUserHandleKey)
	case cfg.Timeout < 0:
		return nil, errors.New("passkey: config: negative Timeout")
	}
	p := &Passkeys{
		factors:    cfg.Factors,
		challenges: cfg.Challenges,
		key:        slices.Clone(cfg.UserHandleKey),
		timeout:    cmp.Or(cfg.Timeout, DefaultTimeout),
		now:        cfg.Now,
	}
	if p.now == nil {
		p.now = time.Now
	}
	origins := slices.Clone(cfg.Origins)
	if len(origins) == 0 {
		origins = []string{"https://" + cfg.RPID}
	}
	display := cfg.RPDisplayName
	if display == "" {
		display = cfg.RPID
	}
	t := webauthn.TimeoutConfig{Timeout: p.timeout, TimeoutUVD: p.timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         display,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: t, Registration: t},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: config: %w", err)
	}
	p.wa = wa
	return p, nil
}

// UserHandle returns the WebAuthn user handle of username:
// HMAC-SHA256(Config.UserHandleKey, username).
func (p *Passkeys) UserHandle(username string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(username))
	return m.Sum(nil)
}
