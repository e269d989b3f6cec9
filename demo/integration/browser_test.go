package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gin-authkit/authkit/demo/internal/demotest"
)

// chromeEnv names the browser binary when it is not at a usual path.
const chromeEnv = "CHROME_BIN"

// viewportWidth is the narrowest phone the page must fit without
// scrolling sideways.
const viewportWidth = 375

// findChrome returns the browser to drive. Without one the test is
// skipped, loudly, except on CI (CI set), where it fails: .ci/run installs
// chromium, so a missing browser there is a broken setup.
func findChrome(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(chromeEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", chromeEnv, p, err)
		}
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "no browser found (tried $" + chromeEnv + ", /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome); " +
		"install one with: apt-get install -y chromium"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s. On CI the browser test must run: .ci/run installs chromium.", msg)
	}
	// Skip messages show only with -v: say it on stderr as well.
	fmt.Fprintf(os.Stderr, "\n*** SKIPPED %s: %s ***\n*** The page was NOT tested in a real browser. ***\n\n", t.Name(), msg)
	t.Skipf("SKIPPED: %s. The page was NOT tested in a real browser.", msg)
	return ""
}

// browserLog collects chromedp's messages; t.Logf cannot be called once
// the test has returned, and chromedp may still write then.
type browserLog struct{ demotest.Buffer }

func (l *browserLog) printf(format string, args ...any) {
	fmt.Fprintf(&l.Buffer, format+"\n", args...)
}

// consoleLog records what the page writes to its console, in order: calls
// of the console API, uncaught exceptions, and the browser's own entries
// (a fetch answered 4xx is logged as a network error).
type consoleLog struct {
	mu   sync.Mutex
	list []chromedp.ConsoleMessage
}

func (c *consoleLog) add(m chromedp.ConsoleMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, m)
}

func (c *consoleLog) all() []chromedp.ConsoleMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

// checkpointPrefix marks the messages the test writes itself.
const checkpointPrefix = "authkit-test checkpoint "

// newBrowser starts a headless chromium with a fresh profile.
func newBrowser(t *testing.T, path string, logs *browserLog, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "authkit-demo-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(logs.printf), chromedp.WithErrorf(logs.printf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		// Chromium's children may still write in the profile for a moment
		// after the browser stops; retry, bounded.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove %s", profile)
	})
	return ctx
}

// page drives the demo's page in a browser tab at a phone's width.
type page struct {
	t       *testing.T
	ctx     context.Context
	console *consoleLog
}

// openPage starts a browser, records its console from the start, sets a
// 375 px wide viewport and opens url. On failure it logs the browser's and
// the demo's output.
func openPage(t *testing.T, chrome, url string, demo *demotest.Process, extra ...chromedp.ExecAllocatorOption) *page {
	t.Helper()
	logs := &browserLog{}
	p := &page{t: t, ctx: newBrowser(t, chrome, logs, extra...), console: &consoleLog{}}
	t.Cleanup(func() {
		if t.Failed() {
			var lines []string
			for _, m := range p.console.all() {
				lines = append(lines, m.String())
			}
			t.Logf("console:\n%s\nchromedp log:\n%s\ndemo log:\n%s", strings.Join(lines, "\n"), logs.String(), demo.Stderr.String())
		}
	})
	messages := chromedp.Console(p.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.console.add(m)
		}
	}()
	p.do("open the page at "+url,
		chromedp.EmulateViewport(viewportWidth, 812),
		chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("login-form")))
	return p
}

func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval runs a JavaScript statement for its effect.
func (p *page) eval(what, js string) {
	p.t.Helper()
	p.do(what, chromedp.Evaluate[chromedp.Void](js))
}

// waitFor polls a JavaScript predicate, and reports the page's state when
// it does not hold in time.
func (p *page) waitFor(what, predicate string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		state, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`"username field: " + JSON.stringify(document.getElementById("username").value) + "\n" + document.body.innerText`))
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, state)
	}
}

