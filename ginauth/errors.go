package ginauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/store"
	"github.com/gin-authkit/authkit/tokens"
)

// Sentinel errors of the request path. Each maps to one row of the status
// contract (see [ErrorFor]); check them with [errors.Is].
var (
	// ErrCredentialsMissing: no credential of an enabled scheme was sent.
	ErrCredentialsMissing = errors.New("ginauth: credentials missing")
	// ErrCredentialsMalformed: a credential was sent but cannot be parsed
	// (empty bearer token, bad base64, two tokens).
	ErrCredentialsMalformed = errors.New("ginauth: credentials malformed")
	// ErrTokenInvalid: the access token or session is not valid; the client
	// must log in again.
	ErrTokenInvalid = errors.New("ginauth: token invalid")
	// ErrTokenExpired: the access token expired but its session is alive;
	// the client should refresh.
	ErrTokenExpired = errors.New("ginauth: token expired")
	// ErrBadCredentials: wrong username or password (never says which);
	// the same value as accounts.ErrBadCredentials, which the password
	// check returns.
	ErrBadCredentials = accounts.ErrBadCredentials
	// ErrMFARequired: the password was right, but the user has a second
	// factor; the login goes on at [Auth.MFAHandler] with the ticket of
	// the answer's body (none for HTTP Basic, which cannot go on).
	ErrMFARequired = errors.New("ginauth: second factor required")
	// ErrBadCode: the second factor's code is wrong, or was used already.
	ErrBadCode = errors.New("ginauth: invalid code")
	// ErrInvalidGrant: the refresh token is unknown, expired or reused.
	ErrInvalidGrant = errors.New("ginauth: invalid grant")
	// ErrStepUpRequired: authenticated, but without the second factor (or
	// not as recently) as the route's rule requires ([Rule.WithMFA]); the
	// client authenticates again (RFC 9470).
	ErrStepUpRequired = errors.New("ginauth: step-up authentication required")
	// ErrForbidden: authenticated, but a required role is missing.
	ErrForbidden = errors.New("ginauth: forbidden")
	// ErrCSRF: a cookie-authenticated unsafe request lacks a valid CSRF
	// token.
	ErrCSRF = errors.New("ginauth: csrf token missing or invalid")
	// ErrBadRequest: the request body of a handler is not what it expects.
	ErrBadRequest = errors.New("ginauth: bad request")
	// ErrTooLarge: the request body of a handler is over its size limit.
	ErrTooLarge = errors.New("ginauth: request body too large")
	// ErrThrottled: too many failed password checks for this account,
	// address or pair; the client must wait (see [Throttle]).
	ErrThrottled = errors.New("ginauth: too many failed attempts")
	// ErrInvalidClient: the token endpoint's client authentication failed
	// (RFC 6749 §5.2 invalid_client).
	ErrInvalidClient = errors.New("ginauth: invalid client")
	// ErrUnauthorizedClient: the client may not use the grant it asked
	// for, such as a public client asking for client_credentials (RFC
	// 6749 §5.2 unauthorized_client).
	ErrUnauthorizedClient = errors.New("ginauth: client not allowed this grant")
	// ErrInvalidScope: the scope asked for is not the client's (RFC 6749
	// §5.2 invalid_scope).
	ErrInvalidScope = errors.New("ginauth: invalid scope")
	// ErrUnsupportedGrant: the token endpoint does not serve the requested
	// grant_type (RFC 6749 §5.2 unsupported_grant_type).
	ErrUnsupportedGrant = errors.New("ginauth: unsupported grant type")
	// ErrUnavailable: the store could not answer in time. Anything on the
	// request path that wraps none of the other sentinels is treated the
	// same way: fail closed, never 200 and never 401.
	ErrUnavailable = errors.New("ginauth: store unavailable")
)

