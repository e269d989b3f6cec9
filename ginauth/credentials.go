package ginauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/gin-authkit/authkit/store"
)

// Opaque credential formats. Both carry the username because every key of
// a user shares one Redis hash slot: the store must know the user before
// it can find the session. Neither carries anything secret besides the
// random part, and the store keeps only digests.
//
//	refresh token:  "rt1." b64url(username) "." b64url(session id digest) "." b64url(32 random bytes)
//	session cookie: b64url(username) "." b64url(32-byte session secret)
const refreshPrefix = "rt1."

// secretLen is 256 bits from crypto/rand, for session secrets and the
// random part of refresh tokens.
const secretLen = 32

var b64 = base64.RawURLEncoding

func newSecret() ([]byte, error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("ginauth: random: %w", err)
	}
	return b, nil
}

func newRefreshToken(username string, sid store.Digest) (string, error) {
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	return refreshPrefix + b64.EncodeToString([]byte(username)) + "." +
		b64.EncodeToString(sid[:]) + "." + b64.EncodeToString(secret), nil
}

var errBadFormat = errors.New("ginauth: credential format")

// parseRefreshToken returns the owner and session of a refresh token. It
// does not check the random part: the store compares the token's digest.
func parseRefreshToken(tok string) (username string, sid store.Digest, err error) {
	rest, ok := strings.CutPrefix(tok, refreshPrefix)
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 3 {
		return "", sid, errBadFormat
	}
	user, err1 := b64.DecodeString(parts[0])
	id, err2 := b64.DecodeString(parts[1])
	secret, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(id) != len(sid) || len(secret) != secretLen ||
		store.ValidateUsername(string(user)) != nil {
		return "", sid, errBadFormat
	}
	copy(sid[:], id)
	return string(user), sid, nil
}

func sessionCookieValue(username string, secret []byte) string {
	return b64.EncodeToString([]byte(username)) + "." + b64.EncodeToString(secret)
}

func parseSessionCookie(v string) (username string, secret []byte, err error) {
	u, s, ok := strings.Cut(v, ".")
	user, err1 := b64.DecodeString(u)
	secret, err2 := b64.DecodeString(s)
	if !ok || err1 != nil || err2 != nil || len(secret) != secretLen || store.ValidateUsername(string(user)) != nil {
		return "", nil, errBadFormat
	}
	return string(user), secret, nil
}
