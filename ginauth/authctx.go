package ginauth

import (
	"github.com/gin-authkit/authkit/tokens"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// authContext is how and when a session's user authenticated: the amr
// (RFC 8176) and auth_time of the session's access tokens. The refresh
// token and the session cookie carry it under their tag, so a refresh
// keeps it without reading anything more from the store, and nobody but
// the server can raise it.
type authContext struct {
	methods amrSet
	at      int64 // Unix seconds; 0 when unknown (a token issued before rt3)
}

// amrSet is a set of amr values, one bit each, in amrNames' order.
type amrSet uint8

// The amr values the kit records (RFC 8176 §2).
const (
	amrPwd  amrSet = 1 << iota // a password
	amrOTP                     // a one-time password (TOTP, or a recovery code)
	amrHwk                     // a proof of possession of a hardware key (a passkey)
	amrSwk                     // a proof of possession of a software key
	amrMFA                     // more than one factor
	amrUser                    // a user-presence test
)

var amrNames = [...]string{"pwd", "otp", "hwk", "swk", "mfa", "user"}

// names returns the set's values in amrNames' order; nil for the empty set.
func (s amrSet) names() []string {
	if s == 0 {
		return nil
	}
	out := make([]string, 0, bits.OnesCount8(uint8(s)))
	for i, n := range amrNames {
		if s&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// has reports whether every value of t is in s.
func (s amrSet) has(t amrSet) bool { return s&t == t }

// authn is what the access tokens of the context say: amr, auth_time,
// and acr when a second factor was used (see authnOf).
func (c authContext) authn() tokens.Authn {
	amr := passwordAMR // shared, the common case
	if c.methods != amrPwd {
		amr = c.methods.names()
	}
	return authnOf(amr, c.time())
}

// time returns auth_time, the zero time when unknown.
func (c authContext) time() time.Time {
	if c.at == 0 {
		return time.Time{}
	}
	return time.Unix(c.at, 0)
}

// appendTo appends the context's text form: the set in decimal, "-", and
// the time in decimal Unix seconds.
func (c authContext) appendTo(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(c.methods), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, c.at, 10)
}

// parseAuthContext reads what appendTo wrote, in canonical form only.
func parseAuthContext(s string) (authContext, bool) {
	m, t, ok := strings.Cut(s, "-")
	mv, err1 := strconv.ParseUint(m, 10, 8)
	tv, err2 := strconv.ParseInt(t, 10, 64)
	c := authContext{methods: amrSet(mv), at: tv}
	var buf [32]byte // the longest form, 3+1+19 bytes, compared on the stack
	if !ok || err1 != nil || err2 != nil || tv < 0 || string(c.appendTo(buf[:0])) != s ||
		mv >= 1<<len(amrNames) {
		return authContext{}, false
	}
	return c, true
}

// writeTo feeds the context to a tag.
func (c authContext) writeTo(m *macState) {
	var buf [32]byte
	m.write(c.appendTo(buf[:0]))
}