func (p *page) text(id string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.ID(id)))
	if err != nil {
		p.t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

// whoami waits until the who-am-I line is in state and holds want.
func (p *page) whoami(state, want string) {
	p.t.Helper()
	p.waitFor("who am I: "+state, fmt.Sprintf(`document.getElementById("whoami").dataset.state === %q`, state))
	if got := p.text("whoami"); !strings.Contains(got, want) {
		p.t.Fatalf("#whoami = %q, want it to contain %q", got, want)
	}
}

// call clicks a button and waits for its row to show status.
func (p *page) call(button, row, status, message string) {
	p.t.Helper()
	p.eval("reset "+row, fmt.Sprintf(`document.getElementById(%q).textContent = "–"`, row+"-status"))
	p.do("click "+button, chromedp.Click(chromedp.ID(button)))
	p.waitFor(button+" shows "+status, fmt.Sprintf(`document.getElementById(%q).textContent.startsWith(%q)`, row+"-status", status))
	if got := p.text(row); !strings.Contains(got, message) {
		p.t.Fatalf("#%s = %q, want it to contain %q", row, got, message)
	}
}

// login types user and password into the form and submits it.
func (p *page) login(user, password string) {
	p.t.Helper()
	p.do("log in as "+user,
		// chromedp.Clear resets the attribute, not what was typed.
		chromedp.Evaluate[chromedp.Void](`document.getElementById("username").value = ""`),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
	)
}

// resultsCleared checks that the results of the API calls are empty.
func (p *page) resultsCleared(when string) {
	p.t.Helper()
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](
		`["result-me", "result-stats", "result-reports"].map((id) =>
			document.getElementById(id + "-status").textContent + "|" + document.getElementById(id).textContent)`))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, row := range got {
		if row != "–|" {
			p.t.Fatalf("%s: results not cleared: %q", when, got)
		}
	}
}

// fits checks that the page does not scroll sideways at 375 px.
func (p *page) fits(when string) {
	p.t.Helper()
	w, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		p.t.Fatal(err)
	}
	if w > viewportWidth {
		wide, _ := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(
			`[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > %d)
				.map((e) => e.tagName + (e.id ? "#" + e.id : "") + " " + Math.round(e.getBoundingClientRect().right))`, viewportWidth)))
		p.t.Fatalf("%s: the page is %d px wide at a %d px viewport; too wide: %q", when, w, viewportWidth, wide)
	}
}

