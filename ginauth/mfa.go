package ginauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Second factors at login. A user with a confirmed second factor (see
// accounts.Config.TOTP) who presents the right password gets no session:
// the login answers 401 mfa_required with a single-use ticket, and a
// second request to [Auth.MFAHandler] with the ticket and a code completes
// it. The ticket lives in the session store (store.ChallengeStore) for
// mfaTicketTTL; its code guesses are counted per ticket and per account
// like password failures (see [Throttle]).
const (
	mfaTicketTTL = 5 * time.Minute
	// mfaTicketLimit is the wrong codes one ticket may take: after them
	// it is locked, and the client must start again with the password.
	mfaTicketLimit = 5
	// mfaAccountLimit is the wrong codes an account may take over all its
	// tickets before it is locked (BaseLock, doubling, up to Window): six
	// digits are guessable without it.
	mfaAccountLimit = 20
)

// Counter kinds of the code checks, named in audit events.
const (
	counterTicket     = "mfa_ticket"
	counterMFAAccount = "mfa_account"
)

// mfaTicket is what a ticket keeps between the password and the code.
type mfaTicket struct {
	User string `json:"u"`
	// Gen is the user generation whose password was verified: a password
	// change or disable meanwhile ends the ticket.
	Gen uint64 `json:"g"`
	// Cookie: the login asked for a browser session cookie.
	Cookie bool `json:"c,omitempty"`
	// Known: the client presented a live device credential, so none is
	// handed out when the login completes.
	Known bool `json:"k,omitempty"`
}

// mfaRequiredError answers a right password of a user with a second
// factor: 401 mfa_required, the ticket in the body.
type mfaRequiredError struct {
	ticket  string // empty for HTTP Basic, which cannot go on
	methods []string
}

func (e *mfaRequiredError) Error() string   { return "ginauth: a second factor is required" }
func (e *mfaRequiredError) Is(t error) bool { return t == ErrMFARequired }

// mfaBody adds the ticket members to the body of an mfa_required answer.
func mfaBody(err error, body gin.H) {
	var mr *mfaRequiredError
	if !errors.As(err, &mr) || mr.ticket == "" {
		return
	}
	body["mfa_ticket"] = mr.ticket
	body["methods"] = mr.methods
	body["expires_in"] = int(mfaTicketTTL.Seconds())
}

// secondFactor is called once the password of u was right: it returns nil
// when u has no second factor, or the mfa_required error with a new
// ticket. noTicket marks HTTP Basic and the OAuth password grant, which
// cannot go on to a second step and get none.
func (a *Auth) secondFactor(c *gin.Context, u store.User, dv deviceVerdict, cookie, noTicket bool) error {
	ctx, cancel := a.storeCtx(c)
	defer cancel()
	methods, err := a.accounts.SecondFactors(ctx, u.Username)
	if err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	if len(methods) == 0 {
		return nil
	}
	if noTicket || a.challenges == nil {
		return &mfaRequiredError{methods: methods}
	}
	secret, err := newSecret()
	if err != nil {
		return err
	}
	value, err := json.Marshal(mfaTicket{User: u.Username, Gen: u.Generation, Cookie: cookie, Known: dv.known})
	if err != nil {
		return err
	}
	if err := a.challenges.PutChallenge(ctx, store.HashSecret(secret), value, a.cfg.Now().Add(mfaTicketTTL)); err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	a.auditRequest(c, audit.Event{Kind: audit.MFARequired, Status: http.StatusUnauthorized, Username: u.Username})
	return &mfaRequiredError{ticket: b64.EncodeToString(secret), methods: methods}
}

type mfaRequest struct {
	Ticket *string `json:"mfa_ticket"`
	Code   *string `json:"code"`
}

// MFAHandler handles POST {"mfa_ticket", "code"}: the second step of a
// login that answered 401 mfa_required. code is a current TOTP code or an
// unused recovery code. On success it creates the session and answers as
// [Auth.LoginHandler] would have (tokens, or the cookie when the login
// asked for one), the access token's amr being ["pwd", "otp", "mfa"]. A
// wrong code is 401 invalid_code and the ticket stays usable; the ticket
// is single use, and an unknown, expired or used one is 401
// invalid_grant (log in again); a user whose password changed or who was
// disabled meanwhile too. Wrong codes are counted per ticket (5) and per
// account (20, then a lock that doubles as [Throttle]'s do): over them
// the answer is 429 with Retry-After.
func (a *Auth) MFAHandler() gin.HandlerFunc {
	return func(c *gin.Context) {
		var req mfaRequest
		if err := decodeBody(c, &req); err != nil {
			a.fail(c, err)
			return
		}
		if req.Ticket == nil || req.Code == nil || *req.Ticket == "" || *req.Code == "" {
			a.fail(c, fmt.Errorf("%w: mfa_ticket and code are required", ErrBadRequest))
			return
		}
		g, cookie, err := a.mfaGrant(c, *req.Ticket, *req.Code)
		if err != nil {
			a.fail(c, err)
			return
		}
		a.answerLogin(c, g, cookie)
	}
}

// mfaGrant completes a login with its ticket and a code.
func (a *Auth) mfaGrant(c *gin.Context, ticket, code string) (g grant, cookie bool, err error) {
	if a.obs != nil {
		end := a.begin(c, observe.Login)
		defer func() { end(err, http.StatusOK) }()
	}
	totp := a.accounts.Config().TOTP
	if totp == nil {
		return grant{}, false, fmt.Errorf("%w: no TOTP factor configured", ErrInvalidGrant)
	}
	id, t, err := a.readTicket(c, ticket)
	if err != nil {
		return grant{}, false, err
	}
	withAttempt(c, t.User)
	err = a.checkCode(c, t.User, func(ctx context.Context) error {
		_, err := totp.CheckCode(ctx, t.User, code)
		return err
	}, counter{key: "mfat|" + id.String()[:32], kind: counterTicket, limit: mfaTicketLimit})
	if errors.Is(err, mfa.ErrNotEnrolled) {
		// The factor was removed since the password: start again.
		err = errors.Join(ErrInvalidGrant, err)
	}
	if err != nil {
		return grant{}, false, err
	}
	// A recovery code's use is audited by the mfa.Service.
	g, err = a.completeTicket(c, id, t, amrOTP)
	return g, t.Cookie, err
}

// readTicket reads a live ticket, leaving it in place.
func (a *Auth) readTicket(c *gin.Context, ticket string) (store.Digest, mfaTicket, error) {
	secret, err := b64.DecodeString(ticket)
	if err != nil || len(secret) != secretLen || a.challenges == nil {
		return store.Digest{}, mfaTicket{}, fmt.Errorf("%w: malformed mfa ticket", ErrInvalidGrant)
	}
	id := store.HashSecret(secret)
	ctx, cancel := a.storeCtx(c)
	value, err := a.challenges.Challenge(ctx, id)
	cancel()
	if err != nil {
		return store.Digest{}, mfaTicket{}, classifyStore(err, ErrInvalidGrant)
	}
	var t mfaTicket
	if err := json.Unmarshal(value, &t); err != nil {
		return store.Digest{}, mfaTicket{}, fmt.Errorf("ginauth: mfa ticket: %w", err)
	}
	return id, t, nil
}

// completeTicket ends a login whose second factor (method) was right:
// it takes the ticket (single use: of two requests with right factors,
// one goes on), checks that the user is unchanged since the password,
// and starts the session.
func (a *Auth) completeTicket(c *gin.Context, id store.Digest, t mfaTicket, method amrSet) (grant, error) {
	ctx, cancel := a.storeCtx(c)
	_, err := a.challenges.TakeChallenge(ctx, id)
	cancel()
	if err != nil {
		return grant{}, classifyStore(err, ErrInvalidGrant)
	}
	u, err := a.reread(c, t.User, ErrInvalidGrant)
	if err != nil {
		return grant{}, err
	}
	if u.Disabled || u.Generation != t.Gen {
		return grant{}, fmt.Errorf("%w: the user changed since the password was checked", ErrInvalidGrant)
	}
	auth := authContext{methods: amrPwd | method | amrMFA, at: a.cfg.Now().Unix()}
	return a.startSession(c, u, auth, deviceVerdict{known: t.Known})
}

// MountTOTP mounts the TOTP second factor's routes on rt (a group such
// as "/auth"), each with its rule:
//
//	POST mfa            Open      the login's second step ([Auth.MFAHandler])
//	POST totp/enroll    SignedIn  a new, pending factor: {"secret", "uri", "qr_png" (base64)}
//	POST totp/confirm   SignedIn  {"code"}: activates it; {"recovery_codes"}, shown once
//	POST totp/disable   SignedIn  {"password", "code"}: removes it, ends the
//	                              user's other sessions, and answers a new
//	                              session as a login does
//
// Once the user has a second factor, enrolling and confirming need a
// session that used one ("mfa" in amr; else 401 step_up_required), so a
// stolen password session cannot add a factor of its own; disabling asks
// for the password and a code instead. API keys and OAuth clients get
// 403 on all of them. Enrolling for a user who has a confirmed factor is
// 409 totp_enrolled;
// confirming without a pending one is 409 totp_not_pending. Wrong codes
// are 401 invalid_code and count as [Auth.MFAHandler]'s do; a wrong
// password at disable is 401 invalid_credentials, counted as a login's.
// Without accounts.Config.TOTP every route answers 404 not_enabled.
func (a *Auth) MountTOTP(rt *Router) {
	rt.POST("/mfa", Open(), a.MFAHandler())
	rt.POST("/totp/enroll", SignedIn(), a.totpEnroll)
	rt.POST("/totp/confirm", SignedIn(), a.totpConfirm)
	rt.POST("/totp/disable", SignedIn(), a.totpDisable)
}

// totpFor returns the TOTP service and the caller, or answers why not.
func (a *Auth) totpFor(c *gin.Context, change bool) (*mfa.Service, *Principal, bool) {
	totp := a.accounts.Config().TOTP
	if totp == nil {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_enabled", "message": "Second factors are not enabled here"})
		return nil, nil, false
	}
	p, ok := a.factorCaller(c, change)
	return totp, p, ok
}

// factorCaller returns the caller of a route that manages the caller's
// second factors, or answers why not. API keys and OAuth clients never
// manage factors (403): a leaked key must not turn itself into an
// interactive login. When change is set and the user already has a
// second factor, the caller must have used one ("mfa" in amr), or the
// answer is 401 step_up_required: a stolen password session must not add
// a factor of its own, or remove the user's.
func (a *Auth) factorCaller(c *gin.Context, change bool) (*Principal, bool) {
	p, ok := a.principal(c)
	if !ok {
		return nil, false
	}
	if p.KeyID != "" || p.ClientID != "" {
		a.fail(c, fmt.Errorf("%w: API keys and OAuth clients cannot manage second factors", ErrForbidden))
		return nil, false
	}
	if !change || slices.Contains(p.AMR, tokens.AMRMultiFactor) {
		return p, true
	}
	ctx, cancel := a.storeCtx(c)
	methods, err := a.accounts.SecondFactors(ctx, p.Username)
	cancel()
	switch {
	case err != nil:
		a.fail(c, errors.Join(ErrUnavailable, err))
		return nil, false
	case len(methods) > 0:
		a.fail(c, &errStepUp{})
		return nil, false
	}
	return p, true
}

// conflict answers a factor in the wrong state for the request.
func conflict(c *gin.Context, code, message string) {
	noStore(c)
	c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": code, "message": message})
}

func (a *Auth) totpEnroll(c *gin.Context) {
	totp, p, ok := a.totpFor(c, true)
	if !ok {
		return
	}
	ctx, cancel := a.storeCtx(c)
	e, err := totp.EnrollTOTP(ctx, p.Username)
	cancel()
	switch {
	case errors.Is(err, mfa.ErrEnrolled):
		conflict(c, "totp_enrolled", "A TOTP factor is already active – disable it first")
	case err != nil:
		a.fail(c, errors.Join(ErrUnavailable, err))
	default:
		noStore(c)
		c.JSON(http.StatusOK, gin.H{"secret": e.Secret, "uri": e.URI, "qr_png": e.QR})
	}
}

type codeRequest struct {
	Code     *string `json:"code"`
	Password *string `json:"password"`
}

func (a *Auth) totpConfirm(c *gin.Context) {
	totp, p, ok := a.totpFor(c, true)
	if !ok {
		return
	}
	var req codeRequest
	if err := decodeBody(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Code == nil || *req.Code == "" {
		a.fail(c, fmt.Errorf("%w: code is required", ErrBadRequest))
		return
	}
	var codes []string
	err := a.checkCode(c, p.Username, func(ctx context.Context) (err error) {
		codes, err = totp.ConfirmTOTP(ctx, p.Username, *req.Code)
		return err
	})
	switch {
	case errors.Is(err, mfa.ErrNotEnrolled):
		conflict(c, "totp_not_pending", "There is no TOTP enrolment to confirm – start one first")
	case errors.Is(err, mfa.ErrEnrolled):
		conflict(c, "totp_enrolled", "The TOTP factor is already active")
	case err != nil:
		a.fail(c, err)
	default:
		noStore(c)
		c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
	}
}

func (a *Auth) totpDisable(c *gin.Context) {
	// The password and a code re-authenticate the caller with both
	// factors: no step-up is asked first.
	totp, p, ok := a.totpFor(c, false)
	if !ok {
		return
	}
	var req codeRequest
	if err := decodeBody(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Code == nil || req.Password == nil || *req.Code == "" {
		a.fail(c, fmt.Errorf("%w: password and code are required", ErrBadRequest))
		return
	}
	_, dv, err := a.verifyPassword(c, p.Username, *req.Password)
	if err == nil {
		err = a.checkCode(c, p.Username, func(ctx context.Context) error {
			_, err := totp.CheckCode(ctx, p.Username, *req.Code)
			return err
		})
	}
	if errors.Is(err, mfa.ErrNotEnrolled) {
		conflict(c, "totp_not_enrolled", "There is no active TOTP factor")
		return
	}
	if err == nil {
		ctx, cancel := a.storeCtx(c)
		if err = totp.DisableTOTP(ctx, p.Username); err != nil {
			err = errors.Join(ErrUnavailable, err)
		}
		cancel()
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	a.endOtherSessions(c, p, dv)
}

// reread reads the user again, after a change that moved its generation.
func (a *Auth) reread(c *gin.Context, username string, asNotFound error) (store.User, error) {
	ctx, cancel := a.storeCtx(c)
	defer cancel()
	u, err := a.users.User(ctx, username)
	return u, classifyStore(err, asNotFound)
}

// checkCode runs check, which judges a second-factor code of username,
// counted on the account's code counter and on more (a ticket's). A wrong
// code is ErrBadCode; mfa's state errors pass through.
func (a *Auth) checkCode(c *gin.Context, username string, check func(context.Context) error, more ...counter) error {
	counters := append(more, counter{key: "mfau|" + username, kind: counterMFAAccount, limit: mfaAccountLimit})
	at, err := a.throttleBegin(c, counters, nil)
	if err != nil {
		return err
	}
	ctx, cancel := a.storeCtx(c)
	verdict := check(ctx)
	cancel()
	switch {
	case verdict == nil, errors.Is(verdict, mfa.ErrNotEnrolled), errors.Is(verdict, mfa.ErrEnrolled):
	case errors.Is(verdict, mfa.ErrBadCode):
		verdict = errors.Join(ErrBadCode, ErrBadCredentials, verdict)
	default:
		verdict = errors.Join(ErrUnavailable, verdict)
	}
	if err := a.throttleEnd(c, at, verdict); err != nil {
		return err
	}
	return verdict
}
