package ginauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-authkit/authkit/tokens"
)

// Authentication schemes named in WWW-Authenticate challenges.
const (
	SchemeBearer = "Bearer"
	SchemeBasic  = "Basic"
)

// SchemeCookie is [Principal.Scheme] for the browser session cookie; it is
// not an HTTP authentication scheme and never appears in a challenge.
const SchemeCookie = "Cookie"

// Credential is what an [Extractor] found in a request: a [BearerToken], a
// [BasicCredentials] or a [SessionCookie].
type Credential interface{ credential() }

// BearerToken is an access token sent as "Authorization: Bearer …".
type BearerToken string

// BasicCredentials are a username and password sent with HTTP Basic.
type BasicCredentials struct{ Username, Password string }

// SessionCookie is the browser session cookie: the session owner and the
// raw session secret.
type SessionCookie struct {
	Username string
	Secret   []byte
	// auth is the authentication context and its tag, unchecked.
	auth string
}

func (BearerToken) credential()      {}
func (BasicCredentials) credential() {}
func (SessionCookie) credential()    {}

// Extractor finds one kind of credential in a request. Extractors are
// tried in the order configured; the first that finds a credential wins.
type Extractor interface {
	// Scheme is the authentication scheme to list in 401 challenges, or ""
	// for credentials that have none (cookies).
	Scheme() string
	// Extract returns (nil, nil) when the request carries no credential of
	// this kind, and an error wrapping [ErrCredentialsMalformed] (or
	// [ErrCSRF]) when it carries a broken one.
	Extract(r *http.Request) (Credential, error)
}

// Bearer extracts an access token from "Authorization: Bearer <token>"
// (RFC 6750 §2.1). Tokens in query strings or bodies are not accepted:
// they end up in logs and caches.
func Bearer() Extractor { return bearerExtractor{} }

// Basic extracts a username and password from HTTP Basic authentication
// (RFC 7617). Every request costs a bcrypt comparison: meant for scripts
// and curl, not for high request rates.
func Basic() Extractor { return basicExtractor{} }

type bearerExtractor struct{}

func (bearerExtractor) Scheme() string { return SchemeBearer }

func (bearerExtractor) Extract(r *http.Request) (Credential, error) {
	tok, ok, err := bearerToken(r)
	if !ok || err != nil {
		return nil, err
	}
	return BearerToken(tok), nil
}

// bearerToken is the Bearer extractor without the Credential interface,
// whose boxing of the token costs an allocation on every request: the
// middleware calls it directly when Bearer is the first extractor.
func bearerToken(r *http.Request) (tok string, ok bool, err error) {
	param, ok, err := authorization(r, SchemeBearer)
	if !ok || err != nil {
		return "", false, err
	}
	if !isToken68(param) {
		return "", false, fmt.Errorf("%w: bearer token is empty, has spaces or bad characters", ErrCredentialsMalformed)
	}
	return param, true, nil
}

type basicExtractor struct{}

func (basicExtractor) Scheme() string { return SchemeBasic }

