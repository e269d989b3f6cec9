package ginauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// Device credentials ("known clients", OWASP's device cookies). Every
// successful password check hands the client one for its account; a later
// login that presents it for the same account is spared the account-wide
// lock and the per-address limits that strangers' failures cause, and goes
// ahead of other logins waiting for a hashing slot. Its own failures are
// counted apart (Throttle.DeviceLimit); at that limit it is revoked.
//
//	device credential: "dv1." b64url(username) "." b64url(32-byte secret) "." b64url(tag)
//
// tag, an HMAC of username and secret under a key derived from the refresh
// key, lets a forged or garbled credential be refused without a store
// round trip; the store keeps only the secret's SHA-256 digest.
const devicePrefix = "dv1."

// DeviceHeader is the request header in which clients that keep no
// cookies present their device credential, and the response header in
// which a Basic request that succeeded receives a new one when it sent
// [DeviceRequest] there. The login and token endpoints return a new one
// in [TokenResponse].DeviceToken (and the device cookie) whenever the
// client presented none of the account.
const DeviceHeader = "Authkit-Device"

// DeviceRequest, sent in [DeviceHeader] with HTTP Basic credentials, asks
// for a device credential in the answer's DeviceHeader.
const DeviceRequest = "new"

// deviceCookie is the base name of the device cookie; it gets the
// "__Secure-" prefix whenever it is Secure.
const deviceCookie = "authkit_device"

// device is a device credential presented with a login.
type device struct {
	username string
	id       store.Digest
}

// deviceTag authenticates username and secret.
func (a *Auth) deviceTag(username string, secret []byte) []byte {
	m := hmac.New(sha256.New, a.deviceKey)
	m.Write([]byte(username))
	m.Write([]byte{0})
	m.Write(secret)
	return m.Sum(nil)[:tagLen]
}

// parseDevice checks the format and tag of a device credential.
func (a *Auth) parseDevice(raw string) (device, error) {
	rest, ok := strings.CutPrefix(raw, devicePrefix)
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 3 {
		return device{}, errBadFormat
	}
	user, err1 := b64.DecodeString(parts[0])
	secret, err2 := b64.DecodeString(parts[1])
	tag, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(secret) != secretLen || store.ValidateUsername(string(user)) != nil {
		return device{}, errBadFormat
	}
	if !hmac.Equal(tag, a.deviceTag(string(user), secret)) {
		return device{}, fmt.Errorf("%w: device credential tag", errBadFormat)
	}
	return device{username: string(user), id: store.HashSecret(secret)}, nil
}

// presentedDevice returns the device credential the request presents for
// the account username (canonical), from DeviceHeader or else the device
// cookie; nil when it presents none, a broken one, or one of another
// account. Nothing here asks the store.
func (a *Auth) presentedDevice(c *gin.Context, username string) *device {
	if a.devices == nil {
		return nil
	}
	raw := c.GetHeader(DeviceHeader)
	if raw == "" {
		if ck, err := c.Request.Cookie(a.deviceCookieName(c.Request)); err == nil {
			raw = ck.Value
		}
	}
	if raw == "" || len(raw) > 512 {
		return nil
	}
	d, err := a.parseDevice(raw)
	if err != nil || d.username != username {
		return nil
	}
	return &d
}

// knownDevice reports whether d is a live device of its user, and whether
// it is past half its lifetime (a login then renews it, so that a client
// in steady use stays known). A store failure is an error: the caller
// cannot tell a stranger from the owner.
func (a *Auth) knownDevice(ctx context.Context, d *device) (known, renew bool, err error) {
	if d == nil {
		return false, false, nil
	}
	sctx, cancel := context.WithTimeout(ctx, a.cfg.StoreTimeout)
	rec, err := a.devices.Device(sctx, d.username, d.id)
	cancel()
	switch {
	case err == nil:
		half := rec.CreatedAt.Add(rec.ExpiresAt.Sub(rec.CreatedAt) / 2)
		return true, a.cfg.Now().After(half), nil
	case errors.Is(err, store.ErrNotFound):
		return false, false, nil
	}
	return false, false, errors.Join(ErrUnavailable, err)
}

