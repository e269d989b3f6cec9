package tokens

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gin-authkit/authkit/internal/plainjson"
)

// jtiSize is the number of random bytes in a token id: 96 bits, exactly 16
// base64url characters. Nothing is looked up by jti (sessions go by sid);
// it only has to be unique and unpredictable, and with 96 random bits even
// 2^32 tokens collide with a probability of about 2^-33, the bound NIST
// accepts for random 96-bit GCM nonces. 128 bits would cost six characters
// more in every token for no practical gain.
const jtiSize = 12

// accessTokenType is the "typ" header of every token an Issuer signs and the
// only type a Verifier accepts (RFC 9068 section 2.1). It keeps other JWTs
// signed with the same key, such as ID tokens, from passing as access tokens
// (RFC 8725 section 3.11).
const accessTokenType = "at+jwt"

// deriveContext starts every message that DeriveSecret MACs. Its space and
// NUL never occur in a JWS signing input (base64url and "."), so with an
// HMAC key no derived secret is ever a token signature, nor the reverse.
const deriveContext = "authkit derive v1\x00"

// Issuer signs access tokens with one [Key]. It is safe for concurrent use.
type Issuer struct {
	key      *Key
	header   string // the header segment, the same for every token
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	// macs holds keyed HMAC states (*macState) when the key is HS256, so
	// that signing does not key a new HMAC for every token; nil otherwise.
	macs *sync.Pool
}

