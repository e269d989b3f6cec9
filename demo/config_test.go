package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/accounts"
)

// TestLoadConfigDefaults: unset values stay zero, which the library reads
// as its own defaults (the demo does not restate them); the kit built from
// them has those defaults in force.
func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.redis != nil || c.RedisPrefix != "authkit:" || c.secret != nil ||
		c.AccessTTL != 0 || c.RefreshTTL != 0 || c.Realm != "authkit-demo" ||
		c.BcryptCost != 0 || c.LogFormat != "text" || c.CookieSecure {
		t.Fatalf("defaults = %+v", c)
	}
	auth, err := newAuth(c, openMemory(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ec := auth.Config()
	if ec.Issuer.TTL() != 15*time.Minute || ec.Sessions.Lifetime != 720*time.Hour || ec.Sessions.IdleTimeout != 24*time.Hour {
		t.Errorf("in force: access %v, lifetime %v, idle %v", ec.Issuer.TTL(), ec.Sessions.Lifetime, ec.Sessions.IdleTimeout)
	}
	if h, ok := auth.Accounts().Config().Hasher.(accounts.Bcrypt); !ok || h.Cost != 12 {
		t.Errorf("hasher in force = %+v, want bcrypt at cost 12", auth.Accounts().Config().Hasher)
	}
}

func TestLoadConfigValues(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{
		envAddr: "127.0.0.1:9000", envRedisURL: "redis://:pw@127.0.0.1:6380/3", envRedisPrefix: "app:",
		envSecret: testSecret, envAccessTTL: "2m", envRefreshTTL: "1h", envRealm: "r",
		envBcryptCost: "4", envLogFormat: "json", envStoreTimeout: "2s", envWaitReplicas: "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.redis == nil || c.redis.mode != redisSingle || c.redis.single.Addr != "127.0.0.1:6380" || c.redis.single.DB != 3 ||
		!c.redis.single.ContextTimeoutEnabled {
		t.Fatalf("redis options = %+v", c.redis)
	}
	if c.AccessTTL != 2*time.Minute || c.RefreshTTL != time.Hour || c.StoreTimeout != 2*time.Second || c.WaitReplicas != 1 ||
		c.BcryptCost != 4 || string(c.secret) != testSecret || c.LogFormat != "json" {
		t.Fatalf("config = %+v", c)
	}
}

// Every bad value stops the program with exit code 2 and a message that
// names the variable, and never echoes a secret.
func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"addr without port", envAddr, "localhost", envAddr},
		{"addr bad port", envAddr, ":99999", envAddr},
		{"redis url scheme", envRedisURL, "http://127.0.0.1:6379", envRedisURL},
		{"redis url db", envRedisURL, "redis://127.0.0.1:6379/x", envRedisURL},
		{"redis mode", envRedisMode, "replicated", envRedisMode},
		{"prefix with brace", envRedisPrefix, "a{b}:", envRedisPrefix},
		{"short secret", envSecret, "too-short-secret", envSecret},
		{"access ttl not a duration", envAccessTTL, "15", envAccessTTL},
		{"access ttl zero", envAccessTTL, "0s", envAccessTTL},
		{"access ttl negative", envAccessTTL, "-1m", envAccessTTL},
		{"access ttl too long", envAccessTTL, "48h", envAccessTTL},
		{"refresh ttl garbage", envRefreshTTL, "forever", envRefreshTTL},
		{"store timeout too short", envStoreTimeout, "5ms", envStoreTimeout},
		{"store timeout not a duration", envStoreTimeout, "2", envStoreTimeout},
		{"wait replicas text", envWaitReplicas, "one", envWaitReplicas},
		{"wait replicas negative", envWaitReplicas, "-1", envWaitReplicas},
		{"wait replicas too many", envWaitReplicas, "6", envWaitReplicas},
		{"refresh ttl shorter than access", envRefreshTTL, "1m", envAccessTTL},
		{"realm with quote", envRealm, `a"b`, envRealm},
		{"realm with newline", envRealm, "a\nb", envRealm},
		{"bcrypt cost text", envBcryptCost, "twelve", envBcryptCost},
		{"bcrypt cost too low", envBcryptCost, "3", envBcryptCost},
		{"bcrypt cost too high", envBcryptCost, "31", envBcryptCost},
		{"log format", envLogFormat, "xml", envLogFormat},
		{"cookie secure", envCookieSecure, "maybe", envCookieSecure},
		{"cookie secure on", envCookieSecure, "on", envCookieSecure},
		{"mfa keys not id:key", envMFAKeys, "just-a-key", envMFAKeys},
		{"mfa key not base64", envMFAKeys, "k1:not*base64", envMFAKeys},
		{"mfa key short", envMFAKeys, "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 16)), envMFAKeys},
		{"mfa key all zero", envMFAKeys, "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), envMFAKeys},
		{"passkey rp id with scheme", envPasskeyRPID, "https://example.com", envPasskeyRPID},
		{"passkey rp id with port", envPasskeyRPID, "localhost:8080", envPasskeyRPID},
		{"passkey rp id an IP address", envPasskeyRPID, "127.0.0.1", envPasskeyRPID},
		{"passkey rp id upper case", envPasskeyRPID, "Example.com", envPasskeyRPID},
		{"passkey origin without scheme", envPasskeyOrig, "localhost:8080", envPasskeyOrig},
		{"passkey origin ftp", envPasskeyOrig, "ftp://localhost", envPasskeyOrig},
		{"passkey origin with path", envPasskeyOrig, "http://localhost:8080/login", envPasskeyOrig},
		{"passkey origin off the rp id", envPasskeyOrig, "http://127.0.0.1:8080", envPasskeyOrig},
		{"passkey origin a suffix only", envPasskeyOrig, "https://notlocalhost", envPasskeyOrig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDemo(t, map[string]string{tt.key: tt.value}, "", "serve")
			if r.code != exitUsage {
				t.Fatalf("exit code = %d, want %d; stderr %q", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr %q does not name %s", r.stderr, tt.want)
			}
			if (tt.key == envSecret || tt.key == envMFAKeys) && strings.Contains(r.stderr, tt.value) {
				t.Fatalf("stderr echoes the secret: %q", r.stderr)
			}
		})
	}
}

// AUTHKIT_SECRET_FILE names a file holding the key (a Docker or
// Kubernetes secret); one trailing line break is not part of it.
func TestLoadConfigSecretFile(t *testing.T) {
	key := testSecret
	tests := []struct {
		name, content, want string
	}{
		{"no line break", key, key},
		{"line break", key + "\n", key},
		{"CRLF", key + "\r\n", key},
		{"only one line break is stripped", key + "\n\n", key + "\n"},
		{"spaces are kept", " " + key + " ", " " + key + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(tt.content), 0o400); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(envOf(map[string]string{envSecretFile: path}))
			if err != nil || string(c.secret) != tt.want {
				t.Fatalf("secret = %q, %v; want %q", c.secret, err, tt.want)
			}
		})
	}
}

