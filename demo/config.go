package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-authkit/authkit/mfa"
	"github.com/gin-authkit/authkit/tokens"
)

// Environment variables and their defaults.
const (
	envAddr         = "AUTHKIT_ADDR"
	envRedisURL     = "REDIS_URL"
	envRedisPrefix  = "AUTHKIT_REDIS_PREFIX"
	envSecret       = "AUTHKIT_SECRET"
	envSigningKey   = "AUTHKIT_SIGNING_KEY_FILE"
	envSecretFile   = "AUTHKIT_SECRET_FILE"
	envAccessTTL    = "AUTHKIT_ACCESS_TTL"
	envRefreshTTL   = "AUTHKIT_REFRESH_TTL"
	envRealm        = "AUTHKIT_REALM"
	envBcryptCost   = "AUTHKIT_BCRYPT_COST"
	envLogFormat    = "AUTHKIT_LOG_FORMAT"
	envCookieSecure = "AUTHKIT_COOKIE_SECURE"
	envMetricsAddr  = "AUTHKIT_METRICS_ADDR"
	envStoreTimeout = "AUTHKIT_STORE_TIMEOUT"
	envWaitReplicas = "AUTHKIT_REDIS_WAIT_REPLICAS"
	envMFAKeys      = "AUTHKIT_MFA_KEYS"
	envPasskeyRPID  = "AUTHKIT_PASSKEY_RP_ID"
	envPasskeyOrig  = "AUTHKIT_PASSKEY_ORIGINS"

	// defaultAddr is loopback only: a demo started on a laptop is not
	// reachable from the network until AUTHKIT_ADDR says so (:8080 for
	// every interface, as the container sets it).
	defaultAddr        = "127.0.0.1:8080"
	defaultRedisPrefix = "authkit:"
	defaultRealm       = "authkit-demo"
	// defaultPasskeyRPID: browsers treat http://localhost as a secure
	// context, so passkeys work on the demo without TLS there (not on
	// 127.0.0.1: an IP address cannot be a relying party ID).
	defaultPasskeyRPID = "localhost"
	// The access-token lifetime, the session lifetime and idle timeout
	// and the bcrypt cost are left zero when unset, meaning the library's
	// defaults; serve logs the values in force.

	// maxBcryptCost keeps a typo from hanging every login: each step
	// doubles the work, and cost 16 already takes seconds per hash.
	maxBcryptCost = 16
	// maxWaitReplicas bounds AUTHKIT_REDIS_WAIT_REPLICAS: more replicas
	// than that acknowledging each login is a typo, not a setup.
	maxWaitReplicas = 5
	// minBcryptCost is for tests: costs below accounts.MinBcryptCost (10)
	// are allowed with a warning.
	minBcryptCost = 4
	// maxRefreshTTL bounds a session's absolute lifetime.
	maxRefreshTTL = 365 * 24 * time.Hour
	// maxSecretFileSize bounds what AUTHKIT_SECRET_FILE reads, so that a
	// path such as /dev/zero fails at once instead of filling memory.
	maxSecretFileSize = 4096
)