// NewIssuer returns an Issuer that signs with key, which must be able to sign
// (not made by a New…PublicKey constructor). [WithIssuer] and [WithAudience]
// are required; [WithTTL] and [WithClock] are optional. Errors wrap
// [ErrConfig].
func NewIssuer(key *Key, opts ...Option) (*Issuer, error) {
	if !key.usable() {
		return nil, fmt.Errorf("%w: nil or zero key", ErrConfig)
	}
	if !key.canSign() {
		return nil, fmt.Errorf("%w: key %q is verify-only and cannot sign", ErrConfig, key.id)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	header, err := key.headerSegment()
	if err != nil {
		return nil, err
	}
	i := &Issuer{key: key, header: header, issuer: c.issuer, audience: c.audience, ttl: c.ttl, now: c.now}
	if secret, ok := key.material.sign.([]byte); ok && key.method == jwt.SigningMethodHS256 {
		i.macs = &sync.Pool{New: func() any { return &macState{mac: hmac.New(sha256.New, secret)} }}
	}
	return i, nil
}

// TTL returns the lifetime of the tokens the Issuer signs.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs an access token for subject in session sessionID with roles.
// It returns the compact token and the claims it contains: sub, sid, roles
// (left out when empty), iss, aud (a single string), iat, exp (iat plus the
// TTL) and a random jti of 16 characters. There is no nbf: it would equal
// iat, which a Verifier checks the same way. Nor are there amr, auth_time
// or acr: [Issuer.IssueAuthn] writes those. The header carries the key's id
// as "kid" and the type "at+jwt" as "typ".
//
// Empty subject or sessionID are refused with an error wrapping [ErrClaims]
// (but not [ErrInvalidToken]), since a [Verifier] would reject the token.
// It is [Issuer.IssueGrant] with only those three.
func (i *Issuer) Issue(subject, sessionID string, roles []string) (token string, claims *Claims, err error) {
	return i.issue(&Grant{Subject: subject, SessionID: sessionID, Roles: roles})
}

// Authn describes how and when the subject of a token authenticated, for
// [Issuer.IssueAuthn]. Its zero value says nothing.
type Authn struct {
	// AMR lists the authentication methods (RFC 8176), such as
	// [AMRPassword], or [AMRPassword], [AMROTP] and [AMRMultiFactor];
	// written as "amr" unless empty.
	AMR []string
	// Time is when the subject authenticated actively; written as
	// "auth_time", in whole seconds, unless zero.
	Time time.Time
	// ACR is the authentication context class, such as [ACRMultiFactor];
	// written as "acr" unless empty.
	ACR string
}

// IssueAuthn is [Issuer.Issue] for a token that also says how its subject
// authenticated: the claims amr, auth_time (RFC 9068 §2.2.1) and acr, from
// authn, each left out when empty.
func (i *Issuer) IssueAuthn(subject, sessionID string, roles []string, authn Authn) (token string, claims *Claims, err error) {
	return i.issue(&Grant{Subject: subject, SessionID: sessionID, Roles: roles, Authn: authn})
}

// Grant is everything an access token says, for [Issuer.IssueGrant]: whom
// it is for and why. The Issuer adds iss, aud, iat, exp and jti.
type Grant struct {
	// Subject is the user (or, for a client's own token, the client):
	// "sub". Required.
	Subject string
	// SessionID ties the token to a session: "sid". Required unless
	// ClientID is set: a client_credentials token has no session.
	SessionID string
	// Roles are written as "roles" unless empty.
	Roles []string
	// Authn is how and when the subject authenticated, as for
	// [Issuer.IssueAuthn]; its zero value writes nothing.
	Authn Authn
	// ClientID is the OAuth client the token is issued to: "client_id"
	// (RFC 9068 §2.2), left out when empty.
	ClientID string
	// Extra are the application claims, each written as a top-level
	// member whose value is the JSON encoding of the map's value (so a
	// json.RawMessage is written as it is, compacted), in the order of
	// their names. A name may be none of [ReservedClaims], in any case,
	// and must be valid UTF-8 and not empty.
	Extra map[string]any
}

// IssueGrant signs an access token that says what g says, as
// [Issuer.Issue] does, and returns it with its claims: Claims.Extra holds
// the JSON encoding of each of g.Extra's values. An empty Subject, an
// empty SessionID without a ClientID, an application claim with a
// reserved or empty name or a value that encoding/json cannot encode, and
// a token longer than [MaxTokenSize] are refused with an error wrapping
// [ErrClaims] (but not [ErrInvalidToken]).
//
// Every application claim makes every request's token longer: keep them
// few and short (see the package documentation for sizes).
func (i *Issuer) IssueGrant(g Grant) (token string, claims *Claims, err error) {
	return i.issue(&g)
}

// issue signs a token for g.
func (i *Issuer) issue(g *Grant) (token string, claims *Claims, err error) {
	if i == nil || !i.key.canSign() {
		return "", nil, fmt.Errorf("%w: Issuer not made by NewIssuer", ErrConfig)
	}
	if g.Subject == "" {
		return "", nil, fmt.Errorf("tokens: issue: %w: empty subject", ErrClaims)
	}
	if g.SessionID == "" && g.ClientID == "" {
		return "", nil, fmt.Errorf("tokens: issue: %w: empty session id", ErrClaims)
	}
	var extra []extraClaim
	if len(g.Extra) > 0 {
		if extra, err = encodeExtra(g.Extra); err != nil {
			return "", nil, err
		}
	}
	jti, err := newJTI()
	if err != nil {
		return "", nil, err
	}
	// JWT times have a precision of one second; truncate once so that
	// exp - iat is exactly the TTL.
	iat := jwt.NewNumericDate(i.now())
	claims = &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   g.Subject,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(i.ttl)),
			IssuedAt:  iat,
			ID:        jti,
		},
		SessionID: g.SessionID,
		Roles:     slices.Clone(g.Roles),
		ACR:       g.Authn.ACR,
		ClientID:  g.ClientID,
	}
	if len(g.Authn.AMR) > 0 {
		claims.AMR = slices.Clone(g.Authn.AMR)
	}
	if !g.Authn.Time.IsZero() {
		claims.AuthTime = jwt.NewNumericDate(g.Authn.Time)
	}
	payload, err := marshalClaims(&wireClaims{
		Issuer:    claims.Issuer,
		Subject:   claims.Subject,
		Audience:  i.audience,
		ExpiresAt: claims.ExpiresAt,
		IssuedAt:  claims.IssuedAt,
		ID:        claims.ID,
		SessionID: claims.SessionID,
		Roles:     claims.Roles,
		AMR:       claims.AMR,
		AuthTime:  claims.AuthTime,
		ACR:       claims.ACR,
		ClientID:  claims.ClientID,
	})
	if err != nil {
		return "", nil, fmt.Errorf("tokens: issue: encoding claims: %w", err)
	}
	if extra != nil {
		payload, claims.Extra = appendExtra(payload, extra)
	}
	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(i.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(i.key.signatureSize()))
	tok = append(tok, i.header...)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, payload)
	if tok, err = i.appendSignature(tok); err != nil {
		return "", nil, fmt.Errorf("tokens: issue: signing with %v: %w", i.key, err)
	}
	if len(tok) > MaxTokenSize {
		return "", nil, fmt.Errorf("tokens: issue: %w: the token would be %d bytes, more than a Verifier accepts (%d)", ErrClaims, len(tok), MaxTokenSize)
	}
	return string(tok), claims, nil
}

