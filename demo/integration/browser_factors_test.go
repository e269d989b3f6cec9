package integration

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
)

// startOnLocalhost starts the demo on a loopback port chosen before it
// starts, and returns it with the page's address, http://localhost:PORT/.
// The port must be known in advance: the passkeys' relying party is
// localhost with the origin http://localhost on the port of AUTHKIT_ADDR
// (the demo's default), and the browser's origin must be that one. (A
// port picked by the kernel at startup would make the origin
// http://localhost:0.) Another process may take the port between the
// probe and the demo's start; the demo then fails to start, saying so.
func startOnLocalhost(t *testing.T, bin string) (*demotest.Process, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := demotest.Start(t, bin, map[string]string{
		"AUTHKIT_BCRYPT_COST": "4",
		"AUTHKIT_ADDR":        "127.0.0.1:" + strconv.Itoa(port),
	})
	return srv, "http://localhost:" + strconv.Itoa(port) + "/"
}

// addAuthenticator enables the DevTools WebAuthn domain on the page's tab
// and plugs in a virtual platform authenticator that keeps discoverable
// credentials and verifies the user (as a fingerprint would), answering
// at once. With the domain enabled the browser shows no dialog.
func (p *page) addAuthenticator() webauthn.AuthenticatorID {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		p.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true, // the field is sent even when false
		},
	})
	if err != nil {
		p.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials returns the credentials the virtual authenticator holds.
func (p *page) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		p.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// click clicks the element with id and waits until the text of the
// element with id result starts with want (a status, say), then checks
// that it contains each of also.
func (p *page) click(button, result, want string, also ...string) {
	p.t.Helper()
	p.eval("reset #"+result, fmt.Sprintf(`document.getElementById(%q).textContent = ""`, result))
	p.do("click #"+button, chromedp.Click(chromedp.ID(button)))
	p.waitFor("#"+result+" shows "+want, fmt.Sprintf(`document.getElementById(%q).textContent.startsWith(%q)`, result, want))
	got := p.text(result)
	for _, s := range also {
		if !strings.Contains(got, s) {
			p.t.Fatalf("#%s = %q, want it to contain %q", result, got, s)
		}
	}
}

// shown reports whether the element with id is rendered (neither it nor
// an ancestor hidden).
func (p *page) shown(id string) bool {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.getElementById(%q).getClientRects().length > 0`, id)))
	if err != nil {
		p.t.Fatalf("is #%s shown: %v", id, err)
	}
	return v
}

// wantShown checks which elements are rendered and which are not.
func (p *page) wantShown(when string, shown map[string]bool) {
	p.t.Helper()
	for id, want := range shown {
		if got := p.shown(id); got != want {
			p.t.Fatalf("%s: #%s shown = %v, want %v", when, id, got, want)
		}
	}
}

// fill puts s into the input with id, replacing what it held.
func (p *page) fill(id, s string) {
	p.t.Helper()
	p.do("type into #"+id,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = ""`, id)),
		chromedp.SendKeys(chromedp.ID(id), s))
}

// logout clicks "Log out" and waits until the page knows nobody.
func (p *page) logout() {
	p.t.Helper()
	p.click("logout", "logout-result", "204 No Content")
	p.whoami("out", "Not logged in.")
}

// noErrorsButFailedFetches checks that the page's script never broke: no
// exception and no violation of the Content-Security-Policy (the 401s the
// scenario asks for are logged as failed loads, and are expected).
func (p *page) noErrorsButFailedFetches() {
	p.t.Helper()
	for _, m := range p.console.all() {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			p.t.Errorf("console: %s", m)
		}
	}
}