func (basicExtractor) Extract(r *http.Request) (Credential, error) {
	param, ok, err := authorization(r, SchemeBasic)
	if !ok || err != nil {
		return nil, err
	}
	// token68 first: Go's base64 decoder skips CR and LF, so without it
	// a credential with line breaks inserted would decode to the same one.
	if !isToken68(param) {
		return nil, fmt.Errorf("%w: basic credentials are not token68", ErrCredentialsMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(param)
	if err != nil || !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: basic credentials are not base64 of UTF-8", ErrCredentialsMalformed)
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found || user == "" {
		return nil, fmt.Errorf("%w: basic credentials lack user-id or colon", ErrCredentialsMalformed)
	}
	if crossSite(r) {
		// Browsers replay cached Basic credentials on cross-site requests
		// like cookies; refuse them where a CSRF token cannot be asked for.
		return nil, ErrCSRF
	}
	return BasicCredentials{Username: user, Password: pass}, nil
}

// crossSite reports an unsafe request that a browser says was started by
// another site (Fetch Metadata). Non-browser clients send no such header.
func crossSite(r *http.Request) bool {
	return !safeMethod(r.Method) && r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

// maxAuthorizationBytes caps the Authorization header: a token is at most
// tokens.MaxTokenSize, and Basic credentials are far shorter. Anything
// longer is refused as malformed (400) before it is parsed.
const maxAuthorizationBytes = tokens.MaxTokenSize + len("Bearer ")

// authorization returns the parameter of the Authorization header when its
// scheme is scheme. ok is false when the header is absent or names another
// scheme (another extractor may want it). Several Authorization headers are
// malformed: which one would count is ambiguous.
func authorization(r *http.Request, scheme string) (param string, ok bool, err error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", false, nil
	}
	if len(values) > 1 {
		return "", false, fmt.Errorf("%w: several Authorization headers", ErrCredentialsMalformed)
	}
	if len(values[0]) > maxAuthorizationBytes {
		return "", false, fmt.Errorf("%w: Authorization header of %d bytes, limit %d",
			ErrCredentialsMalformed, len(values[0]), maxAuthorizationBytes)
	}
	v := strings.TrimSpace(values[0])
	if v == "" {
		return "", false, fmt.Errorf("%w: empty Authorization header", ErrCredentialsMalformed)
	}
	name, param, _ := strings.Cut(v, " ")
	if !strings.EqualFold(name, scheme) {
		return "", false, nil
	}
	return strings.TrimLeft(param, " "), true, nil
}

// isToken68 reports whether s is a single token68 (RFC 9110 §11.2), the
// syntax of bearer tokens and Basic credentials: token68 characters, then
// only "=" padding.
func isToken68(s string) bool {
	i := 0
	for i < len(s) && token68[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// token68 marks the characters of RFC 9110's token68 before the padding.
var token68 = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isAlnum(byte(c)) || strings.IndexByte("-._~+/", byte(c)) >= 0
	}
	return t
}()

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// CookieConfig configures the browser session cookie. Zero values mean the
// documented defaults.
type CookieConfig struct {
	// Name of the session cookie. Default "authkit_session".
	Name string
	// CSRFName is the cookie that carries the CSRF token for scripts of the
	// page to read (double-submit, bound to the session). Default
	// "authkit_csrf".
	CSRFName string
	// CSRFHeader is the header that must echo the CSRF token on unsafe
	// requests (anything but GET, HEAD, OPTIONS, TRACE). Default
	// "X-CSRF-Token".
	CSRFHeader string
	// Path of both cookies. Default "/".
	Path string
	// AlwaysSecure sets the Secure attribute even for plain-HTTP requests
	// to a loopback host. Default false: Secure is set on every other
	// request, including any that came through a proxy.
	AlwaysSecure bool
	// NoHostPrefix keeps the names as they are. Default false: whenever
	// the cookies are Secure, their names get the "__Host-" prefix, which
	// browsers accept only from a secure origin, for Path=/ and without a
	// Domain, so a sibling subdomain or a plain-HTTP attacker cannot plant
	// or overwrite them. A Path other than "/" implies NoHostPrefix.
	NoHostPrefix bool
	// Persist gives the cookies a Max-Age of the session's lifetime, so
	// they survive a browser restart. Default false: session cookies,
	// gone when the browser closes, while the server-side session still
	// ends on its own.
	Persist bool
}

// cookieExtractor reads the browser session cookie and enforces CSRF
// protection on unsafe requests (Config.Cookie).
type cookieExtractor struct{ cfg CookieConfig }

func newCookieExtractor(cfg CookieConfig) *cookieExtractor {
	if cfg.Name == "" {
		cfg.Name = "authkit_session"
	}
	if cfg.CSRFName == "" {
		cfg.CSRFName = "authkit_csrf"
	}
	if cfg.CSRFHeader == "" {
		cfg.CSRFHeader = "X-CSRF-Token"
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	return &cookieExtractor{cfg: cfg}
}

// Extract reads the session cookie; on unsafe methods it also requires the
// CSRF header to carry the token derived from the cookie. (nil, nil) means
// no cookie.
func (x *cookieExtractor) Extract(r *http.Request) (Credential, error) {
	ck, err := r.Cookie(x.name(r, x.cfg.Name))
	if errors.Is(err, http.ErrNoCookie) || (err == nil && ck.Value == "") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: session cookie: %v", ErrCredentialsMalformed, err)
	}
	user, secret, auth, err := parseSessionCookie(ck.Value)
	if err != nil {
		// A garbled cookie is a dead session, not a client bug: answer
		// invalid_token so the page offers to log in again.
		return nil, errors.Join(ErrTokenInvalid, err)
	}
	if !safeMethod(r.Method) {
		if crossSite(r) {
			return nil, ErrCSRF
		}
		got := r.Header.Get(x.cfg.CSRFHeader)
		want := csrfToken(secret)
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, ErrCSRF
		}
	}
	return SessionCookie{Username: user, Secret: secret, auth: auth}, nil
}

// name is the name a cookie has on r: with the "__Host-" prefix when the
// cookies are Secure there (see CookieConfig.NoHostPrefix).
func (x *cookieExtractor) name(r *http.Request, base string) string {
	if x.cfg.NoHostPrefix || x.cfg.Path != "/" || !x.secure(r) {
		return base
	}
	return "__Host-" + base
}

// set writes the session and CSRF cookies for a new session.
func (x *cookieExtractor) set(w http.ResponseWriter, r *http.Request, value string, secret []byte, maxAge int) {
	if !x.cfg.Persist {
		maxAge = 0 // a session cookie
	}
	secure := x.secure(r)
	http.SetCookie(w, &http.Cookie{
		Name: x.name(r, x.cfg.Name), Value: value, Path: x.cfg.Path,
		MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	// Readable by the page's scripts on purpose (double-submit); useless
	// to an attacker, who cannot read it cross-site nor derive it.
	http.SetCookie(w, &http.Cookie{
		Name: x.name(r, x.cfg.CSRFName), Value: csrfToken(secret), Path: x.cfg.Path,
		MaxAge: maxAge, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// clear expires both cookies.
func (x *cookieExtractor) clear(w http.ResponseWriter, r *http.Request) {
	secure := x.secure(r)
	for _, base := range []string{x.cfg.Name, x.cfg.CSRFName} {
		http.SetCookie(w, &http.Cookie{Name: x.name(r, base), Value: "", Path: x.cfg.Path, MaxAge: -1,
			HttpOnly: base == x.cfg.Name, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
}

// secure decides the Secure attribute: always, except for a plain-HTTP
// request made directly (no proxy headers) to a loopback host, where
// browsers would otherwise drop the cookie during local development.
// AlwaysSecure removes even that exception.
func (x *cookieExtractor) secure(r *http.Request) bool { return secureRequest(r, x.cfg.AlwaysSecure) }

// secureRequest is the rule of [cookieExtractor.secure], for every cookie
// the kit sets.
func secureRequest(r *http.Request, always bool) bool {
	if always || r.TLS != nil || !isLoopbackHost(r.Host) {
		return true
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
		if r.Header.Get(h) != "" {
			return true // behind a proxy: the public side is not loopback
		}
	}
	return false
}

// csrfToken derives the CSRF token from the session secret, so it needs no
// storage and works on every instance; only someone who holds the
// HttpOnly cookie can compute it.
func csrfToken(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("authkit csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