// extraClaim is one application claim, encoded.
type extraClaim struct {
	name  string
	value []byte
}

// encodeExtra checks the names of the application claims in extra and
// encodes their values, in the order of their names.
func encodeExtra(extra map[string]any) ([]extraClaim, error) {
	out := make([]extraClaim, 0, len(extra))
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		switch {
		case name == "":
			return nil, fmt.Errorf("tokens: issue: %w: an application claim has an empty name", ErrClaims)
		case !utf8.ValidString(name):
			return nil, fmt.Errorf("tokens: issue: %w: application claim %q: name is not valid UTF-8", ErrClaims, name)
		case isReserved(name):
			return nil, fmt.Errorf("tokens: issue: %w: application claim %q: the name is reserved (see tokens.ReservedClaims)", ErrClaims, name)
		}
		v, err := json.Marshal(extra[name])
		if err != nil {
			return nil, fmt.Errorf("tokens: issue: %w: application claim %q: %w", ErrClaims, name, err)
		}
		out = append(out, extraClaim{name: name, value: v})
	}
	return out, nil
}

// appendExtra adds the application claims to payload, the JSON object of
// the other claims, and returns it with Claims.Extra.
func appendExtra(payload []byte, extra []extraClaim) ([]byte, map[string]json.RawMessage) {
	m := make(map[string]json.RawMessage, len(extra))
	payload = payload[:len(payload)-1] // drop '}'
	for _, e := range extra {
		name, _ := json.Marshal(e.name) // a valid UTF-8 string always encodes
		payload = append(payload, ',')
		payload = append(payload, name...)
		payload = append(payload, ':')
		payload = append(payload, e.value...)
		m[e.name] = e.value
	}
	return append(payload, '}'), m
}

// signatureSize returns the size of k's signatures in bytes: 32 for
// HS256, 64 for EdDSA and ES256, the modulus size for RSA.
func (k *Key) signatureSize() int {
	if pub, ok := k.material.verify.(*rsa.PublicKey); ok {
		return pub.Size()
	}
	return 64
}

// appendSignature appends "." and the encoded signature of the signing
// input to it. HS256 signs with a pooled HMAC state, which gives what
// golang-jwt's SigningMethodHMAC gives; every other algorithm signs with
// the key's golang-jwt method.
func (i *Issuer) appendSignature(input []byte) ([]byte, error) {
	var sig []byte
	if i.macs == nil {
		var err error
		if sig, err = i.key.method.Sign(string(input), i.key.material.sign); err != nil {
			return nil, err
		}
	} else {
		m := i.macs.Get().(*macState)
		defer i.macs.Put(m)
		m.mac.Reset()
		m.mac.Write(input)
		sig = m.mac.Sum(m.sum[:0])
	}
	return base64.RawURLEncoding.AppendEncode(append(input, '.'), sig), nil
}

// marshalClaims encodes w as json.Marshal does: by appending when
// appendClaims can, since encoding/json's reflection is a fifth of what
// issuing a token costs.
func marshalClaims(w *wireClaims) ([]byte, error) {
	if b, ok := appendClaims(nil, w); ok {
		return b, nil
	}
	return json.Marshal(w)
}

