package tokens_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gin-authkit/authkit/internal/testclock"
	"github.com/gin-authkit/authkit/tokens"
	"github.com/golang-jwt/jwt/v5"
)

// TestCacheHitIsACopy checks that a caller changing the claims it got
// changes nothing for the next caller of the same token.
func TestCacheHitIsACopy(t *testing.T) {
	k := newTestKeys(t)
	v := mustVerifier(t, k.all())
	tok, _, err := mustIssuer(t, k.hs).IssueAuthn("user-1", "sess-1", []string{"admin", "user"},
		tokens.Authn{AMR: []string{"pwd", "mfa"}, Time: testNow.Add(-time.Minute), ACR: tokens.ACRMultiFactor})
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
		if got == first || &got.Roles[0] == &first.Roles[0] || &got.AMR[0] == &first.AMR[0] ||
			got.ExpiresAt == first.ExpiresAt || got.AuthTime == first.AuthTime {
			t.Fatalf("hit %d shares memory with an earlier result", i)
		}
		// Change everything a caller can reach.
		got.Subject, got.SessionID = "mallory", "x"
		got.Roles[0], got.Audience[0] = "root", "other"
		got.Roles = append(got.Roles, "root")
		got.AMR[0], got.ACR = "hwk", "other"
		got.AMR = append(got.AMR, "otp")
		got.AuthTime.Time = got.AuthTime.Add(time.Hour)
		got.Audience = append(got.Audience, "more")
		got.ExpiresAt.Time = got.ExpiresAt.AddDate(1, 0, 0)
		got.IssuedAt.Time = time.Time{}
	}
	first.Roles[1], first.AMR[1] = "root", "x"
	if got, _ := v.Verify(tok); dumpClaims(got) != want {
		t.Errorf("after changes by callers: claims %s, want %s", dumpClaims(got), want)
	}
	if n := v.CachedTokens(); n != 1 {
		t.Errorf("CachedTokens = %d, want 1", n)
	}
}

// TestCacheTimes checks that every hit checks exp, nbf and iat against the
// clock, with the leeway, so the cache never changes a verdict.
func TestCacheTimes(t *testing.T) {
	k := newTestKeys(t)
	clock := testclock.New(testNow)
	v := mustVerifier(t, k.all(), tokens.WithClock(clock.Now))
	valid := claimsAt(testNow)
	tok := forge(t, jwt.SigningMethodHS256, k.hmacSecret, map[string]any{"kid": "hs-1"},
		with(valid, "nbf", testNow.Add(time.Minute).Unix()))
	steps := []struct {
		name   string
		at     time.Time
		want   error
		cached int
	}{
		{name: "before nbf", at: testNow, want: tokens.ErrClaims},
		{name: "at nbf minus leeway", at: testNow.Add(time.Minute - tokens.DefaultLeeway), cached: 1},
		{name: "again, a hit", at: testNow.Add(2 * time.Minute), cached: 1},
		{name: "clock back before nbf", at: testNow.Add(30 * time.Second), want: tokens.ErrClaims},
		{name: "valid again", at: testNow.Add(time.Minute), cached: 1},
		{name: "just before exp plus leeway", at: testNow.Add(15*time.Minute + tokens.DefaultLeeway - time.Nanosecond), cached: 1},
		{name: "at exp plus leeway", at: testNow.Add(15*time.Minute + tokens.DefaultLeeway), want: tokens.ErrExpired},
		{name: "expired, again", at: testNow.Add(time.Hour), want: tokens.ErrExpired},
		{name: "clock back", at: testNow.Add(5 * time.Minute), cached: 1},
	}
	for _, s := range steps {
		clock.Set(s.at)
		claims, err := v.Verify(tok)
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: Verify error %v, want %v", s.name, err, s.want)
		}
		if s.want == tokens.ErrExpired && (claims == nil || claims.SessionID != "sess-1") {
			t.Fatalf("%s: expired token gave claims %+v", s.name, claims)
		}
		if n := v.CachedTokens(); n != s.cached {
			t.Fatalf("%s: CachedTokens = %d, want %d", s.name, n, s.cached)
		}
		ref, refErr := v.VerifyReference(tok)
		if verdict(err) != verdict(refErr) || !slices.Equal(claimsRoles(claims), claimsRoles(ref)) {
			t.Fatalf("%s: Verify gave %v, golang-jwt %v", s.name, err, refErr)
		}
	}
}