// config is the demo's configuration, read from the environment.
type config struct {
	Addr string
	// redis holds the client options parsed from REDIS_URL in the
	// topology of AUTHKIT_REDIS_MODE; nil selects the in-memory store.
	// The URL itself is never kept: it may hold a password.
	redis       *redisConfig
	RedisPrefix string
	// secret is the HS256 key, from AUTHKIT_SECRET or the file named by
	// AUTHKIT_SECRET_FILE; nil when neither is set.
	secret []byte
	// signingKey is the EdDSA, ES256 or RS256 key from the PEM file named
	// by AUTHKIT_SIGNING_KEY_FILE, the alternative to secret whose public
	// half other services fetch from /.well-known/jwks.json.
	signingKey *tokens.Key
	// AccessTTL, RefreshTTL and BcryptCost are zero when unset: the
	// library's defaults.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// StoreTimeout bounds the store calls of a request (past it, 503);
	// zero when unset: the library's default.
	StoreTimeout time.Duration
	// WaitReplicas is redisstore.Options.WaitReplicas: logins, refreshes
	// and revocations wait for that many replicas (0, the default: none).
	WaitReplicas int
	Realm        string
	BcryptCost   int
	LogFormat    string
	// CookieSecure marks the session cookies Secure (and so names them
	// with the __Host- prefix) even on plain HTTP to a loopback host; see
	// ginauth.CookieConfig.AlwaysSecure.
	CookieSecure bool
	// MetricsAddr is where Prometheus metrics are served, at /metrics, on
	// a listener apart from the API's; "" (the default) serves none. The
	// metrics hold no secret, but they tell the load, the failures and
	// the lock-outs: keep them on loopback or a private network.
	MetricsAddr string
	// mfaKeys seal the TOTP secrets at rest (mfa.ParseKeys' form); the
	// zero value when unset: a key derived from the token signing key.
	mfaKeys mfa.Keys
	// PasskeyRPID and PasskeyOrigins are the passkeys' relying party:
	// default "localhost" and http://localhost on the port of Addr; for
	// another RP ID the origins default to https://<RP ID>.
	PasskeyRPID    string
	PasskeyOrigins []string
}

