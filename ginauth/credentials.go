package ginauth

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gin-authkit/authkit/store"
)

// Opaque credential formats. Both carry the username because every key of
// a user shares one Redis hash slot: the store must know the user before
// it can find the session. Neither carries anything secret besides the
// random part, and the store keeps only digests.
//
//	refresh token:  "rt3." b64url(username) "." b64url(session id digest) "." seq "." b64url(32-byte secret) "." auth "." b64url(tag)
//	session cookie: b64url(username) "." b64url(32-byte session secret) "." auth "." b64url(tag)
//
// seq is the token's place in its session's chain, in canonical decimal.
// auth is the session's authentication context (see [authContext]): the
// amr values as a decimal bit set, "-", and auth_time in Unix seconds.
// tag, an HMAC of username, session, seq and auth under the refresh key,
// proves the server issued a token with that seq and auth, so the store
// may take a seq below the current one as proof of reuse, and a client
// cannot raise its own amr. The secret of the token issued at login is
// random; every successor's is an HMAC of the part of the token before
// auth, so a retry of the same refresh derives the same successor, and
// nothing secret has to be stored to answer it. The store's digest covers
// that same part only: a step-up issues a successor with a raised auth
// that is the same link of the chain as a plain refresh's.
//
// Tokens of the earlier format ("rt2.", without auth, whose digest and
// successor cover the whole token) are still read, as a password-only
// context of unknown time; their successors are rt3. Cookies without auth
// and tag read the same way.
const refreshPrefix = "rt3."

// refreshPrefixV2 is the earlier refresh-token format.
const refreshPrefixV2 = "rt2."

// secretLen is 256 bits from crypto/rand, for session secrets and the
// random part of refresh tokens.
const secretLen = 32

// tagLen is the refresh-token tag: 128 bits of HMAC-SHA256.
const tagLen = 16

var b64 = base64.RawURLEncoding

func newSecret() ([]byte, error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("ginauth: random: %w", err)
	}
	return b, nil
}

// refreshToken is a parsed refresh token.
type refreshToken struct {
	username string
	sid      store.Digest
	seq      uint64
	auth     authContext
	raw      string
	// linked is the length of raw's prefix that the digest and the
	// successor cover: up to the secret (all of raw for rt2).
	linked int
}

// digest is what the store keeps of the token: store.HashSecret of its
// linked part, hashed from a buffer on the stack rather than a copy on
// the heap.
func (t refreshToken) digest() store.Digest {
	var buf [256]byte // a token of the longest username still fits
	return store.HashSecret(append(buf[:0], t.raw[:t.linked]...))
}

// firstRefreshToken is the token issued at login.
func (a *Auth) firstRefreshToken(username string, sid store.Digest, auth authContext) (refreshToken, error) {
	secret, err := newSecret()
	if err != nil {
		return refreshToken{}, err
	}
	return a.buildRefreshToken(username, sid, 0, secret, auth), nil
}

// nextRefreshToken derives the successor of old, carrying auth.
func (a *Auth) nextRefreshToken(old refreshToken, auth authContext) refreshToken {
	m := a.refreshMACs.get()
	defer a.refreshMACs.put(m)
	if old.linked == len(old.raw) {
		m.writeString("authkit refresh next v2\x00") // an rt2 token
	} else {
		m.writeString("authkit refresh next v3\x00")
	}
	m.writeString(old.raw[:old.linked])
	return a.buildRefreshToken(old.username, old.sid, old.seq+1, m.final()[:secretLen], auth)
}

func (a *Auth) buildRefreshToken(username string, sid store.Digest, seq uint64, secret []byte, auth authContext) refreshToken {
	var tag [tagLen]byte
	a.refreshTag(&tag, username, sid, seq, auth)
	var arr [256]byte // a token of the longest username still fits
	raw := append(arr[:0], refreshPrefix...)
	raw = b64.AppendEncode(raw, []byte(username))
	raw = append(raw, '.')
	raw = b64.AppendEncode(raw, sid[:])
	raw = append(raw, '.')
	raw = strconv.AppendUint(raw, seq, 10)
	raw = append(raw, '.')
	raw = b64.AppendEncode(raw, secret)
	linked := len(raw)
	raw = append(raw, '.')
	raw = auth.appendTo(raw)
	raw = append(raw, '.')
	raw = b64.AppendEncode(raw, tag[:])
	return refreshToken{username: username, sid: sid, seq: seq, auth: auth, raw: string(raw), linked: linked}
}

