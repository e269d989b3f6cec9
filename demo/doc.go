// Command demo is authkit's demo service: a small Gin application that
// logs users in, protects an API with roles, and serves a browser page, on
// the in-memory store or on Redis. It is the example to copy into a real
// service, and its CLI manages the users of a Redis-backed deployment.
//
// Usage:
//
//	demo [serve]                                       serve HTTP on AUTHKIT_ADDR
//	demo useradd  --username NAME [--roles a,b] --password-stdin
//	demo passwd   --username NAME --password-stdin     (revokes every session)
//	demo roles    --username NAME --set a,b
//	demo disable  --username NAME [--enable]
//	demo sessions --username NAME                      list live sessions
//	demo revoke   --username NAME                      revoke every session
//	demo totp enroll  --username NAME                  a pending TOTP factor: otpauth URI and secret
//	demo totp confirm --username NAME --code CODE      activate it: the 10 recovery codes, once
//	demo totp disable --username NAME                  remove it (revokes every session)
//	demo totp code    --username NAME --test           the current code: tests and demos only
//	demo totp status  --username NAME
//	demo passkey list   --username NAME                ids, names, created, last used
//	demo passkey revoke --username NAME --id ID        (revokes every session)
//	demo apikey create  --username NAME [--roles a,b] [--expires DURATION] [--name LABEL]
//	                                                   a key for machines, printed once on the last line
//	demo apikey list    --username NAME                ids, names, roles, created, expires, last used
//	demo apikey revoke  --username NAME --id ID
//	demo apikey rotate  --username NAME --id ID [--overlap DURATION]
//	                                                   a successor; the old key works for the overlap
//	demo service-account create --username NAME [--roles a,b]
//	                                                   a user without a password, for API keys
//	demo client add    --id ID [--roles a,b] --secret-stdin
//	                                                   an OAuth client for the client_credentials grant
//	demo client list                                   ids, roles, created; never the secrets
//	demo client remove --id ID                         its access tokens stop working at once
//	demo healthcheck                                   GET /healthz on AUTHKIT_ADDR's port
//
// Without REDIS_URL, serve uses the in-memory store and seeds alice
// (admin,user) and bob (user) with random passwords that it prints once on
// standard output, after it has bound its port. The user commands work on
// Redis only. serve listens on 127.0.0.1:8080 unless AUTHKIT_ADDR says
// otherwise (:8080 for every interface, as the container sets it).
//
// Configuration comes from the environment (see config.go and demo/README.md):
// REDIS_URL (with AUTHKIT_REDIS_MODE single, sentinel or cluster: how
// to read it), AUTHKIT_ADDR, AUTHKIT_SECRET or AUTHKIT_SECRET_FILE,
// AUTHKIT_ACCESS_TTL, AUTHKIT_REFRESH_TTL, AUTHKIT_STORE_TIMEOUT,
// AUTHKIT_REDIS_WAIT_REPLICAS, AUTHKIT_REALM, AUTHKIT_BCRYPT_COST,
// AUTHKIT_REDIS_PREFIX,
// AUTHKIT_LOG_FORMAT, AUTHKIT_COOKIE_SECURE, AUTHKIT_METRICS_ADDR
// (Prometheus metrics at /metrics on a listener of their own; unset,
// none), AUTHKIT_MFA_KEYS (the keys sealing TOTP secrets; unset, derived
// from the signing key), AUTHKIT_PASSKEY_RP_ID (localhost) and
// AUTHKIT_PASSKEY_ORIGINS (http://localhost on AUTHKIT_ADDR's port). totp
// enroll, confirm and code need the server's AUTHKIT_MFA_KEYS or signing
// key.
//
// Usernames given to the CLI are canonical (store.CanonicalUsername):
// "--username Alice" names the user alice.
//
// Exit codes: 0 success; 1 runtime failure (Redis unreachable, server
// error); 2 usage or configuration error; 3 input rejected (weak or
// over-long password, bad username or role, wrong TOTP code, a key role
// the owner lacks, a disabled owner); 4 the user (or an active TOTP
// factor) already exists; 5 no such user (or factor, or passkey, or API
// key). healthcheck exits 0 or 1 only: Docker reserves 2.
//
// main only calls run, which takes its arguments, environment and standard
// streams as parameters, so the whole program is tested in-process.
package main