// loadConfig reads and checks every variable, and reports all bad ones at
// once, each message naming its variable. Values of AUTHKIT_SECRET (or of
// the file AUTHKIT_SECRET_FILE names) and REDIS_URL never appear in
// messages.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:        orDefault(getenv(envAddr), defaultAddr),
		RedisPrefix: orDefault(getenv(envRedisPrefix), defaultRedisPrefix),
		Realm:       orDefault(getenv(envRealm), defaultRealm),
		LogFormat:   orDefault(getenv(envLogFormat), "text"),
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, withKind(errConfig, "%s: "+format, append([]any{name}, args...)...))
	}

	if _, _, err := splitAddr(c.Addr); err != nil {
		bad(envAddr, "%v", err)
	}
	if c.MetricsAddr = getenv(envMetricsAddr); c.MetricsAddr != "" {
		if _, _, err := splitAddr(c.MetricsAddr); err != nil {
			bad(envMetricsAddr, "%v", err)
		}
	}

	switch raw, mode := getenv(envRedisURL), getenv(envRedisMode); {
	case mode != "" && !validRedisMode(mode):
		bad(envRedisMode, "%q must be single, sentinel or cluster", mode)
	case raw == "" && mode != "":
		bad(envRedisMode, "is set but %s is not", envRedisURL)
	case raw != "":
		r, err := parseRedis(mode, raw)
		if err != nil {
			which := ""
			if mode != "" {
				which = " for " + envRedisMode + "=" + mode
			}
			bad(envRedisURL, "not a valid Redis URL%s such as %s: %v", which, redisURLExample(mode), redactURLError(err))
		} else {
			c.redis = r
		}
	}
	if strings.ContainsAny(c.RedisPrefix, "{}") || strings.ContainsFunc(c.RedisPrefix, isControlOrSpace) {
		bad(envRedisPrefix, "%q must not contain '{', '}', spaces or control characters", c.RedisPrefix)
	}

	c.secret = readSecret(getenv, bad)
	if path := getenv(envSigningKey); path != "" {
		if c.secret != nil || getenv(envSecret) != "" || getenv(envSecretFile) != "" {
			bad(envSigningKey, "is set and so is %s or %s; set only one kind of key", envSecret, envSecretFile)
		} else if k, err := loadSigningKey(path); err != nil {
			bad(envSigningKey, "%v", err)
		} else {
			c.signingKey = k
		}
	}

	c.AccessTTL = parseDuration(getenv, envAccessTTL, 0, time.Second, 24*time.Hour, bad)
	c.RefreshTTL = parseDuration(getenv, envRefreshTTL, 0, time.Second, maxRefreshTTL, bad)
	c.StoreTimeout = parseDuration(getenv, envStoreTimeout, 0, 10*time.Millisecond, 30*time.Second, bad)
	if access := cmp.Or(c.AccessTTL, tokens.DefaultTTL); access > c.RefreshTTL && c.RefreshTTL > 0 {
		bad(envAccessTTL, "%v is longer than %s (%v): access tokens must not outlive their session", c.AccessTTL, envRefreshTTL, c.RefreshTTL)
	}

	if len(c.Realm) > 64 || strings.ContainsAny(c.Realm, `"\`) || strings.ContainsFunc(c.Realm, isControl) {
		bad(envRealm, "must be at most 64 printable characters without quotes or backslashes")
	}

	if s := getenv(envWaitReplicas); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 0 || n > maxWaitReplicas:
			bad(envWaitReplicas, "%q is not an integer between 0 and %d", s, maxWaitReplicas)
		case n > 0 && c.redis != nil && c.redis.mode == redisCluster:
			bad(envWaitReplicas, "cannot be used with %s=cluster (WAIT would not reach the key's node)", envRedisMode)
		default:
			c.WaitReplicas = n
		}
	}

	if s := getenv(envBcryptCost); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < minBcryptCost || n > maxBcryptCost {
			bad(envBcryptCost, "%q is not an integer between %d and %d", s, minBcryptCost, maxBcryptCost)
		} else {
			c.BcryptCost = n
		}
	}

	if s := getenv(envCookieSecure); s != "" {
		b, ok := parseBool(s)
		if !ok {
			bad(envCookieSecure, "%q must be 1, true or yes, or 0, false or no", s)
		}
		c.CookieSecure = b
	}

	if s := getenv(envMFAKeys); s != "" {
		k, err := mfa.ParseKeys(s)
		if err != nil {
			bad(envMFAKeys, "%v", err)
		}
		c.mfaKeys = k
	}
	c.PasskeyRPID = orDefault(getenv(envPasskeyRPID), defaultPasskeyRPID)
	rpOK := validRPID(c.PasskeyRPID)
	if !rpOK {
		bad(envPasskeyRPID, "%q is not a domain name such as example.com (no scheme, port or path; an IP address cannot be a relying party ID: use localhost on this machine)", c.PasskeyRPID)
	}
	if s := getenv(envPasskeyOrig); s != "" {
		for _, o := range strings.Split(s, ",") {
			u, err := url.Parse(strings.TrimSpace(o))
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
				bad(envPasskeyOrig, "%q is not an origin such as https://login.example.com", o)
				continue
			}
			// Browsers refuse a ceremony whose page is not on the RP ID.
			if h := u.Hostname(); rpOK && h != c.PasskeyRPID && !strings.HasSuffix(h, "."+c.PasskeyRPID) {
				bad(envPasskeyOrig, "%q is not on %s %q: browsers refuse passkeys there", o, envPasskeyRPID, c.PasskeyRPID)
				continue
			}
			c.PasskeyOrigins = append(c.PasskeyOrigins, u.Scheme+"://"+u.Host)
		}
	} else if c.PasskeyRPID != defaultPasskeyRPID {
		c.PasskeyOrigins = []string{"https://" + c.PasskeyRPID}
	} else if _, port, err := splitAddr(c.Addr); err == nil && port != 0 {
		c.PasskeyOrigins = []string{"http://localhost:" + strconv.Itoa(port)}
	}
	// With port 0, serve sets http://localhost:<the port it got>.

	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad(envLogFormat, "%q must be text or json", c.LogFormat)
	}
	return c, errors.Join(errs...)
}

// validRPID reports whether id can be a WebAuthn relying party ID: a
// lower-case domain name, not an IP address.
func validRPID(id string) bool {
	if len(id) > 253 || net.ParseIP(id) != nil {
		return false
	}
	for _, label := range strings.Split(id, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.ContainsFunc(label, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
			return false
		}
	}
	return true
}

// splitAddr checks a listen address, host:port with a port from 0 to
// 65535, and returns its parts. The error is for people and quotes addr.
func splitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 || strings.ContainsAny(host, " /") {
		return "", 0, fmt.Errorf("%q has no valid port (e.g. :8080)", addr)
	}
	return host, port, nil
}

// readSecret returns the HS256 key from AUTHKIT_SECRET, or from the file
// named by AUTHKIT_SECRET_FILE (a Docker or Kubernetes secret), without
// one trailing line break; nil when neither is set. Setting both is an
// error: which one wins would be a guess.
func readSecret(getenv func(string) string, bad func(string, string, ...any)) []byte {
	value, path := getenv(envSecret), getenv(envSecretFile)
	name := envSecret
	switch {
	case value != "" && path != "":
		bad(envSecretFile, "is set and so is %s; set only one of them", envSecret)
		return nil
	case path != "":
		name = envSecretFile
		b, err := readSmallFile(path, maxSecretFileSize)
		if err != nil {
			bad(envSecretFile, "cannot read the secret: %v", err)
			return nil
		}
		s := strings.TrimSuffix(string(b), "\n")
		value = strings.TrimSuffix(s, "\r")
		if value == "" {
			bad(envSecretFile, "%s is empty; put the key in it (e.g. openssl rand -base64 32 > %s)", path, path)
			return nil
		}
	case value == "":
		return nil
	}
	if len(value) < tokens.MinHMACKeySize {
		bad(name, "is %d bytes; at least %d are required (e.g. openssl rand -base64 32)", len(value), tokens.MinHMACKeySize)
		return nil
	}
	return []byte(value)
}

// readSmallFile reads the file at path, refusing one larger than limit.
// Its errors name the path (os.Open's do), never the content.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err // an *os.PathError: it names the path
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a key", path, limit)
	}
	return b, nil
}

// parseDuration reads a Go duration in [lo, hi].
func parseDuration(getenv func(string) string, name string, def, lo, hi time.Duration, bad func(string, string, ...any)) time.Duration {
	s := getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		bad(name, "%q is not a Go duration such as 15m or 1h30m", s)
	case d < lo || d > hi:
		bad(name, "%v is outside [%v, %v]", d, lo, hi)
	default:
		return d
	}
	return 0
}

// parseBool reads 1, true, yes or 0, false, no, in any case.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return true, true
	case "0", "false", "no":
		return false, true
	}
	return false, false
}

// redactURLError drops the URL that url.Parse puts in its errors: it may
// carry a password.
func redactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isControl(r rune) bool        { return r < 0x20 || r == 0x7f }
func isControlOrSpace(r rune) bool { return isControl(r) || r == ' ' }

// redisTarget describes the Redis of r for messages: addresses and
// database, never the credentials.
func redisTarget(r *redisConfig) string { return r.String() }

// loadSigningKey reads an EdDSA, ES256 or RS256 private key from a PEM
// file. Its kid is derived from the public key, so a new key gets a new
// kid and the old one keeps verifying while both are published.
func loadSigningKey(path string) (*tokens.Key, error) {
	probe, err := tokens.LoadKeyFile("probe", path)
	if err != nil {
		return nil, err
	}
	pub, err := tokens.JWKS(probe)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	k, err := tokens.LoadKeyFile("demo-"+hex.EncodeToString(sum[:6]), path)
	if err != nil {
		return nil, err
	}
	// A public key loads as a verify-only key, which cannot sign.
	if _, err := tokens.NewIssuer(k, tokens.WithIssuer(tokenIssuer), tokens.WithAudience(tokenAudience)); err != nil {
		return nil, fmt.Errorf("%s holds no private key to sign with", path)
	}
	return k, nil
}