// refreshTag writes the tag of a refresh token of username's session sid
// at seq with auth into out.
func (a *Auth) refreshTag(out *[tagLen]byte, username string, sid store.Digest, seq uint64, auth authContext) {
	m := a.refreshMACs.get()
	defer a.refreshMACs.put(m)
	m.writeString("authkit refresh tag v3\x00")
	a.writeTagged(m, username, sid, seq)
	auth.writeTo(m)
	copy(out[:], m.final())
}

// refreshTagV2 is the tag of an rt2 token.
func (a *Auth) refreshTagV2(out *[tagLen]byte, username string, sid store.Digest, seq uint64) {
	m := a.refreshMACs.get()
	defer a.refreshMACs.put(m)
	m.writeString("authkit refresh tag v2\x00")
	a.writeTagged(m, username, sid, seq)
	copy(out[:], m.final())
}

func (a *Auth) writeTagged(m *macState, username string, sid store.Digest, seq uint64) {
	m.writeString(username)
	m.write([]byte{0})
	m.write(sid[:])
	m.write(binary.BigEndian.AppendUint64(m.scratch[:0], seq))
}

var errBadFormat = errors.New("ginauth: credential format")

// parseRefreshToken checks the format and tag of a refresh token. It does
// not check the secret: the store compares the token's digest.
func (a *Auth) parseRefreshToken(tok string) (refreshToken, error) {
	rest, ok := strings.CutPrefix(tok, refreshPrefix)
	v2, dots := false, 5
	if !ok {
		rest, ok = strings.CutPrefix(tok, refreshPrefixV2)
		v2, dots = true, 4
	}
	if !ok || strings.Count(rest, ".") != dots {
		return refreshToken{}, errBadFormat
	}
	// Cut walks the parts in place, where Split would allocate a slice.
	userPart, rest, _ := strings.Cut(rest, ".")
	idPart, rest, _ := strings.Cut(rest, ".")
	seqPart, rest, _ := strings.Cut(rest, ".")
	secretPart, tagPart, _ := strings.Cut(rest, ".")
	authPart := ""
	if !v2 {
		authPart, tagPart, _ = strings.Cut(tagPart, ".")
	}
	var userBuf [store.MaxUsernameLen]byte
	var sid store.Digest
	var secretBuf [secretLen]byte
	var tagBuf [tagLen]byte
	user, err1 := decodeInto(userBuf[:], userPart)
	id, err2 := decodeInto(sid[:], idPart)
	secret, err3 := decodeInto(secretBuf[:], secretPart)
	tag, err4 := decodeInto(tagBuf[:], tagPart)
	seq, err5 := strconv.ParseUint(seqPart, 10, 64)
	var seqBuf [20]byte
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil ||
		len(id) != len(sid) || len(secret) != secretLen ||
		string(strconv.AppendUint(seqBuf[:0], seq, 10)) != seqPart { // canonical decimal only
		return refreshToken{}, errBadFormat
	}
	username := string(user)
	if store.ValidateUsername(username) != nil {
		return refreshToken{}, errBadFormat
	}
	copy(sid[:], id) // id is sid[:] unless it came from the fallback
	t := refreshToken{username: username, sid: sid, seq: seq, raw: tok, auth: authContext{methods: amrPwd}}
	var want [tagLen]byte
	if v2 {
		t.linked = len(tok)
		a.refreshTagV2(&want, username, sid, seq)
	} else {
		auth, ok := parseAuthContext(authPart)
		if !ok {
			return refreshToken{}, errBadFormat
		}
		t.auth = auth
		t.linked = len(refreshPrefix) + len(userPart) + len(idPart) + len(seqPart) + len(secretPart) + 3
		a.refreshTag(&want, username, sid, seq, auth)
	}
	if !hmac.Equal(tag, want[:]) {
		return refreshToken{}, fmt.Errorf("%w: refresh token tag", errBadFormat)
	}
	return t, nil
}

