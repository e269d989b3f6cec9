// Package apikey is authkit's credential for machines: API keys that a
// cron job, a webhook sender or another service presents as
// "Authorization: Bearer ak_…" to act as their owner, a user or a
// service account (a user without a password). It needs no gin; ginauth's
// middleware accepts the keys that accounts.Config.APIKeys checks.
//
// A key is shown once, at [Keys.Create]: "ak_" + base64url(owner) + "." +
// id + "." + 256-bit secret, a prefix secret scanners can match. Stores
// keep its secret's SHA-256 only (store.APIKeyStore), with its own roles
// (each one the owner's; at use only those the owner still has count),
// an optional expiry, a name and its last use (recorded at most once a
// minute).
//
// A key lives as long as its owner's generation: disabling the owner,
// changing their password or logging them out everywhere ends every key
// of theirs, as it ends their sessions. [Keys.Rotate] makes a successor
// and lets the old key work for an overlap; [Keys.Revoke] ends one at
// once.
//
// [Keys.Verify] is one store read on the request path (with users kept
// apart, a read of the owner too). A refused key is [ErrRejected],
// whatever the reason, so an answer does not say which part failed.
package apikey
