package ginauth_test

import (
	"encoding/json"
	"testing"

	"github.com/gin-authkit/authkit/internal/softauthn"
)

func withPasskeys(c *kitConfig) { c.passkeys = true }

// options returns the "options" member of a begin answer, as the browser
// gets it.
func options(t testing.TB, r resp) []byte {
	t.Helper()
	expect(t, r, 200, "")
	o, err := json.Marshal(r.body["options"])
	if err != nil || r.str("ceremony") == "" {
		t.Fatalf("begin answer: %s", r.Body)
	}
	return o
}

// registerPasskey registers a passkey of the caller behind auth with
// browser and returns its id and the credential.
func (k *kit) registerPasskey(browser *softauthn.Authenticator, auth []string) (string, *softauthn.Credential) {
	k.t.Helper()
	b := k.do("POST", "/auth/passkeys/register/begin", map[string]string{"name": "laptop"}, auth...)
	body, cred, err := browser.Create(options(k.t, b))
	if err != nil {
		k.t.Fatal(err)
	}
	f := k.do("POST", "/auth/passkeys/register/finish", map[string]any{"ceremony": b.str("ceremony"), "credential": json.RawMessage(body)}, auth...)
	expect(k.t, f, 200, "")
	return f.str("id"), cred
}

// passkeyLogin signs in with browser's passkey: alone, or for ticket.
func (k *kit) passkeyLogin(browser *softauthn.Authenticator, ticket string) resp {
	k.t.Helper()
	begin := map[string]string{}
	if ticket != "" {
		begin["mfa_ticket"] = ticket
	}
	b := k.do("POST", "/auth/passkeys/login/begin", begin)
	body, err := browser.Get(options(k.t, b))
	if err != nil {
		k.t.Fatal(err)
	}
	finish := map[string]any{"ceremony": b.str("ceremony"), "credential": json.RawMessage(body)}
	if ticket != "" {
		finish["mfa_ticket"] = ticket
	}
	return k.do("POST", "/auth/passkeys/login/finish", finish)
}

// TestPasskeyRoutes: register, list, sign in with the passkey alone and
// as the second factor of a password login, refusals, and revocation,
// which ends the user's other sessions and the passkey's use.
func TestPasskeyRoutes(t *testing.T) {
	forEachFactorKit(t, func(t *testing.T, newK kitMaker) {
		k := newK(t, withPasskeys)
		browser := &softauthn.Authenticator{Origin: "https://example.com"}
		bob := k.login("bob", bobPW)
		id, bobCred := k.registerPasskey(browser, bearer(bob.AccessToken))

		l := k.do("GET", "/auth/passkeys", nil, bearer(bob.AccessToken)...)
		expect(t, l, 200, "")
		if list, _ := l.body["passkeys"].([]any); len(list) != 1 || list[0].(map[string]any)["id"] != id {
			t.Fatalf("list: %s", l.Body)
		}

		// A passkey alone signs in.
		alone := k.passkeyLogin(browser, "")
		expect(t, alone, 200, "")
		expect(t, k.do("GET", "/api/me", nil, bearer(alone.str("access_token"))...), 200, "")

		// The password alone is no longer enough; the passkey completes it.
		r := k.do("POST", "/auth/login", map[string]string{"username": "bob", "password": bobPW})
		expect(t, r, 401, "mfa_required")
		if m, _ := r.body["methods"].([]any); len(m) != 1 || m[0] != "passkey" {
			t.Fatalf("methods: %v", r.body["methods"])
		}
		ticket := r.str("mfa_ticket")
		expect(t, k.passkeyLogin(browser, ticket), 200, "")
		// The ticket is single use.
		b := k.do("POST", "/auth/passkeys/login/begin", map[string]string{"mfa_ticket": ticket})
		expect(t, b, 401, "invalid_grant")

		// Another user's passkey does not complete alice's login.
		alice := k.login("alice", alicePW)
		other := &softauthn.Authenticator{Origin: "https://example.com"}
		k.registerPasskey(other, bearer(alice.AccessToken))
		r = k.do("POST", "/auth/login", map[string]string{"username": "alice", "password": alicePW})
		expect(t, r, 401, "mfa_required")
		aliceTicket := r.str("mfa_ticket")
		b = k.do("POST", "/auth/passkeys/login/begin", map[string]string{"mfa_ticket": aliceTicket})
		assertion, err := browser.Assert(bobCred, options(t, b))
		if err != nil {
			t.Fatal(err)
		}
		expect(t, k.do("POST", "/auth/passkeys/login/finish", map[string]any{
			"ceremony": b.str("ceremony"), "credential": json.RawMessage(assertion), "mfa_ticket": aliceTicket,
		}), 401, "invalid_credentials")

		// A password session cannot add or remove a passkey once bob has
		// one (step-up); an API key never can.
		expect(t, k.do("DELETE", "/auth/passkeys/"+id, nil, bearer(bob.AccessToken)...), 401, "step_up_required")
		expect(t, k.do("POST", "/auth/passkeys/register/begin", map[string]string{}, bearer(bob.AccessToken)...), 401, "step_up_required")

		// Revoking, from the passkey's own session (amr hwk, mfa), ends
		// bob's other sessions, answers a new one, and the passkey no
		// longer signs in.
		rv := k.do("DELETE", "/auth/passkeys/"+id, nil, bearer(alone.str("access_token"))...)
		expect(t, rv, 200, "")
		expect(t, k.do("GET", "/api/me", nil, bearer(alone.str("access_token"))...), 401, "invalid_token")
		expect(t, k.do("GET", "/api/me", nil, bearer(bob.AccessToken)...), 401, "invalid_token")
		expect(t, k.do("GET", "/api/me", nil, bearer(rv.str("access_token"))...), 200, "")
		expect(t, k.passkeyLogin(browser, ""), 401, "invalid_credentials")
		expect(t, k.do("DELETE", "/auth/passkeys/"+id, nil, bearer(rv.str("access_token"))...), 404, "")
		k.login("bob", bobPW) // no factor left: the password is enough again
	})
}
