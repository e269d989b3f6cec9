package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/gin-authkit/authkit/apikey"
	"github.com/gin-authkit/authkit/audit"
	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/passkey"
	"github.com/gin-authkit/authkit/store"
)

// Defaults of [Config] and [Bcrypt].
const (
	DefaultBcryptCost        = 12
	DefaultMinPasswordLength = 8
	DefaultStoreTimeout      = 300 * time.Millisecond
)

// Errors of [Manager].
var (
	// ErrConfig reports an invalid [Config].
	ErrConfig = errors.New("accounts: invalid config")
	// ErrBadCredentials: [Manager.Verify] refused the username and
	// password; it never says which was wrong.
	ErrBadCredentials = errors.New("accounts: bad credentials")
)

// MaxPasswordBytes is bcrypt's limit: it silently ignores every byte past
// the 72nd, so "72×a" + "X" would match the hash of "72×a". Longer
// passwords are rejected instead of truncated.
const MaxPasswordBytes = 72

// Password policy errors, returned when a password is set.
var (
	ErrPasswordEmpty    = errors.New("accounts: password is empty")
	ErrPasswordTooLong  = fmt.Errorf("accounts: password is longer than %d bytes", MaxPasswordBytes)
	ErrPasswordTooShort = errors.New("accounts: password is too short")
	ErrPasswordEncoding = errors.New("accounts: password is not valid UTF-8")
)

// Config configures [Manager]. Zero values mean the defaults
// stated per field.
type Config struct {
	// Users is where accounts live. Required. Logins need only a
	// store.UserSource; creating users and changing them need a
	// store.UserStore, and fail with an error wrapping
	// errors.ErrUnsupported otherwise. A store.PasswordRehasher gets
	// weaker hashes replaced at login.
	Users store.UserSource
	// Sessions, when set, has a user's sessions deleted at once when the
	// password changes or the user is disabled. The user's new generation
	// already ends them; this frees their memory before they expire. Set
	// it when sessions live apart from Users (ginauth requires it then);
	// a store that keeps both deletes them in the same step. Default nil.
	//
	// The same change ends the user's device credentials (known clients,
	// see ginauth.Throttle) in whichever of Sessions and Users implements
	// store.DeviceStore.
	Sessions store.SessionStore
	// Hasher writes new password hashes. Default [Bcrypt] at
	// [DefaultBcryptCost].
	Hasher Hasher
	// Accept lists other encodings still accepted at login; a hash in one
	// of them is re-hashed with Hasher on the next successful login.
	// Default: whichever of [Bcrypt] and [Argon2id] Hasher is not (with
	// their default ceilings).
	Accept []Hasher
	// MinPasswordLength applies when a password is set (not at login), in
	// characters. Default 8.
	MinPasswordLength int
	// AllowTestCosts allows a [Bcrypt] cost below [MinBcryptCost]. For
	// tests only: such hashes are cheap to attack offline.
	AllowTestCosts bool
	// StoreTimeout bounds each store call, the user read of every login
	// included (it runs while the login holds a hashing slot, so a hung
	// user store must not keep the slot). Default 300ms, as
	// ginauth.Config.StoreTimeout.
	StoreTimeout time.Duration
	// Audit receives account events (password changed, user disabled,
	// device credentials ended). Default: audit.Log on Logger. Give it
	// the hook of ginauth.Config.Audit to keep one trail.
	Audit audit.Hook
	// Logger receives one warning per user whose stored hash exceeds the
	// Hasher's ceiling. Default slog.Default().
	Logger *slog.Logger
	// TOTP, when set, is the users' TOTP second factor (see package mfa):
	// a user who has confirmed one must present a code after the password
	// (ginauth answers the password alone with 401 mfa_required and a
	// ticket), and HTTP Basic, which cannot carry a code, is refused for
	// that user. Default nil: no second factor.
	TOTP *mfa.Service
	// Passkeys, when set, are the users' passkeys (see package passkey):
	// sign-in with a passkey alone, and a passkey as a second factor
	// after the password (as TOTP, it then makes the password alone not
	// enough). Default nil: no passkeys.
	Passkeys *passkey.Passkeys
	// APIKeys, when set, are the users' API keys (see package apikey),
	// which ginauth accepts as Bearer credentials. Default nil: none.
	APIKeys *apikey.Keys
	// Claims, when set, gives the application claims of a user's access
	// tokens, such as a tenant id or an e-mail address, which handlers
	// then read without a lookup (ginauth.Claim). ginauth calls it at
	// every access-token issue for a user: login, the second factor's or
	// passkey's completion, refresh, the OAuth password and refresh_token
	// grants. A client's own token (client_credentials) has no user and
	// gets none. u is the user as far as the request read it: the full
	// record at login; at refresh, only Username and the current Roles,
	// unless users live apart from sessions and the record was read
	// anyway. ctx carries the request, bounded by ginauth's StoreTimeout.
	//
	// Each value is written as the JSON encoding of the map's value. A
	// name among tokens.ReservedClaims (in any case) is refused with an
	// error naming it, as is a value that does not encode; that error, or
	// one Claims returns, fails the issue: ginauth answers 503 and logs
	// it. Claims go into every request's token: keep them few and short
	// (package tokens documents sizes). Default nil: no application
	// claims.
	Claims func(ctx context.Context, u store.User) (map[string]any, error)
}

