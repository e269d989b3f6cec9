package ginauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/apikey"
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