// issueDevice records a new device credential for username and hands it to
// the client: as a cookie (HttpOnly, Secure and "__Secure-" by the same
// rule as the session cookie, path limited to the endpoint that issued
// it), and returned for the response body or header. A failure to record
// it is logged, not answered: the login itself succeeded.
func (a *Auth) issueDevice(c *gin.Context, username string) string {
	if a.devices == nil {
		return ""
	}
	secret, err := newSecret()
	if err != nil {
		return ""
	}
	now := a.cfg.Now()
	d := store.Device{ID: store.HashSecret(secret), CreatedAt: now, ExpiresAt: now.Add(a.cfg.Throttle.DeviceLifetime)}
	ctx, cancel := a.storeCtx(c)
	err = a.devices.AddDevice(ctx, username, d, a.cfg.Throttle.MaxDevices)
	cancel()
	if err != nil {
		a.cfg.Logger.WarnContext(c.Request.Context(), "authkit: recording a device credential failed", "user", username, "err", err)
		return ""
	}
	raw := devicePrefix + b64.EncodeToString([]byte(username)) + "." + b64.EncodeToString(secret) + "." +
		b64.EncodeToString(a.deviceTag(username, secret))
	http.SetCookie(c.Writer, &http.Cookie{
		Name: a.deviceCookieName(c.Request), Value: raw, Path: c.Request.URL.Path,
		MaxAge: int(a.cfg.Throttle.DeviceLifetime.Seconds()), HttpOnly: true,
		Secure: a.secureCookies(c.Request), SameSite: http.SameSiteStrictMode,
	})
	a.auditRequest(c, audit.Event{Kind: audit.DeviceIssued, Username: username, Device: deviceRef(d.ID)})
	return raw
}

// deviceCookieName is the device cookie's name on r: "__Secure-" prefixed
// whenever it is Secure. (The "__Host-" prefix would require Path=/.)
func (a *Auth) deviceCookieName(r *http.Request) string {
	if a.secureCookies(r) {
		return "__Secure-" + deviceCookie
	}
	return deviceCookie
}

// secureCookies applies the session cookie's rule for Secure to r.
func (a *Auth) secureCookies(r *http.Request) bool {
	always := a.cfg.Cookie != nil && a.cfg.Cookie.AlwaysSecure
	return secureRequest(r, always)
}

// deviceRef is the short reference of a device in audit events.
func deviceRef(id store.Digest) string { return id.String()[:8] }

// revokeDevices ends every device credential of username (log out
// everywhere). A failure is logged: the sessions are already gone.
func (a *Auth) revokeDevices(c *gin.Context, username, reason string) {
	if a.devices == nil {
		return
	}
	ctx, cancel := a.storeCtx(c)
	err := a.devices.RevokeDevices(ctx, username)
	cancel()
	if err != nil {
		a.cfg.Logger.WarnContext(c.Request.Context(), "authkit: revoking device credentials failed", "user", username, "err", err)
		return
	}
	a.auditRequest(c, audit.Event{Kind: audit.DeviceRevoked, Username: username, Reason: reason})
}

// retireDevice revokes a device credential that a login is about to
// renew. A failure is logged: the credential then lasts its lifetime.
func (a *Auth) retireDevice(c *gin.Context, d *device) {
	ctx, cancel := a.storeCtx(c)
	err := a.devices.RevokeDevice(ctx, d.username, d.id)
	cancel()
	if err != nil {
		a.cfg.Logger.WarnContext(c.Request.Context(), "authkit: retiring a renewed device credential failed", "user", d.username, "err", err)
		return
	}
	a.auditRequest(c, audit.Event{Kind: audit.DeviceRevoked, Username: d.username, Device: deviceRef(d.id), Reason: "renewed"})
}