// decodeInto decodes the base64url s into buf, on the caller's stack,
// when buf is as long as b64.DecodeString would make its slice, and
// through DecodeString otherwise: both run Decode on a buffer long enough,
// so the bytes and errors are the same for every s, '\r' and '\n' (which
// Decode skips, so that s may be longer than its bytes imply) included.
func decodeInto(buf []byte, s string) ([]byte, error) {
	if b64.DecodedLen(len(s)) > len(buf) {
		return b64.DecodeString(s)
	}
	n, err := b64.Decode(buf, []byte(s))
	return buf[:n], err
}

// sessionClaim is the access token's sid claim: the session handle in
// base64url, 43 characters where hex would take 64, in every token.
func sessionClaim(id store.Digest) string {
	var buf [64]byte // encoded on the stack: one allocation, the string
	n := b64.EncodedLen(len(id))
	b64.Encode(buf[:n], id[:])
	return string(buf[:n])
}

// parseSessionClaim reads a sid claim written by sessionClaim.
func parseSessionClaim(s string) (store.Digest, error) {
	var id store.Digest
	if b64.DecodedLen(len(s)) != len(id) {
		return id, fmt.Errorf("%w: sid claim of %d characters", errBadFormat, len(s))
	}
	if _, err := b64.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: sid claim: %v", errBadFormat, err)
	}
	return id, nil
}

// sessionCookieValue is the session cookie of username's session with
// secret, authenticated as auth.
func (a *Auth) sessionCookieValue(username string, secret []byte, auth authContext) string {
	var tag [tagLen]byte
	a.cookieTag(&tag, username, store.HashSecret(secret), auth)
	return b64.EncodeToString([]byte(username)) + "." + b64.EncodeToString(secret) + "." +
		string(auth.appendTo(nil)) + "." + b64.EncodeToString(tag[:])
}

// cookieTag writes the tag of a session cookie's authentication context.
func (a *Auth) cookieTag(out *[tagLen]byte, username string, sid store.Digest, auth authContext) {
	m := a.refreshMACs.get()
	defer a.refreshMACs.put(m)
	m.writeString("authkit cookie auth v1\x00")
	m.writeString(username)
	m.write([]byte{0})
	m.write(sid[:])
	auth.writeTo(m)
	copy(out[:], m.final())
}

// parseSessionCookie splits a session cookie: the user, the secret and,
// unless the cookie predates it, the authentication context and its tag,
// unchecked (see [Auth.cookieAuth]).
func parseSessionCookie(v string) (username string, secret []byte, auth string, err error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return "", nil, "", errBadFormat
	}
	user, err1 := b64.DecodeString(parts[0])
	secret, err2 := b64.DecodeString(parts[1])
	if err1 != nil || err2 != nil || len(secret) != secretLen || store.ValidateUsername(string(user)) != nil {
		return "", nil, "", errBadFormat
	}
	if len(parts) == 3 {
		auth = parts[2]
	}
	return string(user), secret, auth, nil
}

// cookieAuth checks the authentication context a session cookie carries
// ("" for a cookie set before cookies carried one: ok false).
func (a *Auth) cookieAuth(cred SessionCookie, sid store.Digest) (authContext, bool, error) {
	if cred.auth == "" {
		return authContext{}, false, nil
	}
	ctx, tag, ok := strings.Cut(cred.auth, ".")
	auth, valid := parseAuthContext(ctx)
	got, err := b64.DecodeString(tag)
	if !ok || !valid || err != nil {
		return authContext{}, false, errors.Join(ErrTokenInvalid, errBadFormat)
	}
	var want [tagLen]byte
	a.cookieTag(&want, cred.Username, sid, auth)
	if !hmac.Equal(got, want[:]) {
		return authContext{}, false, errors.Join(ErrTokenInvalid, fmt.Errorf("%w: session cookie tag", errBadFormat))
	}
	return auth, true, nil
}