// Manager creates users, sets and checks passwords, and owns the password
// policy. It needs no HTTP machinery: the demo's CLI uses it on its own,
// and ginauth.Auth checks logins with one. It is safe for concurrent use.
type Manager struct {
	cfg Config
	// dummy is compared against when there is no usable hash, so that an
	// unknown user costs the same as a wrong password.
	dummy []byte
	// warned holds the users whose over-costly hash was already logged.
	warned sync.Map
}

// New validates cfg and returns a Manager. It computes one hash
// (the stand-in for unknown users), so it takes as long as one login.
func New(cfg Config) (*Manager, error) {
	if cfg.Users == nil {
		return nil, fmt.Errorf("%w: Config.Users is required", ErrConfig)
	}
	if cfg.Hasher == nil {
		cfg.Hasher = Bcrypt{}
	}
	if b, ok := cfg.Hasher.(Bcrypt); ok {
		// Config reports the cost in force, not zero.
		b.Cost, b.MaxCost = b.cost(), b.maxCost()
		cfg.Hasher = b
	}
	if cfg.Accept == nil {
		if _, ok := cfg.Hasher.(Argon2id); ok {
			cfg.Accept = []Hasher{Bcrypt{}}
		} else {
			cfg.Accept = []Hasher{Argon2id{}}
		}
	}
	setDefault(&cfg.MinPasswordLength, DefaultMinPasswordLength)
	setDefault(&cfg.StoreTimeout, DefaultStoreTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Log(cfg.Logger)
	}
	if b, ok := cfg.Hasher.(Bcrypt); ok {
		c := b.cost()
		switch {
		case c < bcrypt.MinCost || c > bcrypt.MaxCost:
			return nil, fmt.Errorf("%w: bcrypt cost must be in [%d, %d]", ErrConfig, MinBcryptCost, bcrypt.MaxCost)
		case c < MinBcryptCost && !cfg.AllowTestCosts:
			return nil, fmt.Errorf("%w: bcrypt cost %d is below %d (AllowTestCosts is for tests only)", ErrConfig, c, MinBcryptCost)
		case b.maxCost() < c:
			return nil, fmt.Errorf("%w: bcrypt MaxCost is below Cost", ErrConfig)
		}
	}
	if cfg.MinPasswordLength < 0 || cfg.MinPasswordLength > MaxPasswordBytes {
		return nil, fmt.Errorf("%w: MinPasswordLength must be in [1, %d]", ErrConfig, MaxPasswordBytes)
	}
	if cfg.StoreTimeout < 0 {
		return nil, fmt.Errorf("%w: StoreTimeout must not be negative", ErrConfig)
	}
	a := &Manager{cfg: cfg}
	h, err := cfg.Hasher.Hash(context.Background(), []byte("authkit dummy password"))
	if err != nil {
		return nil, fmt.Errorf("accounts: dummy hash: %w", err)
	}
	a.dummy = h
	return a, nil
}

