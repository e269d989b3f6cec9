package ginauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/passkey"
	"github.com/gin-authkit/authkit/store"
)

// MountPasskeys mounts the passkey routes (see package passkey) on rt, a
// group such as "/auth", each with its rule:
//
//	POST   passkeys/register/begin   SignedIn  {"name"}: {"ceremony", "options"}
//	POST   passkeys/register/finish  SignedIn  {"ceremony", "credential"}: the new passkey
//	GET    passkeys                  SignedIn  {"passkeys": [{"id", "name", "created_at", "last_used"}]}
//	DELETE passkeys/:id              SignedIn  ends the user's other sessions and answers
//	                                           a new one as a login does; 404 not_found
//	                                           when not the caller's
//	POST   passkeys/login/begin      Open      {} or {"mfa_ticket"}: {"ceremony", "options"}
//	POST   passkeys/login/finish     Open      {"ceremony", "credential", "cookie", "mfa_ticket"}
//
// Once the user has a second factor, registering and removing a passkey
// need a session that used one ("mfa" in amr; else 401
// step_up_required): a stolen password session can neither add a
// passkey of its own nor remove the user's. API keys and OAuth clients
// get 403 on the signed-in routes.
//
// options is what the browser's navigator.credentials.create or .get
// takes (its "publicKey" member, in WebAuthn's JSON form), and credential
// the PublicKeyCredential's toJSON(). A sign-in finishes as a login does
// (tokens, or the cookie with "cookie": true). Without "mfa_ticket" it is
// a sign-in with the passkey alone, whose access tokens carry amr
// ["hwk"], and "mfa" too when the authenticator verified the user (a PIN
// or biometric). With the ticket of a login that answered mfa_required,
// the passkey is that login's second factor: it must be one of the
// ticket's user's, and the amr is ["pwd", "hwk", "mfa"]. A passkey the
// server does not accept, whatever the reason (unknown, revoked, another
// user's, a signature counter that went back, a used or expired
// ceremony, the wrong origin), is 401 invalid_credentials. Without
// accounts.Config.Passkeys every route answers 404 not_enabled.
func (a *Auth) MountPasskeys(rt *Router) {
	rt.POST("/passkeys/register/begin", SignedIn(), a.passkeyRegisterBegin)
	rt.POST("/passkeys/register/finish", SignedIn(), a.passkeyRegisterFinish)
	rt.GET("/passkeys", SignedIn(), a.passkeyList)
	rt.DELETE("/passkeys/:id", SignedIn(), a.passkeyRevoke)
	rt.POST("/passkeys/login/begin", Open(), a.passkeyLoginBegin)
	rt.POST("/passkeys/login/finish", Open(), a.passkeyLoginFinish)
}

// passkeys returns the passkey service, or answers that there is none.
func (a *Auth) passkeys(c *gin.Context) (*passkey.Passkeys, bool) {
	p := a.accounts.Config().Passkeys
	if p == nil {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_enabled", "message": "Passkeys are not enabled here"})
	}
	return p, p != nil
}

// passkeyCaller returns the passkey service and the signed-in caller, or
// answers why not (see [Auth.factorCaller]; change: the request adds or
// removes a passkey).
func (a *Auth) passkeyCaller(c *gin.Context, change bool) (*passkey.Passkeys, *Principal, bool) {
	pk, ok := a.passkeys(c)
	if !ok {
		return nil, nil, false
	}
	p, ok := a.factorCaller(c, change)
	return pk, p, ok
}

// answerCeremony answers the begin step of a ceremony: its options for
// the browser and the ceremony string the finish step takes back.
func (a *Auth) answerCeremony(c *gin.Context, options []byte, ceremony string, err error) {
	if err != nil {
		a.fail(c, passkeyError(err))
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"ceremony": ceremony, "options": json.RawMessage(options)})
}