// TestBrowserPasskey drives the page's passkey flows in real chromium
// with a virtual authenticator (DevTools WebAuthn domain), against the
// demo at http://localhost:PORT, the relying party's origin. Signed in
// with bob's password, /api/step-up answers 401 step_up_required; "Add a
// passkey" registers a discoverable credential that the list shows, and
// logging out leaves nothing of it on the page. The password then asks
// for the second factor, and "Use a passkey" completes the login, which
// passes step-up. After logging out, "Sign in with a passkey" signs bob in
// with no username (the authenticator verified him: step-up passes). The
// passkey's Remove button revokes it on the server, which answers with a
// new session for the page; the authenticator still holds the
// credential, yet "Sign in with a passkey" now fails with 401
// invalid_credentials, shown on the page, and the password alone signs in
// again. Opened at 127.0.0.1 instead, the page says that passkeys work at
// http://localhost:PORT. The page fits 375 px throughout and its script
// never breaks.
func TestBrowserPasskey(t *testing.T) {
	chrome := findChrome(t)
	srv, url := startOnLocalhost(t, demotest.Build(t))
	pw := srv.SeededPasswords(t)
	p := openPage(t, chrome, url, srv)
	auth := p.addAuthenticator()

	p.whoami("out", "Not logged in.")
	p.quiet("anonymous page load", 0)
	p.wantShown("signed out", map[string]bool{"passkey-login": true, "factors": false, "mfa": false})
	if got := p.text("routes"); !strings.Contains(got, "authenticated, with a second factor used within 5 minutes") {
		t.Errorf("the route table does not show the step-up rule of /api/step-up:\n%s", got)
	}

	// The password alone is no second factor.
	p.login("bob", pw["bob"])
	p.whoami("in", "Logged in as bob")
	p.wantShown("signed in", map[string]bool{"factors": true, "passkey-add": true, "totp-enroll": true})
	p.waitFor("the empty passkey list", `document.getElementById("passkey-list").textContent === "No passkeys yet."`)
	p.call("call-step-up", "result-step-up", "401 Unauthorized", "(step_up_required)")

	// Add a passkey.
	p.fill("passkey-name", "test laptop")
	p.click("passkey-add", "passkey-result", "200 OK", "Passkey “test laptop” added.")
	p.waitFor("the passkey listed", `document.querySelector("#passkey-list .passkey-name")?.textContent === "test laptop"`)
	held := p.credentials(auth)
	if len(held) != 1 || !held[0].IsResidentCredential || held[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %d credentials (%+v), want one discoverable for localhost", len(held), held)
	}
	p.fits("passkey listed")

	// Logging out leaves nothing of the session on the page.
	p.logout()
	p.wantShown("logged out", map[string]bool{"factors": false})
	for _, id := range []string{"passkey-list", "passkey-result", "result-step-up"} {
		if got := p.text(id); got != "" {
			t.Fatalf("#%s = %q after logging out, want it empty", id, got)
		}
	}

	// The password now asks for the second factor: bob has a passkey
	// and no authenticator app, so the page offers the passkey only.
	p.login("bob", pw["bob"])
	p.waitFor("the second step", `document.getElementById("login-result").textContent.includes("(mfa_required)")`)
	p.wantShown("second step", map[string]bool{"mfa": true, "mfa-passkey": true, "mfa-form": false})
	p.whoami("out", "Not logged in.")
	p.do("use a passkey", chromedp.Click(chromedp.ID("mfa-passkey")))
	p.whoami("in", "Logged in as bob")
	p.waitFor("welcome", `document.getElementById("login-result").textContent === "200 OK – Welcome!"`)
	p.wantShown("second step done", map[string]bool{"mfa": false})
	p.call("call-step-up", "result-step-up", "200 OK", "pwd, hwk, mfa")

	// A sign-in with the passkey alone: no username, the authenticator
	// offers its discoverable credential.
	p.logout()
	p.do("sign in with a passkey", chromedp.Click(chromedp.ID("passkey-login")))
	p.whoami("in", "Logged in as bob (roles: user)")
	p.call("call-step-up", "result-step-up", "200 OK", "hwk, mfa")
	p.waitFor("the passkey's last use listed", `document.getElementById("passkey-list").textContent.includes("last used")`)

	// Remove it with its button: the server revokes it and answers a new
	// session, which the page keeps.
	p.do("remove the passkey", chromedp.Click(chromedp.Search(`#passkey-list button`)))
	p.waitFor("removed", `document.getElementById("passkey-result").textContent.startsWith("200 OK – Passkey “test laptop” removed")`)
	p.waitFor("the empty passkey list", `document.getElementById("passkey-list").textContent === "No passkeys yet."`)
	p.call("call-me", "result-me", "200 OK", "You are bob.")
	if n := len(p.credentials(auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials after the revocation, want it to keep its one", n)
	}

	// The authenticator still offers the credential; the server refuses it.
	p.logout()
	p.click("passkey-login", "login-result", "401 Unauthorized", "The demo does not accept this passkey: it may have been removed (invalid_credentials)")
	p.whoami("out", "Not logged in.")
	p.fits("passkey refused")

	// Without a passkey, the password alone signs in again.
	p.login("bob", pw["bob"])
	p.whoami("in", "Logged in as bob")
	p.wantShown("password only", map[string]bool{"mfa": false})

	// Opened at 127.0.0.1, outside the relying party's host, the page
	// says where passkeys work instead of failing obscurely.
	p.do("open the page at "+srv.URL, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
	p.click("passkey-login", "login-result", "Passkeys here belong to localhost: open the demo at "+url+" to use them.")
	p.noErrorsButFailedFetches()
}

// TestBrowserTOTP drives the page's authenticator-app flows in real
// chromium: alice sets up the app (the QR image loads under the page's
// Content-Security-Policy, and a code computed from the secret the page
// shows confirms it), sees her ten recovery codes once (gone after
// logging out); her password then asks for a code, a wrong one is refused
// with 401 invalid_code and may be retried, and the right one signs her in
// with step-up passing; a recovery code signs her in too; and turning the
// app off with her password and another recovery code lets the password
// alone sign her in again.
func TestBrowserTOTP(t *testing.T) {
	chrome := findChrome(t)
	srv := demotest.Start(t, demotest.Build(t), map[string]string{"AUTHKIT_BCRYPT_COST": "4"})
	pw := srv.SeededPasswords(t)
	p := openPage(t, chrome, srv.URL+"/", srv)

	p.whoami("out", "Not logged in.")
	p.login("alice", pw["alice"])
	p.whoami("in", "Logged in as alice")

	// Enrol: the QR image and the secret; a code from the secret confirms.
	p.click("totp-enroll", "totp-result", "200 OK")
	p.wantShown("enrolling", map[string]bool{"totp-pending": true, "recovery": false})
	p.waitFor("the QR image loaded", `(() => { const i = document.getElementById("totp-qr"); return i.complete && i.naturalWidth > 0; })()`)
	secret := p.text("totp-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatalf("a code from the secret %q the page shows: %v", secret, err)
	}
	p.fill("totp-code", code)
	p.click("totp-confirm", "totp-result", "200 OK", "The authenticator app is on")
	p.wantShown("confirmed", map[string]bool{"totp-pending": false, "recovery": true})
	recovery, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes li")].map((li) => li.textContent)`))
	if err != nil || len(recovery) != 10 {
		t.Fatalf("recovery codes shown: %q, %v; want 10", recovery, err)
	}
	p.fits("recovery codes shown")

	// Shown once: logging out takes them off the page.
	p.logout()
	p.wantShown("logged out", map[string]bool{"recovery": false, "factors": false})
	if got := p.text("recovery-codes"); got != "" {
		t.Fatalf("recovery codes still on the page after logging out: %q", got)
	}

	// The password asks for a code; alice has no passkey, so no passkey
	// button. A wrong code may be retried.
	p.login("alice", pw["alice"])
	p.waitFor("the second step", `document.getElementById("login-result").textContent.includes("(mfa_required)")`)
	p.wantShown("second step", map[string]bool{"mfa-form": true, "mfa-passkey": false})
	p.fill("mfa-code", wrongCode(t, secret))
	p.click("mfa-submit", "login-result", "401 Unauthorized", "(invalid_code)")
	p.wantShown("after a wrong code", map[string]bool{"mfa-form": true})
	// Each time step is accepted once, and the confirmation used the
	// current one: the next step's code, within the one-step window, is
	// the one an app shows a few seconds later.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p.fill("mfa-code", next)
	p.click("mfa-submit", "login-result", "200 OK – Welcome!")
	p.whoami("in", "Logged in as alice")
	p.wantShown("signed in", map[string]bool{"mfa": false})
	p.call("call-step-up", "result-step-up", "200 OK", "pwd, otp, mfa")

	// A recovery code stands in for the app.
	p.logout()
	p.login("alice", pw["alice"])
	p.waitFor("the second step", `document.getElementById("login-result").textContent.includes("(mfa_required)")`)
	p.fill("mfa-code", recovery[0])
	p.click("mfa-submit", "login-result", "200 OK – Welcome!")
	p.whoami("in", "Logged in as alice")

	// Turn the app off with the password and another recovery code.
	p.fill("totp-disable-password", pw["alice"])
	p.fill("totp-disable-code", recovery[1])
	p.click("totp-disable", "totp-result", "200 OK", "The authenticator app is off")
	p.call("call-me", "result-me", "200 OK", "You are alice.")
	p.logout()
	p.login("alice", pw["alice"])
	p.whoami("in", "Logged in as alice")
	p.wantShown("password only", map[string]bool{"mfa": false})
	p.noErrorsButFailedFetches()
}

// wrongCode returns a six-digit code that no time step near now accepts.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		c, err := totp.GenerateCode(secret, time.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		near[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("unreachable: three codes cannot all be near")
	return ""
}