// normalize returns the form of a password that is hashed and compared:
// Unicode NFC, so that "é" typed as one code point or as "e" plus a
// combining accent is the same password on every system.
func normalize(pw string) string { return norm.NFC.String(pw) }

func checkPasswordBytes(pw string) error {
	switch {
	case pw == "":
		return ErrPasswordEmpty
	case !utf8.ValidString(pw):
		return ErrPasswordEncoding
	case len(normalize(pw)) > MaxPasswordBytes:
		return ErrPasswordTooLong
	}
	return nil
}

// ValidatePassword checks a new password against the policy: valid UTF-8,
// at least MinPasswordLength characters, at most 72 bytes once normalised.
func (a *Manager) ValidatePassword(pw string) error {
	if err := checkPasswordBytes(pw); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(normalize(pw)); n < a.cfg.MinPasswordLength {
		return fmt.Errorf("%w: %d characters, at least %d required", ErrPasswordTooShort, n, a.cfg.MinPasswordLength)
	}
	return nil
}

// HashPassword validates pw and returns its hash.
func (a *Manager) HashPassword(ctx context.Context, pw string) ([]byte, error) {
	if err := a.ValidatePassword(pw); err != nil {
		return nil, err
	}
	return a.cfg.Hasher.Hash(ctx, []byte(normalize(pw)))
}

// storeCtx bounds one store call.
func (a *Manager) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.cfg.StoreTimeout > 0 {
		return context.WithTimeout(ctx, a.cfg.StoreTimeout)
	}
	return ctx, func() {}
}

// writer returns the user store that op needs, or an error wrapping
// errors.ErrUnsupported when Users only finds users.
func (a *Manager) writer(op string) (store.UserStore, error) {
	w, ok := a.cfg.Users.(store.UserStore)
	if !ok {
		return nil, fmt.Errorf("accounts: %s: %T cannot change users: %w", op, a.cfg.Users, errors.ErrUnsupported)
	}
	return w, nil
}

// CreateUser stores a new user under the canonical form of username (see
// store.CanonicalUsername: "Alice" is stored as "alice"). It fails with an
// error wrapping store.ErrExists for a taken name, store.ErrInvalid for a
// bad name or roles, or a password policy error.
func (a *Manager) CreateUser(ctx context.Context, username, password string, roles []string) error {
	w, err := a.writer("create user")
	if err != nil {
		return err
	}
	name, err := store.CanonicalUsername(username)
	if err != nil {
		return err
	}
	if err := store.ValidateRoles(roles); err != nil {
		return err
	}
	h, err := a.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	sctx, cancel := a.storeCtx(ctx)
	defer cancel()
	return w.CreateUser(sctx, store.User{Username: name, PasswordHash: h, Roles: roles})
}

// CreateServiceAccount creates a user without a password, for machines:
// it cannot log in (a login runs the same hashing work against a
// stand-in and fails as a wrong password does) and acts through API keys
// (see package apikey) or as an OAuth client's owner. Its name and roles
// follow [Manager.CreateUser]'s rules; SetPassword would make it a user
// who can log in.
func (a *Manager) CreateServiceAccount(ctx context.Context, username string, roles []string) error {
	w, err := a.writer("create service account")
	if err != nil {
		return err
	}
	name, err := store.CanonicalUsername(username)
	if err != nil {
		return err
	}
	if err := store.ValidateRoles(roles); err != nil {
		return err
	}
	sctx, cancel := a.storeCtx(ctx)
	defer cancel()
	return w.CreateUser(sctx, store.User{Username: name, Roles: roles})
}

// SetPassword replaces a user's password. The store moves the user to a
// new generation in the same step, which ends every session and every
// login in flight, so a stolen session does not survive a password change.
func (a *Manager) SetPassword(ctx context.Context, username, password string) error {
	w, err := a.writer("set password")
	if err != nil {
		return err
	}
	name, err := store.CanonicalUsername(username)
	if err != nil {
		return fmt.Errorf("accounts: set password: %w", store.ErrNotFound)
	}
	h, err := a.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	sctx, cancel := a.storeCtx(ctx)
	defer cancel()
	if err := w.SetPasswordHash(sctx, name, h); err != nil {
		return err
	}
	a.audit(ctx, audit.Event{Kind: audit.PasswordChanged, Username: name})
	a.freeSessions(sctx, name, "password changed")
	return nil
}

