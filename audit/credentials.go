package audit

// Event kinds of the second factors (packages mfa and passkey) and API
// keys (package apikey). Username names the account; no event carries a
// secret or a code.
const (
	// TOTPEnrolled: a TOTP enrolment started; the factor is pending
	// until its first valid code.
	TOTPEnrolled Kind = "totp_enrolled"
	// TOTPConfirmed: a first valid code activated a pending TOTP factor
	// and fresh recovery codes were issued.
	TOTPConfirmed Kind = "totp_confirmed"
	// TOTPDisabled: the user's TOTP factor and recovery codes were
	// removed.
	TOTPDisabled Kind = "totp_disabled"
	// RecoveryCodeUsed: a recovery code stood in for a TOTP code; Reason
	// is "last" when it was the user's last one.
	RecoveryCodeUsed Kind = "recovery_code_used"
	// RecoveryCodesRegenerated: the user's recovery codes were replaced
	// by a fresh set.
	RecoveryCodesRegenerated Kind = "recovery_codes_regenerated"
	// MFARequired: a login's password was right and the user has a
	// second factor; a ticket was handed out for the code.
	MFARequired Kind = "mfa_required"
	// PasskeyAdded: the user registered a passkey.
	PasskeyAdded Kind = "passkey_added"
	// PasskeyRevoked: the user removed one of their passkeys.
	PasskeyRevoked Kind = "passkey_revoked"
	// APIKeyCreated, APIKeyRotated and APIKeyRevoked: the user changed
	// their API keys (package apikey); Reason holds the key's public ID
	// (old>new for a rotation), never its secret.
	APIKeyCreated Kind = "api_key_created"
	APIKeyRotated Kind = "api_key_rotated"
	APIKeyRevoked Kind = "api_key_revoked"
	// ClientToken: an OAuth client obtained an access token for itself
	// (client_credentials); Reason holds its client_id.
	ClientToken Kind = "client_token"
)
