package tokens_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

// TestIssueGrantExtra checks that application claims go into the token as
// top-level members and come back from Verify, with and without the cache,
// and from the reference path, as their JSON text.
func TestIssueGrantExtra(t *testing.T) {
	k := newTestKeys(t)
	g := tokens.Grant{
		Subject: "alice", SessionID: "sess-1", Roles: []string{"user"},
		Authn: tokens.Authn{AMR: []string{tokens.AMRPassword}, Time: testNow},
		Extra: map[string]any{
			"tenant": "acme", "email": "alice@example.com", "org": map[string]any{"id": 7},
			"quota": 2.5, "raw": json.RawMessage(` [ 1, 2 ] `), "html": "<b>&</b>",
		},
	}
	want := map[string]string{
		"tenant": `"acme"`, "email": `"alice@example.com"`, "org": `{"id":7}`,
		"quota": "2.5", "raw": "[1,2]", "html": `"\u003cb\u003e\u0026\u003c/b\u003e"`,
	}
	for _, key := range k.all() {
		t.Run(key.Algorithm(), func(t *testing.T) {
			tok, issued, err := mustIssuer(t, key).IssueGrant(g)
			if err != nil {
				t.Fatal(err)
			}
			payload := decodePayload(t, tok)
			if payload["tenant"] != "acme" || payload["sid"] != "sess-1" || payload["client_id"] != nil {
				t.Errorf("payload %v", payload)
			}
			lean := mustVerifier(t, k.all(), tokens.WithCacheSize(0))
			cached := mustVerifier(t, k.all())
			for name, verify := range map[string]func(string) (*tokens.Claims, error){
				"issued": func(string) (*tokens.Claims, error) { return issued, nil },
				"lean":   lean.Verify, "cached": cached.Verify, "cached again": cached.Verify,
				"reference": lean.VerifyReference,
			} {
				c, err := verify(tok)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(c.Extra) != len(want) {
					t.Errorf("%s: Extra %v, want %v", name, c.Extra, want)
				}
				for n, v := range want {
					if string(c.Extra[n]) != v {
						t.Errorf("%s: Extra[%q] = %s, want %s", name, n, c.Extra[n], v)
					}
				}
				var email string
				if err := json.Unmarshal(c.Extra["email"], &email); err != nil || email != "alice@example.com" {
					t.Errorf("%s: email %q, %v", name, email, err)
				}
			}
		})
	}
}

// TestIssueGrantRefused checks the grants that IssueGrant refuses: every
// reserved name in several cases, bad names and values, and missing
// subject or session.
func TestIssueGrantRefused(t *testing.T) {
	k := newTestKeys(t)
	iss := mustIssuer(t, k.ed)
	type test struct {
		name    string
		g       tokens.Grant
		mention string // in the error
	}
	ok := func(extra map[string]any) tokens.Grant {
		return tokens.Grant{Subject: "u", SessionID: "s", Extra: extra}
	}
	tests := []test{
		{name: "empty subject", g: tokens.Grant{SessionID: "s"}, mention: "subject"},
		{name: "no session, no client", g: tokens.Grant{Subject: "u"}, mention: "session"},
		{name: "empty name", g: ok(map[string]any{"": 1}), mention: "empty name"},
		{name: "invalid UTF-8 name", g: ok(map[string]any{"a\xff": 1}), mention: "UTF-8"},
		{name: "channel", g: ok(map[string]any{"c": make(chan int)}), mention: `"c"`},
		{name: "NaN", g: ok(map[string]any{"n": math.NaN()}), mention: `"n"`},
		{name: "invalid raw JSON", g: ok(map[string]any{"r": json.RawMessage(`{`)}), mention: `"r"`},
		{name: "too long", g: ok(map[string]any{"pad": strings.Repeat("x", tokens.MaxTokenSize)}), mention: "bytes"},
		{name: "one bad among good", g: ok(map[string]any{"tenant": "acme", "exp": 1}), mention: `"exp"`},
	}
	for _, name := range tokens.ReservedClaims {
		tests = append(tests,
			test{name: "reserved " + name, g: ok(map[string]any{name: "x"}), mention: name},
			test{name: "reserved " + strings.ToUpper(name), g: ok(map[string]any{strings.ToUpper(name): "x"}), mention: strings.ToUpper(name)})
	}
	// encoding/json would decode "ſub" (with a long s) into sub.
	tests = append(tests, test{name: "reserved, long s", g: ok(map[string]any{"ſub": "x"}), mention: "ſub"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, claims, err := iss.IssueGrant(tc.g)
			if !errors.Is(err, tokens.ErrClaims) || errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("IssueGrant: error %v, want ErrClaims only", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			if tok != "" || claims != nil {
				t.Errorf("a token along with error %v", err)
			}
		})
	}
}

