package ginauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gin-authkit/authkit/accounts"
	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/internal/observed"
	"github.com/gin-authkit/authkit/observe"
	"github.com/gin-authkit/authkit/store"
)

// ErrConfig reports an invalid [Config].
var ErrConfig = errors.New("ginauth: invalid config")

// Auth is the authentication kit for one Gin application: middleware,
// route rules and handlers. It is safe for concurrent use.
type Auth struct {
	cfg        Config
	schemes    []string
	cookie     *cookieExtractor
	retryAfter int
	accounts   *accounts.Manager
	// users is the Manager's source of users; external is set when it is
	// not the Store, whose sessions then hold no roles and must be checked
	// against it.
	users      store.UserSource
	external   bool
	refreshKey []byte
	// refreshMACs holds keyed HMAC states for refreshKey.
	refreshMACs *macPool
	clients     clientTable
	// slots bounds concurrent password comparisons, known clients first.
	slots *hashSlots
	// gate counts each address's password checks in this process.
	gate addressGate
	// challenges keeps the tickets of logins waiting for a second factor;
	// nil when the Store has no store.ChallengeStore.
	challenges store.ChallengeStore
	// apiKeys is accounts.Config.APIKeys, read once; keyLocks remembers
	// the addresses locked for refused API keys.
	apiKeys  *apikey.Keys
	keyLocks keyLocks
	// claims is set when accounts.Config.Claims is: without the hook a
	// grant needs no context for it, and so no timer.
	claims bool
	// devices keeps device credentials; nil when they are off.
	devices   store.DeviceStore
	deviceKey []byte
	// store is Config.Store, and store, users and devices are wrapped so
	// that Config.Observer times each call, when there is one.
	store store.SessionBackend
	// obs is Config.Observer; events is the same when it takes events.
	obs    observe.Observer
	events observe.EventObserver
}