// A secret file that cannot be used stops the program with exit code 2
// and a message naming AUTHKIT_SECRET_FILE and the path, never the
// content.
func TestLoadConfigSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
		return path
	}
	short := "short-key-do-not-echo"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"both set", map[string]string{envSecret: testSecret, envSecretFile: write("both", testSecret)},
			"AUTHKIT_SECRET_FILE: is set and so is AUTHKIT_SECRET; set only one of them"},
		{"missing file", map[string]string{envSecretFile: filepath.Join(dir, "missing")},
			"AUTHKIT_SECRET_FILE: cannot read the secret: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"directory", map[string]string{envSecretFile: dir},
			"AUTHKIT_SECRET_FILE: cannot read the secret: read " + dir + ": is a directory"},
		{"empty file", map[string]string{envSecretFile: write("empty", "\n")},
			"AUTHKIT_SECRET_FILE: " + filepath.Join(dir, "empty") + " is empty"},
		{"short key", map[string]string{envSecretFile: write("short", short+"\n")},
			"AUTHKIT_SECRET_FILE: is 21 bytes; at least 32 are required"},
		{"huge file", map[string]string{envSecretFile: write("huge", strings.Repeat("k", 5000))},
			"is larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDemo(t, tt.env, "", "serve")
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr %q, want %q", r.code, exitUsage, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, short) || strings.Contains(r.stderr, testSecret) || r.stdout != "" {
				t.Fatalf("the secret or a password reached the output: stdout %q, stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

// AUTHKIT_COOKIE_SECURE is a boolean; unset keeps the default (not
// Secure on plain HTTP to a loopback host).
func TestLoadConfigCookieSecure(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"", false},
		{"1", true}, {"true", true}, {"yes", true}, {"TRUE", true}, {"Yes", true},
		{"0", false}, {"false", false}, {"no", false}, {"No", false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := loadConfig(envOf(map[string]string{envCookieSecure: tt.value}))
			if err != nil || c.CookieSecure != tt.want {
				t.Fatalf("CookieSecure = %v, %v; want %v", c.CookieSecure, err, tt.want)
			}
		})
	}
}