// checkpoint writes a marker to the console and waits until it is
// recorded: every message the page logged before it has been recorded
// too. It returns the number of messages before the marker.
func (p *page) checkpoint(label string) int {
	p.t.Helper()
	p.eval("checkpoint "+label, fmt.Sprintf(`console.debug(%q)`, checkpointPrefix+label))
	deadline := time.Now().Add(10 * time.Second)
	for {
		for i, m := range p.console.all() {
			if m.Text == checkpointPrefix+label {
				return i
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("checkpoint %q never reached the console", label)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errors returns the error messages recorded in [from, to): exceptions,
// console.error calls, and the browser's error entries (a fetch answered
// 4xx or 5xx among them).
func (p *page) errors(from, to int) []string {
	var out []string
	for _, m := range p.console.all()[from:to] {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			out = append(out, m.String())
		}
	}
	return out
}

// quiet checks that the page logged no error between the checkpoints
// before and now.
func (p *page) quiet(what string, before int) int {
	p.t.Helper()
	now := p.checkpoint(what)
	if errs := p.errors(before, now); len(errs) > 0 {
		p.t.Errorf("%s: the console shows errors:\n%s", what, strings.Join(errs, "\n"))
	}
	return now
}

// TestBrowserPage drives the page in a real headless chromium, 375 px
// wide, against the demo binary on loopback: the anonymous page logs no
// error; log in as bob, see 403 on admin stats and 200 on /api/me, log
// out (the results are cleared), see 401; log in as alice, see 200 on
// admin stats; a login over 8 KiB shows 413, and five wrong passwords for
// bob lock even the right one with 429; "log out everywhere" logs alice
// out; and when her sessions are revoked elsewhere, the page sees it when
// its window regains focus. The page never scrolls sideways. It runs
// twice: with the cookie names of plain HTTP, and with the __Host- names
// of Secure cookies (AUTHKIT_COOKIE_SECURE=1; chromium treats loopback as
// a secure origin), which the page's script must find too.
func TestBrowserPage(t *testing.T) {
	chrome := findChrome(t)
	bin := demotest.Build(t)
	tests := []struct {
		name, cookieSecure, csrfCookie string
	}{
		{"plain cookie names", "", "authkit_csrf="},
		{"__Host- cookie names", "1", "__Host-authkit_csrf="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { browsePage(t, chrome, bin, tt.cookieSecure, tt.csrfCookie) })
	}
}

func browsePage(t *testing.T, chrome, bin, cookieSecure, csrfCookie string) {
	srv := demotest.Start(t, bin, map[string]string{"AUTHKIT_BCRYPT_COST": "4", "AUTHKIT_COOKIE_SECURE": cookieSecure})
	pw := srv.SeededPasswords(t)
	p := openPage(t, chrome, srv.URL+"/", srv)

	// Anonymous: the page knows without asking the API, so the browser
	// logs no 401.
	p.whoami("out", "Not logged in.")
	mark := p.quiet("anonymous page load", 0)
	p.fits("anonymous page")

	p.login("bob", pw["bob"])
	p.whoami("in", "Logged in as bob (roles: user)")
	// The session cookie is HttpOnly: scripts see the CSRF cookie only.
	cookies, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cookies, csrfCookie) || strings.Contains(cookies, ";") || strings.Contains(cookies, "authkit_session") {
		t.Fatalf("document.cookie = %q: want the CSRF cookie %s only", cookies, csrfCookie)
	}
	mark = p.quiet("login", mark)

	p.call("call-stats", "result-stats", "403 Forbidden", "(forbidden)")
	p.call("call-me", "result-me", "200 OK", "You are bob.")
	p.call("call-reports", "result-reports", "403 Forbidden", "(forbidden)")
	p.fits("results shown")

	// After a reload the page knows the CSRF token only from its cookie,
	// which logging out needs. The results stay until the logout.
	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login-form")))
	p.whoami("in", "Logged in as bob")
	p.call("call-me", "result-me", "200 OK", "You are bob.")
	p.do("log out", chromedp.Click(chromedp.ID("logout")))
	p.waitFor("logged out", `document.getElementById("logout-result").textContent.startsWith("204")`)
	p.whoami("out", "Not logged in.")
	p.resultsCleared("after logging out")
	// Logged out, the page asks nothing when its window regains focus.
	mark = p.checkpoint("logged out")
	p.eval("focus", `window.dispatchEvent(new Event("focus"))`)
	p.whoami("out", "Not logged in.")
	mark = p.quiet("focus while logged out", mark)
	p.call("call-me", "result-me", "401 Unauthorized", "(authentication_required)")
	p.call("call-stats", "result-stats", "401 Unauthorized", "(authentication_required)")

	// Log in as alice: admin stats now answer 200. Nothing from before
	// her login is left on the page: neither the anonymous calls' 401s
	// nor the line of bob's logout.
	p.login("alice", pw["alice"])
	p.whoami("in", "Logged in as alice")
	p.resultsCleared("after alice logged in")
	if got := p.text("logout-result"); got != "" {
		t.Fatalf("#logout-result = %q after alice logged in, want it empty", got)
	}
	p.call("call-stats", "result-stats", "200 OK", "Admin stats:")
	p.fits("admin stats shown")

	// tryLogin submits the form with user and password set by script
	// (typing 9000 characters would take long) and waits for its result.
	tryLogin := func(user, password, status, message string) {
		t.Helper()
		p.eval("fill in "+user, fmt.Sprintf(
			`document.getElementById("login-result").textContent = "";
			 document.getElementById("username").value = %q;
			 document.getElementById("password").value = %s;`, user, password))
		p.do("log in as "+user, chromedp.Click(chromedp.ID("login")))
		p.waitFor("login shows "+status, fmt.Sprintf(`document.getElementById("login-result").textContent.startsWith(%q)`, status))
		if got := p.text("login-result"); !regexp.MustCompile(message).MatchString(got) {
			t.Fatalf("#login-result = %q, want it to match %s", got, message)
		}
	}
	tryLogin("bob", `"x".repeat(9000)`, "413 Content Too Large",
		`^413 Content Too Large – Too long – a username and password must fit in 8 KiB \(invalid_request\)$`)
	for range 5 {
		tryLogin("bob", `"wrong-password"`, "401 Unauthorized", `\(invalid_credentials\)$`)
	}
	tryLogin("bob", strconv.Quote(pw["bob"]), "429 Too Many Requests",
		`^429 Too Many Requests – Too many attempts – wait \d+ seconds? \(too_many_attempts\)$`)
	p.fits("429 shown")
	// The failed logins left alice's session alone.
	p.whoami("in", "Logged in as alice")

	// "Log out everywhere" ends the session, clears the results and says
	// so at once.
	p.do("log out everywhere", chromedp.Click(chromedp.ID("logout-all")))
	p.waitFor("logged out everywhere", `document.getElementById("logout-result").textContent === "204 No Content – Logged out everywhere."`)
	p.whoami("out", "Not logged in.")
	p.resultsCleared("after logging out everywhere")

	// A session revoked elsewhere (here: logout-all by a script with
	// alice's Bearer token) shows when the window regains focus.
	p.login("alice", pw["alice"])
	p.whoami("in", "Logged in as alice")
	p.call("call-me", "result-me", "200 OK", "You are alice.")
	logoutEverywhere(t, srv.URL, "alice", pw["alice"])
	p.eval("focus", `window.dispatchEvent(new Event("focus"))`)
	p.whoami("out", "your session has ended")
	p.resultsCleared("after the session ended elsewhere")
	p.fits("end")

	// Nothing may break the page's script: no exception, no violation of
	// the Content-Security-Policy.
	p.do("close the page", chromedp.Navigate("about:blank"))
	for _, m := range p.console.all() {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("console: %s", m)
		}
	}
}

// TestBrowserDroppedCookie opens the page on plain HTTP under a name that
// is not loopback (demo.test, which the browser resolves to 127.0.0.1):
// the demo marks its cookies Secure there, the browser refuses them, and
// the login answers 200 while the next /api/me answers 401. The page must
// say what happened and what to do instead of claiming a login.
func TestBrowserDroppedCookie(t *testing.T) {
	chrome := findChrome(t)
	srv := demotest.Start(t, demotest.Build(t), map[string]string{"AUTHKIT_BCRYPT_COST": "4"})
	pw := srv.SeededPasswords(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	p := openPage(t, chrome, "http://demo.test:"+port+"/", srv,
		chromedp.Flag("host-resolver-rules", "MAP demo.test 127.0.0.1"))

	p.whoami("out", "Not logged in.")
	p.quiet("anonymous page load", 0)
	p.login("bob", pw["bob"])
	p.whoami("dropped", "The login worked, but this browser did not keep the session cookie.")
	for _, want := range []string{"On plain HTTP to demo.test the demo marks its cookies Secure",
		"Open the demo over HTTPS, or at http://localhost:" + port + "/"} {
		if got := p.text("whoami"); !strings.Contains(got, want) {
			t.Errorf("#whoami = %q, want it to contain %q", got, want)
		}
	}
	if got := p.text("login-result"); got != "200 OK – but the browser dropped the session cookie (see above)" {
		t.Errorf("#login-result = %q", got)
	}
	if cookies, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.cookie`)); cookies != "" {
		t.Errorf("document.cookie = %q: the browser kept a Secure cookie from plain HTTP", cookies)
	}
	p.fits("dropped-cookie message shown")
}

// logoutEverywhere logs user in with a JSON login and revokes every one of
// their sessions with the access token, as another device would.
func logoutEverywhere(t *testing.T, base, user, password string) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)
	res, err := client.Post(base+"/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %v", user, res.StatusCode, err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/auth/logout-all", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout-all %s: %d", user, res.StatusCode)
	}
}