type passkeyRequest struct {
	Name       *string         `json:"name"`
	Ceremony   *string         `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Ticket     *string         `json:"mfa_ticket"`
	Cookie     bool            `json:"cookie"`
}

// passkeyError maps the passkey package's errors: a refused credential
// is a bad credential (401), bad input a bad request, the rest the
// store's failure.
func passkeyError(err error) error {
	switch {
	case errors.Is(err, passkey.ErrRejected), errors.Is(err, passkey.ErrNoPasskey):
		return errors.Join(ErrBadCredentials, err)
	case errors.Is(err, store.ErrInvalid), errors.Is(err, passkey.ErrTooMany):
		return errors.Join(ErrBadRequest, err)
	default:
		return errors.Join(ErrUnavailable, err)
	}
}

func (a *Auth) passkeyRegisterBegin(c *gin.Context) {
	pk, p, ok := a.passkeyCaller(c, true)
	if !ok {
		return
	}
	var req passkeyRequest
	if err := decodeBody(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	name := ""
	if req.Name != nil {
		name = *req.Name
	}
	ctx, cancel := a.storeCtx(c)
	options, ceremony, err := pk.BeginRegistration(ctx, p.Username, name)
	cancel()
	a.answerCeremony(c, options, ceremony, err)
}

func (a *Auth) passkeyRegisterFinish(c *gin.Context) {
	pk, p, ok := a.passkeyCaller(c, true)
	if !ok {
		return
	}
	req, ok := a.ceremonyRequest(c)
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	info, err := pk.FinishRegistration(ctx, p.Username, *req.Ceremony, bytes.NewReader(req.Credential))
	cancel()
	if err != nil {
		a.fail(c, passkeyError(err))
		return
	}
	a.auditRequest(c, audit.Event{Kind: audit.PasskeyAdded, Status: http.StatusOK, Username: p.Username})
	noStore(c)
	c.JSON(http.StatusOK, passkeyJSON(info))
}

// ceremonyRequest decodes a finish request: a ceremony and a credential.
func (a *Auth) ceremonyRequest(c *gin.Context) (passkeyRequest, bool) {
	var req passkeyRequest
	if err := decodeBody(c, &req); err != nil {
		a.fail(c, err)
		return req, false
	}
	if req.Ceremony == nil || *req.Ceremony == "" || len(req.Credential) == 0 {
		a.fail(c, fmt.Errorf("%w: ceremony and credential are required", ErrBadRequest))
		return req, false
	}
	return req, true
}

func passkeyJSON(i passkey.Info) gin.H {
	h := gin.H{"id": i.ID, "name": i.Name, "created_at": i.CreatedAt.UTC().Format(time.RFC3339)}
	if !i.LastUsed.IsZero() {
		h["last_used"] = i.LastUsed.UTC().Format(time.RFC3339)
	}
	return h
}

func (a *Auth) passkeyList(c *gin.Context) {
	pk, p, ok := a.passkeyCaller(c, false)
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	infos, err := pk.List(ctx, p.Username)
	cancel()
	if err != nil {
		a.fail(c, passkeyError(err))
		return
	}
	out := make([]gin.H, 0, len(infos))
	for _, i := range infos {
		out = append(out, passkeyJSON(i))
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"passkeys": out})
}

func (a *Auth) passkeyRevoke(c *gin.Context) {
	pk, p, ok := a.passkeyCaller(c, true)
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	err := pk.Revoke(ctx, p.Username, c.Param("id"))
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_found", "message": "You have no such passkey"})
	case err != nil:
		a.fail(c, passkeyError(err))
	default:
		a.auditRequest(c, audit.Event{Kind: audit.PasskeyRevoked, Status: http.StatusOK, Username: p.Username})
		a.endOtherSessions(c, p, deviceVerdict{known: true})
	}
}

// endOtherSessions ends every session of p's user after a factor was
// removed (one opened with it by someone else must not outlive it), and
// answers the caller with a new session, as a login does.
func (a *Auth) endOtherSessions(c *gin.Context, p *Principal, dv deviceVerdict) {
	ctx, cancel := a.storeCtx(c)
	err := a.store.RevokeAll(ctx, p.Username)
	cancel()
	if err != nil {
		a.fail(c, errors.Join(ErrUnavailable, err))
		return
	}
	u, err := a.reread(c, p.Username, ErrTokenInvalid)
	if err != nil {
		a.fail(c, err)
		return
	}
	g, err := a.startSession(c, u, authContext{methods: amrPwd, at: a.cfg.Now().Unix()}, dv)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.answerLogin(c, g, p.Scheme == SchemeCookie)
}

func (a *Auth) passkeyLoginBegin(c *gin.Context) {
	pk, ok := a.passkeys(c)
	if !ok {
		return
	}
	var req passkeyRequest
	if err := decodeBody(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	username := ""
	if req.Ticket != nil {
		_, t, err := a.readTicket(c, *req.Ticket)
		if err != nil {
			a.fail(c, err)
			return
		}
		username = t.User
	}
	ctx, cancel := a.storeCtx(c)
	options, ceremony, err := pk.BeginLogin(ctx, username)
	cancel()
	a.answerCeremony(c, options, ceremony, err)
}

func (a *Auth) passkeyLoginFinish(c *gin.Context) {
	pk, ok := a.passkeys(c)
	if !ok {
		return
	}
	req, ok := a.ceremonyRequest(c)
	if !ok {
		return
	}
	g, cookie, err := a.passkeyGrant(c, pk, req)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.answerLogin(c, g, cookie)
}

// passkeyGrant checks a sign-in's assertion and starts the session: of
// the passkey alone, or as the second factor of a ticket's login.
func (a *Auth) passkeyGrant(c *gin.Context, pk *passkey.Passkeys, req passkeyRequest) (_ grant, _ bool, err error) {
	if a.obs != nil {
		end := a.begin(c, observe.Login)
		defer func() { end(err, http.StatusOK) }()
	}
	var (
		id     store.Digest
		t      mfaTicket
		ticket = req.Ticket != nil
	)
	if ticket {
		var err error
		if id, t, err = a.readTicket(c, *req.Ticket); err != nil {
			return grant{}, false, err
		}
	}
	ctx, cancel := a.storeCtx(c)
	res, err := pk.FinishLogin(ctx, *req.Ceremony, bytes.NewReader(req.Credential))
	cancel()
	if err != nil {
		return grant{}, false, passkeyError(err)
	}
	if ticket {
		if res.Username != t.User {
			return grant{}, false, fmt.Errorf("%w: a passkey of another user for a ticket", ErrBadCredentials)
		}
		g, err := a.completeTicket(c, id, t, amrHwk)
		return g, t.Cookie, err
	}
	u, err := a.reread(c, res.Username, ErrBadCredentials)
	if err != nil {
		return grant{}, false, err
	}
	if u.Disabled {
		return grant{}, false, fmt.Errorf("%w: disabled user", ErrBadCredentials)
	}
	auth := authContext{methods: amrHwk, at: a.cfg.Now().Unix()}
	if res.UserVerified {
		auth.methods |= amrMFA
	}
	g, err := a.startSession(c, u, auth, deviceVerdict{})
	return g, req.Cookie, err
}
