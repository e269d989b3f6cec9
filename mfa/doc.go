// Package mfa is authkit's TOTP second factor (RFC 6238) with recovery
// codes, with no HTTP machinery. Its secrets are sealed at rest with
// AES-256-GCM under rotating [Keys].
package mfa