func TestLoadConfigReportsEveryBadVariable(t *testing.T) {
	_, err := loadConfig(envOf(map[string]string{envAccessTTL: "x", envBcryptCost: "x", envRealm: `"`}))
	if exitCode(err) != exitUsage {
		t.Fatalf("exit code = %d", exitCode(err))
	}
	for _, name := range []string{envAccessTTL, envBcryptCost, envRealm} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// A Redis URL holds a password; no message may show it.
func TestRedisURLPasswordNeverShown(t *testing.T) {
	for _, raw := range []string{"redis://:hunter2hunter2@127.0.0.1:6379/x", "redis://u:hunter2hunter2@[::1:6379/0", "redis://:hunter2hunter2@127.0.0.1:6379/0?bogus=1"} {
		_, err := loadConfig(envOf(map[string]string{envRedisURL: raw}))
		if err == nil {
			t.Fatalf("%q accepted", raw)
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), envRedisURL) {
			t.Fatalf("error = %q", err)
		}
	}
}

// With Redis the key must be shared by every replica: no random default.
func TestServeWithRedisRequiresSecret(t *testing.T) {
	r := runDemo(t, map[string]string{envRedisURL: "redis://127.0.0.1:1/0", envAddr: "127.0.0.1:0"}, "", "serve")
	if r.code != exitUsage || !strings.Contains(r.stderr, "AUTHKIT_SECRET, AUTHKIT_SECRET_FILE or AUTHKIT_SIGNING_KEY_FILE is required with REDIS_URL") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"help"}, exitOK, "Usage: demo"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"serve with argument", []string{"serve", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"serve with unknown flag", []string{"serve", "--port", "1"}, exitUsage, "flag provided but not defined"},
		{"help lists healthcheck", []string{"help"}, exitOK, "healthcheck GET /healthz on the port of AUTHKIT_ADDR"},
		{"disable with argument", []string{"disable", "--username", "bob", "extra"}, exitUsage, `demo: disable: unexpected argument "extra"`},
		{"useradd -h", []string{"useradd", "-h"}, exitOK, "--password-stdin"},
		{"-h lists the commands", []string{"-h"}, exitOK, "Commands:\n  serve"},
		{"serve -h lists the commands", []string{"serve", "-h"}, exitOK, "Commands:\n  serve"},
		{"totp without subcommand", []string{"totp"}, exitUsage, "totp: a subcommand is required: code, confirm, disable, enroll, status"},
		{"totp unknown subcommand", []string{"totp", "reset"}, exitUsage, `totp: unknown subcommand "reset"`},
		{"totp -h", []string{"totp", "-h"}, exitOK, "demo totp confirm --username NAME --code CODE"},
		{"totp code -h says tests only", []string{"totp", "code", "-h"}, exitOK, "for tests and demos only"},
		{"passkey without subcommand", []string{"passkey", "--username", "bob"}, exitUsage, "passkey: a subcommand is required: list, revoke"},
		{"help lists totp code", []string{"help"}, exitOK, "totp code     --username NAME --test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runDemo(t, nil, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d); stdout %q; stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "demo: demo ") {
				t.Fatalf("doubled prefix in %q", r.stderr)
			}
		})
	}
}

