package ginauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/store"
)

// API keys (package apikey) arrive as "Authorization: Bearer ak_…" and
// are told from access tokens by their prefix. A valid key authenticates
// as its owner with the key's roles that the owner still has, and no amr
// (so it never meets a step-up rule); anything else is 401 invalid_token.
// Refused keys are counted per client address (Throttle.AddressLimit,
// locked as password failures are): the secrets are 256 bits, so
// guessing is hopeless, but a scanner should still meet 429. The lock is
// remembered in the process, so that a valid key costs one store read and
// nothing more: each replica learns of a lock at the first refused key it
// counts itself.

// keyCounter is the throttle counter of refused API keys of an address.
func (a *Auth) keyCounter(addr string) counter {
	return counter{key: "akaddr|" + addressBucket(addr), kind: counterAddress, limit: a.cfg.Throttle.AddressLimit}
}

// keyLocks holds, per address bucket, when its refused-key lock ends.
type keyLocks struct{ m sync.Map } // string -> time.Time

func (l *keyLocks) until(addr string) time.Time {
	if v, ok := l.m.Load(addr); ok {
		return v.(time.Time)
	}
	return time.Time{}
}

// checkAPIKey authenticates a request that carries an API key.
func (a *Auth) checkAPIKey(c *gin.Context, keys *apikey.Keys, raw string) (Principal, error) {
	addr := addressBucket(a.clientAddr(c))
	now := a.cfg.Now()
	if u := a.keyLocks.until(addr); u.After(now) {
		return Principal{}, &errThrottled{retryAfter: u.Sub(now), reason: "api_key_address_locked"}
	}
	ctx, cancel := a.storeCtx(c)
	p, err := keys.Verify(ctx, raw)
	cancel()
	switch {
	case err == nil:
		return Principal{Username: p.Owner, Roles: p.Roles, Scheme: SchemeBearer, KeyID: p.ID}, nil
	case errors.Is(err, apikey.ErrRejected):
		a.refusedKey(c, addr)
		return Principal{}, errors.Join(ErrTokenInvalid, err)
	default:
		return Principal{}, errors.Join(ErrUnavailable, err)
	}
}

// refusedKey counts a refused key against its address, and remembers the
// lock when the count reaches the limit. A failure to count is logged:
// the request is refused anyway.
func (a *Auth) refusedKey(c *gin.Context, addr string) {
	t := &a.cfg.Throttle
	if t.Disabled {
		return
	}
	ct := a.keyCounter(addr)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), a.cfg.StoreTimeout)
	defer cancel()
	id, err := newSecret()
	if err != nil {
		return
	}
	now := a.cfg.Now()
	sid := b64.EncodeToString(id[:12])
	if _, err = a.store.BeginAttempt(ctx, sid, now.Add(a.cfg.StoreTimeout+time.Second), ct.key); err == nil {
		var after []store.Attempt
		if after, err = a.store.EndAttempt(ctx, sid, true, 2*t.Window, ct.key); err == nil && len(after) == 1 {
			if u := t.lockedUntil(after[0], ct.limit); u.After(now) {
				a.keyLocks.m.Store(addr, u)
			}
		}
	}
	if err != nil {
		a.cfg.Logger.WarnContext(ctx, "authkit: counting a refused API key failed", "err", err)
	}
}

// MountAPIKeys mounts the routes with which a signed-in user manages
// their own API keys on rt (a group such as "/auth"), each with its rule:
//
//	POST   apikeys             SignedIn  {"name", "roles", "expires_in"}: {"key", "id", …}, the key shown once
//	GET    apikeys             SignedIn  {"api_keys": [{"id", "name", "roles", "created_at", "expires_at", "last_used"}]}
//	POST   apikeys/:id/rotate  SignedIn  {"overlap"} (seconds): a successor, the old key ending after the overlap
//	DELETE apikeys/:id         SignedIn  204
//
// roles must be the caller's (else 400 invalid_request), expires_in is in
// seconds (0 or absent: never). A key cannot manage keys: these routes
// refuse a caller authenticated by an API key (403 forbidden), so a
// leaked key cannot mint more. Unknown ids are 404 not_found. Without
// accounts.Config.APIKeys every route answers 404 not_enabled.
func (a *Auth) MountAPIKeys(rt *Router) {
	rt.POST("/apikeys", SignedIn(), a.apiKeyCreate)
	rt.GET("/apikeys", SignedIn(), a.apiKeyList)
	rt.POST("/apikeys/:id/rotate", SignedIn(), a.apiKeyRotate)
	rt.DELETE("/apikeys/:id", SignedIn(), a.apiKeyRevoke)
}