// New validates cfg, fills in defaults and returns an Auth. cfg is copied;
// later changes to it have no effect.
func New(cfg Config) (*Auth, error) {
	if cfg.Store == nil || cfg.Issuer == nil || cfg.Verifier == nil {
		return nil, fmt.Errorf("%w: Store, Issuer and Verifier are required", ErrConfig)
	}
	setDefault(&cfg.Realm, defaultRealm)
	setDefault(&cfg.StoreTimeout, defaultStoreTimeout)
	setDefault(&cfg.RetryAfter, defaultRetryAfter)
	ss := &cfg.Sessions
	setDefault(&ss.Lifetime, defaultSessionLifetime)
	setDefault(&ss.IdleTimeout, min(defaultSessionIdleTimeout, ss.Lifetime))
	setDefault(&ss.MaxPerUser, defaultMaxSessionsPerUser)
	setDefault(&cfg.Refresh.ExpiredTokenWindow, defaultExpiredTokenWindow)
	setDefault(&cfg.Refresh.Grace, defaultRefreshGrace)
	if err := cfg.Throttle.init(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Log(cfg.Logger)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Extractors) == 0 {
		cfg.Extractors = []Extractor{Bearer()}
	}
	switch {
	case cfg.StoreTimeout < 0 || cfg.RetryAfter < 0 || ss.IdleTimeout < 0 || ss.Lifetime < 0:
		return nil, fmt.Errorf("%w: durations must not be negative", ErrConfig)
	case cfg.Refresh.Key != nil && len(cfg.Refresh.Key) < 32:
		return nil, fmt.Errorf("%w: Refresh.Key must be at least 32 bytes", ErrConfig)
	case cfg.Throttle.MaxDevices == 0 || cfg.Throttle.DeviceLifetime < time.Minute:
		return nil, fmt.Errorf("%w: Throttle.MaxDevices must be positive and DeviceLifetime at least a minute", ErrConfig)
	case ss.IdleTimeout > ss.Lifetime:
		return nil, fmt.Errorf("%w: Sessions.IdleTimeout exceeds Sessions.Lifetime", ErrConfig)
	case cfg.Issuer.TTL() > ss.Lifetime:
		return nil, fmt.Errorf("%w: access token lifetime exceeds Sessions.Lifetime", ErrConfig)
	case containsQuoteOrControl(cfg.Realm):
		return nil, fmt.Errorf("%w: Realm must be printable and without quotes", ErrConfig)
	}
	own := cfg.Accounts == nil
	if own {
		users, keeps := cfg.Store.(store.UserSource)
		if !keeps {
			return nil, fmt.Errorf("%w: Accounts is required when Store keeps no users", ErrConfig)
		}
		m, err := accounts.New(accounts.Config{Users: users, StoreTimeout: cfg.StoreTimeout, Audit: cfg.Audit, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cfg.Accounts = m
	}
	a := &Auth{cfg: cfg, store: cfg.Store, retryAfter: int(math.Ceil(cfg.RetryAfter.Seconds())), accounts: cfg.Accounts,
		refreshKey: cfg.Refresh.Key, slots: newHashSlots(cfg.Throttle.PasswordConcurrency)}
	a.users = cfg.Accounts.Users()
	if !own {
		storeUsers, keeps := cfg.Store.(store.UserSource)
		a.external = !keeps || !samePointer(a.users, storeUsers)
	}
	var err error
	if a.clients, err = newClientTable(cfg.Clients); err != nil {
		return nil, err
	}
	if a.refreshKey == nil {
		a.refreshKey = cfg.Issuer.DeriveSecret("ginauth refresh tokens")
	}
	a.refreshMACs = newMACPool(a.refreshKey)
	if d, ok := cfg.Store.(store.DeviceStore); ok && !cfg.Throttle.NoDevices && !cfg.Throttle.Disabled {
		a.devices = d
		m := hmac.New(sha256.New, a.refreshKey)
		m.Write([]byte("authkit device credentials v1"))
		a.deviceKey = m.Sum(nil)
	}
	a.challenges, _ = cfg.Store.(store.ChallengeStore)
	ac := cfg.Accounts.Config()
	a.apiKeys, a.claims = ac.APIKeys, ac.Claims != nil
	if (ac.TOTP != nil || ac.Passkeys != nil) && a.challenges == nil {
		return nil, fmt.Errorf("%w: second factors (accounts.Config.TOTP, Passkeys) need a Store that keeps challenges (store.ChallengeStore), for the tickets between password and factor", ErrConfig)
	}
	if err := a.checkAccounts(); err != nil {
		return nil, err
	}
	a.observe(cfg.Observer)
	for _, x := range cfg.Extractors {
		if x == nil {
			return nil, fmt.Errorf("%w: nil extractor", ErrConfig)
		}
		if s := x.Scheme(); s != "" {
			a.schemes = append(a.schemes, s)
		}
	}
	if cfg.Cookie != nil {
		a.cookie = newCookieExtractor(*cfg.Cookie)
	}
	if len(a.schemes) == 0 {
		return nil, fmt.Errorf("%w: no extractor with a challenge scheme (add Bearer or Basic)", ErrConfig)
	}
	return a, nil
}

// observe wraps the store capabilities found on Config.Store, each apart
// and after the type assertions that found them, so that o times every
// call without hiding an optional interface.
func (a *Auth) observe(o observe.Observer) {
	if o == nil {
		return
	}
	a.obs = o
	a.events, _ = o.(observe.EventObserver)
	a.store = observed.Sessions(a.store, o)
	a.users = observed.Users(a.users, o)
	if a.devices != nil {
		a.devices = observed.Devices(a.devices, o)
	}
}

// checkAccounts refuses a Manager that would leave the Store's sessions
// or device credentials alive after a password change or a disable.
func (a *Auth) checkAccounts() error {
	mc := a.accounts.Config()
	if !a.external {
		return nil
	}
	if mc.Sessions == nil {
		return fmt.Errorf("%w: with users apart from Store, Accounts needs Store as its Sessions", ErrConfig)
	}
	if _, ok := mc.Sessions.(store.DeviceStore); a.devices != nil && !ok {
		return fmt.Errorf("%w: Accounts' Sessions keeps no device credentials, so a password change would not end them: give it Store", ErrConfig)
	}
	return nil
}

// samePointer reports whether a and b are the same pointer, which
// compares any two stores without the panic that == risks on values of
// uncomparable types.
func samePointer(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == reflect.Pointer && vb.Kind() == reflect.Pointer && va.Pointer() == vb.Pointer()
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func containsQuoteOrControl(s string) bool {
	for _, r := range s {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// Accounts returns the account service logins are checked with.
func (a *Auth) Accounts() *accounts.Manager { return a.accounts }

// storeCtx bounds a store call by the request's context and StoreTimeout.
func (a *Auth) storeCtx(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), a.cfg.StoreTimeout)
}

// Fail sends the response for err, as the middleware would (through the
// status contract and Config.ErrorHandler), and aborts the chain.
// Applications use it to answer their own checks with the same contract;
// an error that wraps none of the package's sentinels becomes 503.
func (a *Auth) Fail(c *gin.Context, err error) { a.fail(c, err) }

// fail is the only writer of error responses but the OAuth endpoints'.
func (a *Auth) fail(c *gin.Context, err error) {
	e := a.errorFor(err, false)
	a.report(c, err, e)
	if a.cfg.ErrorHandler != nil {
		a.cfg.ErrorHandler(c, e)
	}
	if !c.Writer.Written() {
		body := gin.H{"error": e.Code, "message": e.Message}
		mfaBody(err, body)
		a.writeError(c, e, body)
	}
	c.Abort()
}

// failOAuth answers err in the shape of RFC 6749 §5.2, for the token and
// revocation endpoints, whose clients parse that shape.
func (a *Auth) failOAuth(c *gin.Context, err error) {
	e := a.errorFor(err, true)
	a.report(c, err, e)
	a.writeError(c, e, gin.H{"error": e.Code, "error_description": e.Message})
	c.Abort()
}

// report logs a 503 and records the audit event of an error response.
func (a *Auth) report(c *gin.Context, err error, e *Error) {
	if e.Status == http.StatusServiceUnavailable {
		msg := "authkit: store unavailable"
		var ce *claimsError
		switch {
		case errors.Is(err, errPasswordBusy):
			msg = "authkit: every password-check slot busy"
		case errors.As(err, &ce):
			msg = "authkit: no access token: the application claims failed"
		}
		a.cfg.Logger.WarnContext(c.Request.Context(), msg,
			"method", c.Request.Method, "path", c.FullPath(), "err", err)
	}
	a.auditFailure(c, err, e)
}

func (a *Auth) writeError(c *gin.Context, e *Error, body gin.H) {
	for k, vs := range e.Header {
		c.Writer.Header()[k] = vs
	}
	c.JSON(e.Status, body)
}

// Config returns a copy of the configuration in force, defaults filled in.
func (a *Auth) Config() Config { return a.cfg }