// TestLoadConfigSigningKeyFile: AUTHKIT_SIGNING_KEY_FILE names an EdDSA or
// ES256 PEM key, with a kid derived from its public half; it excludes the
// HS256 secret, and a bad file is a configuration error.
func TestLoadConfigSigningKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	good := write("ed.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pubDER, _ := x509.MarshalPKIXPublicKey(priv.Public())
	public := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	c, err := loadConfig(envOf(map[string]string{envSigningKey: good}))
	if err != nil || c.signingKey == nil || c.signingKey.Algorithm() != "EdDSA" || !strings.HasPrefix(c.signingKey.ID(), "demo-") {
		t.Fatalf("loadConfig = %+v, %v", c.signingKey, err)
	}
	again, _ := loadConfig(envOf(map[string]string{envSigningKey: good}))
	if again.signingKey.ID() != c.signingKey.ID() {
		t.Error("the kid is not stable for one key")
	}
	for name, env := range map[string]map[string]string{
		"with a secret": {envSigningKey: good, envSecret: testSecret},
		"missing file":  {envSigningKey: filepath.Join(dir, "nope.pem")},
		"public key":    {envSigningKey: public},
		"not PEM":       {envSigningKey: write("junk", []byte("hello"))},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(envOf(env))
			if err == nil || !strings.Contains(err.Error(), envSigningKey) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("err = %v, want a config error naming %s and no key material", err, envSigningKey)
			}
		})
	}
}

// The passkeys' relying party: localhost and the listen port by default,
// https://<RP ID> for another RP ID, and origins on subdomains of the RP
// ID accepted as browsers accept them. AUTHKIT_MFA_KEYS unset leaves the
// sealing keys to be derived from the signing key.
func TestLoadConfigPasskeysAndMFAKeys(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	tests := []struct {
		name    string
		env     map[string]string
		rpID    string
		origins []string
		keyIDs  string
	}{
		{"defaults", nil, "localhost", []string{"http://localhost:8080"}, ""},
		{"port of AUTHKIT_ADDR", map[string]string{envAddr: ":9000"}, "localhost", []string{"http://localhost:9000"}, ""},
		{"another rp id", map[string]string{envPasskeyRPID: "example.com"}, "example.com", []string{"https://example.com"}, ""},
		{"origins on the rp id", map[string]string{envPasskeyRPID: "example.com", envPasskeyOrig: "https://login.example.com, https://example.com:8443"},
			"example.com", []string{"https://login.example.com", "https://example.com:8443"}, ""},
		{"mfa keys", map[string]string{envMFAKeys: "k2:" + key + ",k1:" + key}, "localhost", []string{"http://localhost:8080"}, "k2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.PasskeyRPID != tt.rpID || strings.Join(c.PasskeyOrigins, " ") != strings.Join(tt.origins, " ") || c.mfaKeys.Current != tt.keyIDs {
				t.Fatalf("rp id %q, origins %q, mfa keys %v; want %q, %q, current %q", c.PasskeyRPID, c.PasskeyOrigins, c.mfaKeys, tt.rpID, tt.origins, tt.keyIDs)
			}
		})
	}
}

// TestLoadConfigSigningKeyFileRSA: AUTHKIT_SIGNING_KEY_FILE also takes an
// RSA key (PKCS #1 as "openssl genrsa" writes it, or PKCS #8), which signs
// RS256 and from which the kit derives its other keys; an RSA key under
// 2048 bits is a configuration error.
func TestLoadConfigSigningKeyFileRSA(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := write("rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}))
	c, err := loadConfig(envOf(map[string]string{envSigningKey: good}))
	if err != nil || c.signingKey == nil || c.signingKey.Algorithm() != "RS256" || !strings.HasPrefix(c.signingKey.ID(), "demo-") {
		t.Fatalf("loadConfig = %+v, %v", c.signingKey, err)
	}
	if _, err := newAuth(c, openMemory(), slog.New(slog.DiscardHandler), nil); err != nil {
		t.Fatalf("newAuth with an RSA signing key: %v", err)
	}

	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(weak)
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadConfig(envOf(map[string]string{envSigningKey: write("weak.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}))
	if err == nil || !strings.Contains(err.Error(), envSigningKey) || !strings.Contains(err.Error(), "2048") {
		t.Errorf("a 1024-bit key: %v, want a config error naming %s and the 2048 bits it needs", err, envSigningKey)
	}
}