func claimsRoles(c *tokens.Claims) []string {
	if c == nil {
		return nil
	}
	return c.Roles
}

// TestCacheFailuresNotCached checks that only tokens that pass are kept.
func TestCacheFailuresNotCached(t *testing.T) {
	k := newTestKeys(t)
	v := mustVerifier(t, k.all())
	hs := func(claims map[string]any) string {
		return forge(t, jwt.SigningMethodHS256, k.hmacSecret, map[string]any{"kid": "hs-1"}, claims)
	}
	valid := claimsAt(testNow)
	expired := with(valid, "iat", testNow.Add(-time.Hour).Unix(), "nbf", nil, "exp", testNow.Add(-45*time.Minute).Unix())
	bad := []string{
		"", "a.b.c", flipLastChar(mustIssue(t, mustIssuer(t, k.hs)), 4), hs(expired), hs(with(valid, "aud", "other")),
		hs(with(valid, "exp", testNow.Add(time.Hour).Unix())), hs(with(valid, "sub", nil)),
		hs(with(valid, "SUB", "a", "sub", "")), // a duplicate: golang-jwt decides
	}
	for range 2 {
		for _, tok := range bad {
			if _, err := v.Verify(tok); err == nil {
				t.Fatalf("Verify accepted %q", tok)
			}
		}
	}
	if n := v.CachedTokens(); n != 0 {
		t.Errorf("CachedTokens = %d after failures only, want 0", n)
	}
}

// TestCacheSize checks the bound and that 0 or less turns the cache off.
func TestCacheSize(t *testing.T) {
	k := newTestKeys(t)
	iss := mustIssuer(t, k.hs)
	toks := make([]string, 100)
	for i := range toks {
		toks[i] = mustIssue(t, iss)
	}
	for _, tc := range []struct {
		size, want int
	}{
		{size: 0, want: 0}, {size: -1, want: 0}, {size: 1, want: 1}, {size: 3, want: 3},
		{size: 17, want: 17}, {size: 50, want: 50}, {size: 1000, want: 100},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			v := mustVerifier(t, k.all(), tokens.WithCacheSize(tc.size))
			for range 2 {
				for _, tok := range toks {
					if _, err := v.Verify(tok); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Sharding may leave some shards below their share.
			if n := v.CachedTokens(); n > tc.want || tc.want > 0 && n == 0 {
				t.Errorf("CachedTokens = %d, want at most %d and some", n, tc.want)
			}
		})
	}
}

// TestCacheConcurrent verifies the same few tokens from many goroutines,
// for the race detector, while the clock moves back and forth across their
// expiry.
func TestCacheConcurrent(t *testing.T) {
	k := newTestKeys(t)
	clock := testclock.New(testNow)
	v := mustVerifier(t, k.all(), tokens.WithClock(clock.Now), tokens.WithCacheSize(2))
	var toks []string
	for _, key := range k.all() {
		toks = append(toks, mustIssue(t, mustIssuer(t, key)))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				claims, err := v.Verify(toks[(g+i)%len(toks)])
				switch {
				case (err == nil || errors.Is(err, tokens.ErrExpired)) && slices.Equal(claims.Roles, []string{"admin"}):
					claims.Roles[0] = "mutated"
				default:
					t.Errorf("Verify: %+v, %v", claims, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 2000 {
			clock.Set(testNow.Add(time.Duration(i%40) * time.Minute / 2))
		}
	})
	wg.Wait()
}
