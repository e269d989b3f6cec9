package ginauth

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-authkit/authkit/store"
)

func testTokenAuth() *Auth {
	return &Auth{refreshMACs: newMACPool([]byte("0123456789abcdef0123456789abcdef"))}
}

// buildRefreshTokenV2 writes a token in the rt2 format, as the kit did
// before refresh tokens carried the authentication context.
func (a *Auth) buildRefreshTokenV2(username string, sid store.Digest, seq uint64, secret []byte) string {
	var tag [tagLen]byte
	a.refreshTagV2(&tag, username, sid, seq)
	return refreshPrefixV2 + b64.EncodeToString([]byte(username)) + "." + b64.EncodeToString(sid[:]) + "." +
		strconv.FormatUint(seq, 10) + "." + b64.EncodeToString(secret) + "." + b64.EncodeToString(tag[:])
}

func TestRefreshTokenCarriesAuthContext(t *testing.T) {
	a := testTokenAuth()
	sid := store.HashSecret([]byte("session"))
	pwd := authContext{methods: amrPwd, at: 1767322800}
	first, err := a.firstRefreshToken("alice", sid, pwd)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.parseRefreshToken(first.raw)
	if err != nil || got.auth != pwd || got.seq != 0 || got.username != "alice" || got.digest() != first.digest() {
		t.Fatalf("parse(%q) = %+v, %v", first.raw, got, err)
	}

	// A step-up successor and a plain one are the same link of the chain:
	// one digest, one secret, two contexts.
	mfa := authContext{methods: amrPwd | amrOTP | amrMFA, at: pwd.at + 60}
	plain, raised := a.nextRefreshToken(got, got.auth), a.nextRefreshToken(got, mfa)
	if plain.digest() != raised.digest() || plain.raw == raised.raw {
		t.Fatalf("successors differ in digest or not at all:\n%s\n%s", plain.raw, raised.raw)
	}
	for _, tok := range []refreshToken{plain, raised} {
		p, err := a.parseRefreshToken(tok.raw)
		if err != nil || p.auth != tok.auth || p.seq != 1 {
			t.Fatalf("parse(%q) = %+v, %v", tok.raw, p, err)
		}
		// Their successors are the same link again.
		if a.nextRefreshToken(p, pwd).digest() != a.nextRefreshToken(plain, pwd).digest() {
			t.Fatal("successors of the two variants differ")
		}
	}
	if !slices.Equal(mfa.methods.names(), []string{"pwd", "otp", "mfa"}) || !mfa.time().Equal(mfa.time()) {
		t.Fatalf("names = %v", mfa.methods.names())
	}
}

func TestRefreshTokenAuthCannotBeRaised(t *testing.T) {
	a := testTokenAuth()
	sid := store.HashSecret([]byte("session"))
	tok, err := a.firstRefreshToken("alice", sid, authContext{methods: amrPwd, at: 100})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.raw, ".")
	for _, auth := range []string{"19-100", "1-200", "01-100", "1-0100", "1--1", "64-100", "1", "-", "256-1", "1-100-1"} {
		forged := strings.Join(append(append([]string{}, parts[:5]...), auth, parts[6]), ".")
		if _, err := a.parseRefreshToken(forged); !errors.Is(err, errBadFormat) {
			t.Errorf("auth %q: err = %v, want errBadFormat", auth, err)
		}
	}
}

func TestRefreshTokenV2StillRead(t *testing.T) {
	a := testTokenAuth()
	sid := store.HashSecret([]byte("session"))
	secret := make([]byte, secretLen)
	raw := a.buildRefreshTokenV2("bob", sid, 7, secret)
	old, err := a.parseRefreshToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The store keeps the digest of the whole rt2 token, as before.
	if old.digest() != store.HashSecret([]byte(raw)) || old.auth != (authContext{methods: amrPwd}) || old.seq != 7 {
		t.Fatalf("parsed rt2 = %+v", old)
	}
	// Its successor is what the rt2 code derived: the HMAC of the whole
	// token, now in the rt3 format.
	m := a.refreshMACs.get()
	m.writeString("authkit refresh next v2\x00")
	m.writeString(raw)
	want := append([]byte(nil), m.final()[:secretLen]...)
	a.refreshMACs.put(m)
	next := a.nextRefreshToken(old, old.auth)
	if next.raw != a.buildRefreshToken("bob", sid, 8, want, old.auth).raw || !strings.HasPrefix(next.raw, refreshPrefix) {
		t.Fatalf("successor of rt2 = %q", next.raw)
	}
	// A tampered rt2 tag is refused.
	if _, err := a.parseRefreshToken(raw[:len(raw)-2] + "AA"); !errors.Is(err, errBadFormat) {
		t.Fatalf("tampered rt2: %v", err)
	}
}