// keyOwner returns the API keys and the caller, or answers why not.
func (a *Auth) keyOwner(c *gin.Context) (*apikey.Keys, *Principal, bool) {
	if a.apiKeys == nil {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_enabled", "message": "API keys are not enabled here"})
		return nil, nil, false
	}
	p, ok := a.principal(c)
	if !ok {
		return nil, nil, false
	}
	if p.KeyID != "" || p.ClientID != "" {
		a.fail(c, fmt.Errorf("%w: API keys and OAuth clients cannot manage API keys", ErrForbidden))
		return nil, nil, false
	}
	return a.apiKeys, p, true
}

func keyJSON(k store.APIKey) gin.H {
	h := gin.H{"id": k.ID, "name": k.Name, "roles": k.Roles, "created_at": k.CreatedAt.UTC().Format(time.RFC3339)}
	if h["roles"] == nil {
		h["roles"] = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		h["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !k.LastUsed.IsZero() {
		h["last_used"] = k.LastUsed.UTC().Format(time.RFC3339)
	}
	return h
}

// keyError maps package apikey's errors.
func (a *Auth) keyError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, apikey.ErrNotFound):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_found", "message": "You have no such API key"})
	case errors.Is(err, apikey.ErrRoles), errors.Is(err, store.ErrInvalid):
		a.fail(c, errors.Join(ErrBadRequest, err))
	case errors.Is(err, apikey.ErrNoOwner):
		a.fail(c, errors.Join(ErrTokenInvalid, err))
	default:
		a.fail(c, errors.Join(ErrUnavailable, err))
	}
}

type apiKeyRequest struct {
	Name      string   `json:"name"`
	Roles     []string `json:"roles"`
	ExpiresIn int64    `json:"expires_in"`
	Overlap   int64    `json:"overlap"`
}

// maxKeySeconds bounds expires_in and overlap: ten years.
const maxKeySeconds = 10 * 365 * 24 * 3600

// keyRequest decodes the body of a create or rotate request and checks
// the duration in seconds that field names, or answers why not.
func (a *Auth) keyRequest(c *gin.Context, field string, secs func(apiKeyRequest) int64) (apiKeyRequest, bool) {
	var req apiKeyRequest
	if err := decodeBody(c, &req); err != nil {
		a.fail(c, err)
		return req, false
	}
	if v := secs(req); v < 0 || v > maxKeySeconds {
		a.fail(c, fmt.Errorf("%w: %s must be 0 to %d seconds", ErrBadRequest, field, maxKeySeconds))
		return req, false
	}
	return req, true
}

// answerNewKey answers a created or rotated key: 201 with the key, shown
// this once, audited as kind.
func (a *Auth) answerNewKey(c *gin.Context, p *Principal, raw string, k store.APIKey, err error, kind audit.Kind, reason string) {
	if err != nil {
		a.keyError(c, err)
		return
	}
	a.auditRequest(c, audit.Event{Kind: kind, Status: http.StatusCreated, Username: p.Username, Reason: reason + k.ID})
	noStore(c)
	h := keyJSON(k)
	h["key"] = raw
	c.JSON(http.StatusCreated, h)
}

func (a *Auth) apiKeyCreate(c *gin.Context) {
	keys, p, ok := a.keyOwner(c)
	if !ok {
		return
	}
	req, ok := a.keyRequest(c, "expires_in", func(r apiKeyRequest) int64 { return r.ExpiresIn })
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	raw, k, err := keys.Create(ctx, p.Username, apikey.Spec{Name: req.Name, Roles: req.Roles, TTL: time.Duration(req.ExpiresIn) * time.Second})
	cancel()
	a.answerNewKey(c, p, raw, k, err, audit.APIKeyCreated, "")
}

func (a *Auth) apiKeyList(c *gin.Context) {
	keys, p, ok := a.keyOwner(c)
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	list, err := keys.List(ctx, p.Username)
	cancel()
	if err != nil {
		a.keyError(c, err)
		return
	}
	out := make([]gin.H, 0, len(list))
	for _, k := range list {
		out = append(out, keyJSON(k))
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"api_keys": out})
}

func (a *Auth) apiKeyRotate(c *gin.Context) {
	keys, p, ok := a.keyOwner(c)
	if !ok {
		return
	}
	req, ok := a.keyRequest(c, "overlap", func(r apiKeyRequest) int64 { return r.Overlap })
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	raw, k, err := keys.Rotate(ctx, p.Username, c.Param("id"), time.Duration(req.Overlap)*time.Second)
	cancel()
	a.answerNewKey(c, p, raw, k, err, audit.APIKeyRotated, c.Param("id")+">")
}

func (a *Auth) apiKeyRevoke(c *gin.Context) {
	keys, p, ok := a.keyOwner(c)
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	err := keys.Revoke(ctx, p.Username, c.Param("id"))
	cancel()
	if err != nil {
		a.keyError(c, err)
		return
	}
	a.auditRequest(c, audit.Event{Kind: audit.APIKeyRevoked, Status: http.StatusNoContent, Username: p.Username, Reason: c.Param("id")})
	c.Status(http.StatusNoContent)
}