// Machine-readable error codes sent in the "error" member of every error
// body. They are stable: clients may switch on them; the package
// documentation lists each with its status.
const (
	codeAuthenticationRequired = "authentication_required"
	codeInvalidRequest         = "invalid_request"
	codeInvalidToken           = "invalid_token"
	codeTokenExpired           = "token_expired"
	codeInvalidCredentials     = "invalid_credentials"
	codeInvalidGrant           = "invalid_grant"
	codeForbidden              = "forbidden"
	codeStepUpRequired         = "step_up_required"
	codeCSRFFailed             = "csrf_failed"
	codeUnavailable            = "unavailable"
	codeTooManyAttempts        = "too_many_attempts"
	codeMFARequired            = "mfa_required"
	codeInvalidCode            = "invalid_code"
	// RFC 6749 §5.2 codes, used by the token endpoint.
	codeInvalidClient          = "invalid_client"
	codeUnsupportedGrantType   = "unsupported_grant_type"
	codeUnauthorizedClient     = "unauthorized_client"
	codeInvalidScope           = "invalid_scope"
	codeTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is an error response as it will be sent: status, headers and the
// JSON body {"error": Code, "message": Message}. An [ErrorHandler] may
// change it before it is written.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the stable machine-readable code.
	Code string
	// Message is a short, friendly text for people. It never says which
	// part of a credential failed.
	Message string
	// Header holds the headers to send (WWW-Authenticate, Retry-After,
	// Cache-Control).
	Header http.Header
	// Err is the cause, for logs only; it is never sent.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorHandler customises error responses. It is called with the response
// authkit is about to send; it may write its own response. If it writes
// nothing, e is written as it is after the call (so a handler may just
// change e.Message). The request is aborted either way.
type ErrorHandler func(c *gin.Context, e *Error)

// response is one row of the status contract.
type response struct {
	err     error
	status  int
	code    string
	message string
	// challenge: list every enabled scheme in WWW-Authenticate, with
	// bearerErr as the Bearer challenge's error attribute when set.
	challenge bool
	bearerErr string
	// stepUp: the Bearer challenge also carries the parameters of RFC
	// 9470 §3 (error_description, acr_values, max_age).
	stepUp bool
	// scope: a single Bearer challenge with error="insufficient_scope".
	scope bool
	// retry: send Retry-After.
	retry bool
	// oauthStatus and oauthCode answer the same failure at the OAuth 2.0
	// token and revocation endpoints (RFC 6749 §5.2), whose clients
	// expect 400 with their own codes; zero means the columns above.
	oauthStatus int
	oauthCode   string
}

// contract is the status contract, checked in order: the first row whose
// sentinel err wraps wins.
var contract = []response{
	{err: ErrInvalidClient, status: http.StatusUnauthorized, code: codeInvalidClient,
		message: "Client authentication failed", oauthStatus: http.StatusUnauthorized},
	{err: ErrUnsupportedGrant, status: http.StatusBadRequest, code: codeUnsupportedGrantType,
		message: "This grant type is not supported"},
	{err: ErrUnauthorizedClient, status: http.StatusBadRequest, code: codeUnauthorizedClient,
		message: "This client may not use this grant type"},
	{err: ErrInvalidScope, status: http.StatusBadRequest, code: codeInvalidScope,
		message: "The requested scope is not granted to this client"},
	{err: ErrCredentialsMalformed, status: http.StatusBadRequest, code: codeInvalidRequest,
		message: "The request is malformed – check how the credentials are sent", challenge: true, bearerErr: codeInvalidRequest},
	{err: ErrTooLarge, status: http.StatusRequestEntityTooLarge, code: codeInvalidRequest,
		message: "The request is too large"},
	{err: ErrBadRequest, status: http.StatusBadRequest, code: codeInvalidRequest,
		message: "The request is malformed – check the request body"},
	{err: ErrThrottled, status: http.StatusTooManyRequests, code: codeTooManyAttempts,
		message: "Too many attempts – please wait a moment and try again", retry: true},
	{err: ErrCredentialsMissing, status: http.StatusUnauthorized, code: codeAuthenticationRequired,
		message: "Authentication required – please log in", challenge: true},
	{err: ErrTokenExpired, status: http.StatusUnauthorized, code: codeTokenExpired,
		message: "Your access token has expired – please refresh it", challenge: true, bearerErr: codeInvalidToken},
	{err: ErrTokenInvalid, status: http.StatusUnauthorized, code: codeInvalidToken,
		message: "Your session is no longer valid – please log in again", challenge: true, bearerErr: codeInvalidToken},
	{err: ErrMFARequired, status: http.StatusUnauthorized, code: codeMFARequired,
		message: "A second factor is required – use your authenticator app or passkey", challenge: true,
		oauthStatus: http.StatusBadRequest, oauthCode: codeInvalidGrant},
	{err: ErrBadCode, status: http.StatusUnauthorized, code: codeInvalidCode,
		message: "That code is not valid – please try again", challenge: true},
	{err: ErrBadCredentials, status: http.StatusUnauthorized, code: codeInvalidCredentials,
		message: "Invalid username or password", challenge: true,
		oauthStatus: http.StatusBadRequest, oauthCode: codeInvalidGrant},
	{err: ErrInvalidGrant, status: http.StatusUnauthorized, code: codeInvalidGrant,
		message: "Your session has ended – please log in again", challenge: true, bearerErr: codeInvalidToken,
		oauthStatus: http.StatusBadRequest},
	{err: ErrStepUpRequired, status: http.StatusUnauthorized, code: codeStepUpRequired,
		message: "Authentication required – please log in with a second factor", challenge: true,
		bearerErr: "insufficient_user_authentication", stepUp: true},
	{err: ErrForbidden, status: http.StatusForbidden, code: codeForbidden,
		message: "Access denied – contact your administrator", scope: true},
	{err: ErrCSRF, status: http.StatusForbidden, code: codeCSRFFailed,
		message: "Request blocked – please reload the page and try again"},
}

// unavailable answers everything else: on the authentication path an
// unexpected error is a failure to decide, and authkit fails closed.
var unavailable = response{err: ErrUnavailable, status: http.StatusServiceUnavailable, code: codeUnavailable,
	message: "Service temporarily unavailable – please try again shortly", retry: true,
	oauthCode: codeTemporarilyUnavailable}

// errorFor maps err to its response: the one place where errors become
// status codes, from the contract table. oauth selects the answers of the
// OAuth 2.0 endpoints (RFC 6749 §5.2). Errors that wrap none of the
// sentinels become 503 "unavailable".
func (a *Auth) errorFor(err error, oauth bool) *Error {
	row := unavailable
	for _, r := range contract {
		if errors.Is(err, r.err) {
			row = r
			break
		}
	}
	e := &Error{Status: row.status, Code: row.code, Message: row.message, Header: http.Header{}, Err: err}
	e.Header.Set("Cache-Control", "no-store")
	realmParam := `realm="` + quoteEscape(a.cfg.Realm) + `"`
	if oauth {
		e.Header.Set("Pragma", "no-cache")
		if row.oauthStatus != 0 {
			e.Status = row.oauthStatus
		}
		if row.oauthCode != "" {
			e.Code = row.oauthCode
		}
		switch {
		case row.err == ErrInvalidClient:
			// RFC 6749 §5.2: a 401 names the scheme the client may use.
			e.Header.Set("WWW-Authenticate", SchemeBasic+" "+realmParam+`, charset="UTF-8"`)
		case row.retry:
			e.Header.Set("Retry-After", strconv.Itoa(a.retryAfterFor(err)))
		}
		return e
	}
	switch {
	case row.challenge:
		for _, s := range a.schemes {
			ch := s + " " + realmParam
			if s == SchemeBearer && row.bearerErr != "" {
				ch += `, error="` + row.bearerErr + `"`
			}
			if s == SchemeBearer && row.stepUp {
				ch += stepUpParams(err)
			}
			if s == SchemeBasic {
				ch += `, charset="UTF-8"`
			}
			e.Header.Add("WWW-Authenticate", ch)
		}
	case row.scope:
		// RFC 6750 §3.1; the roles that were missing are not named.
		e.Header.Set("WWW-Authenticate", "Bearer "+realmParam+`, error="insufficient_scope"`)
	case row.retry:
		e.Header.Set("Retry-After", strconv.Itoa(a.retryAfterFor(err)))
	}
	return e
}

// retryAfterFor is the Retry-After of err in whole seconds: its own wait
// when it carries one (throttling), Config.RetryAfter otherwise.
func (a *Auth) retryAfterFor(err error) int {
	var t *errThrottled
	if errors.As(err, &t) {
		return retryAfterSeconds(t.retryAfter)
	}
	return a.retryAfter
}

// classifyStore turns a store error met while checking a credential into a
// request-path error: "not found" means the credential is dead (asNotFound),
// anything else means the store failed.
func classifyStore(err error, asNotFound error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrStale):
		return errors.Join(asNotFound, err)
	case errors.Is(err, store.ErrReused):
		return errors.Join(ErrInvalidGrant, err)
	default: // including deadline exceeded: the store did not answer
		return errors.Join(ErrUnavailable, err)
	}
}

// classifyToken turns a verification error into a request-path error.
func classifyToken(err error) error {
	if errors.Is(err, tokens.ErrExpired) {
		return errors.Join(ErrTokenExpired, err)
	}
	return errors.Join(ErrTokenInvalid, err)
}

func quoteEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