// appendClaims appends w as json.Marshal writes it, and reports false
// when it cannot: a string that encoding/json would escape, or a
// jwt.TimePrecision other than a second, which changes how golang-jwt
// writes a time. b is then of no use. FuzzAppendClaims holds it to
// json.Marshal.
func appendClaims(b []byte, w *wireClaims) ([]byte, bool) {
	if jwt.TimePrecision != time.Second ||
		!plainjson.Is(w.Issuer) || !plainjson.Is(w.Subject) || !plainjson.Is(w.Audience) || !plainjson.Is(w.ID) ||
		!plainjson.Is(w.SessionID) || !plainjson.All(w.Roles) || !plainjson.All(w.AMR) ||
		!plainjson.Is(w.ACR) || !plainjson.Is(w.ClientID) {
		return b, false
	}
	if b == nil {
		b = make([]byte, 0, 256)
	}
	b = plainjson.AppendString(append(b, `{"iss":`...), w.Issuer)
	b = plainjson.AppendString(append(b, `,"sub":`...), w.Subject)
	b = plainjson.AppendString(append(b, `,"aud":`...), w.Audience)
	b = appendDate(append(b, `,"exp":`...), w.ExpiresAt)
	b = appendDate(append(b, `,"iat":`...), w.IssuedAt)
	b = plainjson.AppendString(append(b, `,"jti":`...), w.ID)
	if w.SessionID != "" {
		b = plainjson.AppendString(append(b, `,"sid":`...), w.SessionID)
	}
	if len(w.Roles) > 0 {
		b = plainjson.AppendStrings(append(b, `,"roles":`...), w.Roles)
	}
	if len(w.AMR) > 0 {
		b = plainjson.AppendStrings(append(b, `,"amr":`...), w.AMR)
	}
	if w.AuthTime != nil {
		b = appendDate(append(b, `,"auth_time":`...), w.AuthTime)
	}
	if w.ACR != "" {
		b = plainjson.AppendString(append(b, `,"acr":`...), w.ACR)
	}
	if w.ClientID != "" {
		b = plainjson.AppendString(append(b, `,"client_id":`...), w.ClientID)
	}
	return append(b, '}'), true
}

// appendDate appends d as NumericDate.MarshalJSON writes it when
// jwt.TimePrecision is a second: whole seconds, no fraction.
func appendDate(b []byte, d *jwt.NumericDate) []byte {
	if d == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, d.Truncate(time.Second).Unix(), 10)
}

// wireClaims is the claim set as an Issuer writes it: Claims minus nbf and
// the application claims (appendExtra adds those), with sid left out when
// empty (a client's token) and aud as a single string (RFC 7519 section
// 4.1.3 allows either form, and a Verifier accepts both), to keep tokens
// short.
type wireClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  string           `json:"aud"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
	SessionID string           `json:"sid,omitempty"`
	Roles     []string         `json:"roles,omitempty"`
	AMR       []string         `json:"amr,omitempty"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
	ACR       string           `json:"acr,omitempty"`
	ClientID  string           `json:"client_id,omitempty"`
}

// headerSegment returns the encoded header of the tokens that k signs:
// alg, kid and typ, in the order and form golang-jwt would write them.
func (k *Key) headerSegment() (string, error) {
	b, err := json.Marshal(map[string]string{"alg": k.Algorithm(), "kid": k.id, "typ": accessTokenType})
	if err != nil {
		return "", fmt.Errorf("%w: encoding the header of %v: %w", ErrConfig, k, err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DeriveSecret returns a 32-byte secret for label, derived from the private
// material of the Issuer's signing key (the HMAC secret, the Ed25519 seed,
// the ECDSA private scalar or the RSA private exponent) as HMAC-SHA256 of "authkit derive v1\x00"
// followed by label. The same key and label always give the same secret, and
// different labels give unrelated ones, so one configured key can also
// provide, for example, the MAC key of refresh tokens.
//
// The secret changes when the signing key changes: whatever it protects stops
// verifying once the Issuer signs with a new key. Where that is not
// acceptable, configure a separate secret instead.
//
// It returns nil for an Issuer not made by [NewIssuer].
func (i *Issuer) DeriveSecret(label string) []byte {
	if i == nil || !i.key.canSign() || i.key.material.private == nil {
		return nil
	}
	mac := hmac.New(sha256.New, i.key.material.private)
	mac.Write([]byte(deriveContext))
	mac.Write([]byte(label))
	return mac.Sum(nil)
}

func newJTI() (string, error) {
	b := make([]byte, jtiSize)
	if _, err := rand.Read(b); err != nil {
		// Unreachable since Go 1.24, where Read never fails; kept so the
		// function stays correct should that change.
		return "", fmt.Errorf("tokens: reading random jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