// freeSessions deletes the sessions of a user whose generation just
// moved on. The move already ended them; deleting them only frees their
// memory now rather than at expiry, so a failure is logged, not reported
// as a failed change.
//
// It also ends the user's device credentials (see [Throttle]), in the
// store of Sessions or else of Users, whichever keeps them: a client known
// under the old password is a stranger under the new one. A failure there
// is logged too.
func (a *Manager) freeSessions(ctx context.Context, name, why string) {
	if a.cfg.Sessions != nil {
		if err := a.cfg.Sessions.RevokeAll(ctx, name); err != nil {
			a.cfg.Logger.WarnContext(ctx, "authkit: "+why+"; freeing the old sessions failed", "user", name, "err", err)
		}
	}
	devices, ok := a.cfg.Sessions.(store.DeviceStore)
	if !ok {
		devices, ok = a.cfg.Users.(store.DeviceStore)
	}
	if !ok {
		return
	}
	if err := devices.RevokeDevices(ctx, name); err != nil {
		a.cfg.Logger.WarnContext(ctx, "authkit: "+why+"; ending the device credentials failed", "user", name, "err", err)
		return
	}
	a.audit(ctx, audit.Event{Kind: audit.DeviceRevoked, Username: name, Reason: strings.ReplaceAll(why, " ", "_")})
}

// Config returns a copy of the configuration in force, defaults filled in.
func (a *Manager) Config() Config { return a.cfg }

// SecondFactors lists the second factors the user has confirmed, as the
// methods a login may complete with: "totp" and, with it,
// "recovery_code" (see Config.TOTP), and "passkey" (Config.Passkeys).
// None for a user without any, or when neither is configured. An error
// is an infrastructure failure.
func (a *Manager) SecondFactors(ctx context.Context, username string) ([]string, error) {
	if a.cfg.TOTP == nil && a.cfg.Passkeys == nil {
		return nil, nil
	}
	ctx, cancel := a.storeCtx(ctx)
	defer cancel()
	var methods []string
	if a.cfg.TOTP != nil {
		st, err := a.cfg.TOTP.Status(ctx, username)
		if err != nil {
			return nil, fmt.Errorf("accounts: second factors: %w", err)
		}
		if st.TOTP {
			methods = append(methods, string(mfa.TOTP), string(mfa.RecoveryCode))
		}
	}
	if a.cfg.Passkeys != nil {
		keys, err := a.cfg.Passkeys.List(ctx, username)
		if err != nil {
			return nil, fmt.Errorf("accounts: second factors: %w", err)
		}
		if len(keys) > 0 {
			methods = append(methods, "passkey")
		}
	}
	return methods, nil
}

// SetDisabled disables or re-enables a user. Disabling ends every session
// of the user at once; re-enabling does not bring them back.
func (a *Manager) SetDisabled(ctx context.Context, username string, disabled bool) error {
	w, err := a.writer("set disabled")
	if err != nil {
		return err
	}
	name, err := store.CanonicalUsername(username)
	if err != nil {
		return fmt.Errorf("accounts: set disabled: %w", store.ErrNotFound)
	}
	sctx, cancel := a.storeCtx(ctx)
	defer cancel()
	if err := w.SetDisabled(sctx, name, disabled); err != nil {
		return err
	}
	kind := audit.UserEnabled
	if disabled {
		kind = audit.UserDisabled
		a.freeSessions(sctx, name, "user disabled")
	}
	a.audit(ctx, audit.Event{Kind: kind, Username: name})
	return nil
}

func (a *Manager) audit(ctx context.Context, e audit.Event) {
	if a.cfg.Audit != nil {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		a.cfg.Audit(ctx, e)
	}
}

