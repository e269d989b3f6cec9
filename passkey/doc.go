// Package passkey registers passkeys (WebAuthn credentials) and signs
// users in with them, with github.com/go-webauthn/webauthn doing the
// verification. It needs no gin: handlers, a CLI and tests use the same
// [Passkeys]. Passkeys are kept in a store.FactorStore (kind
// store.Passkey) and each ceremony's state in a store.ChallengeStore.
//
// # Ceremonies
//
// Each ceremony has two steps. Begin returns the options for the browser
// and a ceremony string; finish takes the ceremony string back with the
// browser's response and consumes it, so a ceremony is finished at most
// once and only within Config.Timeout. The store keeps only the SHA-256
// of the ceremony's random secret (store.HashSecret), beside
// go-webauthn's session data.
//
//   - Registration, for a user the application has already signed in:
//     [Passkeys.BeginRegistration] asks for a discoverable credential
//     (residentKey "required"), prefers user verification, asks for no
//     attestation and excludes the user's existing passkeys;
//     [Passkeys.FinishRegistration] verifies the response and stores the
//     passkey, confirmed at once.
//   - Sign-in with a passkey alone: [Passkeys.BeginLogin] with username
//     "" lists no credential; the browser offers the site's passkeys,
//     and [Passkeys.FinishLogin] finds the owner of the one chosen
//     (store.FactorStore's FactorOwner) and checks its user handle.
//   - A passkey as a second factor: [Passkeys.BeginLogin] with the
//     username whose password was just verified lists that user's
//     passkeys; [Passkeys.FinishLogin] accepts only one of them.
//
// The options are the JSON of go-webauthn's protocol.CredentialCreation
// and protocol.CredentialAssertion: an object whose "publicKey" member
// is PublicKeyCredentialCreationOptionsJSON or
// PublicKeyCredentialRequestOptionsJSON, binary fields (challenge,
// user.id, credential IDs) in base64url. A page passes it on as
//
//	const o = await (await fetch(begin)).json();
//	const cred = await navigator.credentials.create({
//		publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.publicKey),
//	}); // .get and parseRequestOptionsFromJSON to sign in
//	await fetch(finish, {method: "POST", body: JSON.stringify(cred)});
//
// and posts back the credential's JSON (its toJSON form), which is the
// body the finish step reads. Browsers without parse…FromJSON decode the
// base64url fields themselves.
//
// # Errors
//
// A refused credential, whatever the reason, is [ErrRejected] (a 401 for
// the caller), so the answer does not tell an attacker which check
// failed; the wrapped cause is for logs. Errors wrapping no sentinel are
// the store's failures (a 503).
//
// # User handle
//
// The user handle (user.id), which an authenticator stores with a passkey
// and returns on a discoverable sign-in, is HMAC-SHA256(UserHandleKey,
// username): 32 bytes that hold no personal data, as WebAuthn asks, and
// need no index, since the server recomputes them from the owner that
// FactorOwner names. A discoverable sign-in whose user handle is not the
// owner's is refused.
//
// # Signature counters
//
// Each accepted sign-in stores the authenticator's signature counter with
// store.FactorStore's UseFactor, which applies store.Accepts in one
// atomic step: the counter must grow, or stay zero for an authenticator
// that keeps none (most synced passkeys). A counter that does not grow
// means two copies of the private key may exist; the sign-in fails with
// [ErrCloned], which also matches [ErrRejected]. An authenticator that
// once counted and then reports zero is refused the same way.
//
// # Authentication methods
//
// [Result.AMR] gives the RFC 8176 values a sign-in proves: "hwk" for the
// key the authenticator holds, and "mfa" too when the authenticator
// verified the user ([Result.UserVerified], a PIN or biometric), since
// that is a second factor. A passkey used after a password makes "pwd",
// "hwk" and "mfa" whatever the verification.
package passkey