// TestClientToken checks a client's token: client_id and no sid, accepted
// by the Verifier; with neither, refused.
func TestClientToken(t *testing.T) {
	k := newTestKeys(t)
	tok, issued, err := mustIssuer(t, k.hs).IssueGrant(tokens.Grant{Subject: "svc-1", ClientID: "svc-1", Roles: []string{"reports"}})
	if err != nil {
		t.Fatal(err)
	}
	payload := decodePayload(t, tok)
	if _, has := payload["sid"]; has || payload["client_id"] != "svc-1" {
		t.Errorf("payload %v, want client_id and no sid", payload)
	}
	c, err := mustVerifier(t, k.all()).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "svc-1" || c.SessionID != "" || c.Extra != nil || issued.ClientID != "svc-1" {
		t.Errorf("claims %s", dumpClaims(c))
	}
	neither := forge(t, jwt.SigningMethodHS256, k.hmacSecret, map[string]any{"kid": "hs-1"}, with(decodePayload(t, tok), "client_id", nil))
	if _, err := mustVerifier(t, k.all()).Verify(neither); !errors.Is(err, tokens.ErrClaims) {
		t.Errorf("a token without sid and client_id: %v, want ErrClaims", err)
	}
}

// TestCacheHitCopiesExtra checks that no caller can change the application
// claims another caller of the same token sees.
func TestCacheHitCopiesExtra(t *testing.T) {
	k := newTestKeys(t)
	v := mustVerifier(t, k.all())
	tok, _, err := mustIssuer(t, k.hs).IssueGrant(tokens.Grant{Subject: "u", SessionID: "s",
		Extra: map[string]any{"tenant": "acme", "list": []int{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := dumpClaims(first)
	for i := range 3 {
		got, err := v.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if d := dumpClaims(got); d != want {
			t.Fatalf("hit %d: claims %s, want %s", i, d, want)
		}
		got.Extra["tenant"][1] = 'X'
		got.Extra["list"] = append(got.Extra["list"][:1], "9]"...)
		got.Extra["new"] = json.RawMessage("1")
		delete(got.Extra, "tenant")
	}
	first.Extra["tenant"][1] = 'Y'
	if got, _ := v.Verify(tok); dumpClaims(got) != want {
		t.Errorf("after changes by callers: claims %s, want %s", dumpClaims(got), want)
	}
}

// TestNoExtraAllocates checks that a token without application claims
// costs what it did before they existed: two allocations on a miss, one
// on a hit.
func TestNoExtraAllocates(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	k := newTestKeys(t)
	tok := mustIssue(t, mustIssuer(t, k.hs))
	for _, tc := range []struct {
		name string
		v    *tokens.Verifier
		want float64
	}{
		{name: "miss", v: mustVerifier(t, k.all(), tokens.WithCacheSize(0)), want: 2},
		{name: "hit", v: mustVerifier(t, k.all()), want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.v.Verify(tok)
			n := testing.AllocsPerRun(100, func() {
				if c, err := tc.v.Verify(tok); err != nil || c.Extra != nil {
					t.Fatalf("Verify: %v, Extra %v", err, c.Extra)
				}
			})
			if n != tc.want {
				t.Errorf("%v allocations, want %v", n, tc.want)
			}
		})
	}
}