// Verify checks a username and password. Unknown users, disabled users,
// malformed names, wrong and unacceptable passwords all fail with
// [ErrBadCredentials] after the same hashing work; any other error means
// the users' store failed and nothing was judged. On success a hash in another encoding or cost than
// the configured one is re-hashed and stored (one extra write, only then).
func (a *Manager) Verify(ctx context.Context, username, password string) (store.User, error) {
	var u store.User
	name, err := store.CanonicalUsername(username)
	if err == nil {
		sctx, cancel := a.storeCtx(ctx)
		u, err = a.cfg.Users.User(sctx, name)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid) {
			return store.User{}, fmt.Errorf("accounts: verify: %w", err)
		}
	}
	// The NFC form is what hashes hold; a password that is not in NFC is
	// also tried as typed, for a hash written before passwords were
	// normalised. Unknown users pay the same number of comparisons.
	nfc := []byte(normalize(password))
	tries := [][]byte{nfc}
	if string(nfc) != password {
		tries = append(tries, []byte(password))
	}
	usable := err == nil && len(u.PasswordHash) > 0
	matched, used, legacy := false, -1, false
	for i, pw := range tries {
		if usable && (i == 0 || used >= 0) {
			used, err = a.compare(ctx, u.PasswordHash, pw)
			if errors.Is(err, ErrHashTooCostly) {
				a.warnCostly(ctx, name, err)
			}
			if matched = err == nil; matched {
				legacy = i > 0
				break
			}
			if used >= 0 {
				continue
			}
		}
		// No hash was computed: spend the same time on the stand-in.
		_ = a.cfg.Hasher.Compare(ctx, a.dummy, pw)
	}
	if !matched || u.Disabled || checkPasswordBytes(password) != nil {
		return store.User{}, ErrBadCredentials
	}
	if legacy || used != 0 || a.cfg.Hasher.NeedsRehash(u.PasswordHash) {
		a.rehash(ctx, &u, nfc)
	}
	return u, nil
}

// warnCostly logs, once per user, a stored hash over the ceiling.
func (a *Manager) warnCostly(ctx context.Context, name string, err error) {
	if _, seen := a.warned.LoadOrStore(name, true); !seen {
		a.cfg.Logger.WarnContext(ctx, "authkit: stored password hash exceeds the cost ceiling; login refused",
			"user", name, "err", err)
	}
}

// compare checks pw against hash with the Hasher of its encoding: used is
// 0 for the configured Hasher, i+1 for Accept[i], and -1 when no Hasher
// computed anything (unknown encoding, or over the ceiling).
func (a *Manager) compare(ctx context.Context, hash, pw []byte) (used int, err error) {
	for i, h := range append([]Hasher{a.cfg.Hasher}, a.cfg.Accept...) {
		err = h.Compare(ctx, hash, pw)
		switch {
		case errors.Is(err, ErrHashUnsupported):
			continue
		case errors.Is(err, ErrHashTooCostly):
			return -1, err
		}
		return i, err
	}
	return -1, err
}

// rehash stores a new hash of pw for u, unless the user changed since it
// was read. A failure is logged, not returned: the login itself was good.
func (a *Manager) rehash(ctx context.Context, u *store.User, pw []byte) {
	r, can := a.cfg.Users.(store.PasswordRehasher)
	if !can {
		return
	}
	h, err := a.cfg.Hasher.Hash(ctx, pw)
	if err == nil {
		sctx, cancel := a.storeCtx(ctx)
		var ok bool
		ok, err = r.RehashPassword(sctx, u.Username, u.Generation, u.PasswordHash, h)
		cancel()
		if ok {
			u.PasswordHash = h
		}
	}
	if err != nil {
		a.cfg.Logger.WarnContext(ctx, "authkit: re-hashing a password failed", "user", u.Username, "err", err)
	}
}

// Users returns the source of users the Manager checks passwords against.
func (a *Manager) Users() store.UserSource { return a.cfg.Users }

// TokenClaims returns the application claims of u's access tokens, from
// Config.Claims: nil without a hook. An error of the hook is returned
// wrapped.
func (a *Manager) TokenClaims(ctx context.Context, u store.User) (map[string]any, error) {
	if a.cfg.Claims == nil {
		return nil, nil
	}
	claims, err := a.cfg.Claims(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("accounts: Config.Claims for %q: %w", u.Username, err)
	}
	return claims, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
