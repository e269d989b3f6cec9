package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The lean verifier: what Verify runs on a cache miss. It reaches the same
// verdict as golang-jwt with the options of verifyReference, in the same
// order of checks, without reflection and in a couple of allocations:
//
//  1. the compact form: three segments;
//  2. the header: skipped when it is byte for byte the header the Issuer
//     writes for one of the keys, otherwise decoded and read;
//  3. the claims, read into a rawClaims (a claim set that names a claim
//     twice goes to golang-jwt instead, see rawClaims.parse);
//  4. alg must be a string that golang-jwt knows, before the signature is
//     decoded, then one of the keys' algorithms;
//  5. the header rules and the key named by kid (checkHeaderRules, pickKey);
//  6. the signature, over the token's own bytes with a pooled HMAC state;
//  7. the claim rules of golang-jwt's Validator and Claims.Validate, then
//     the lifetime (checkClaims).
//
// Errors wrap the same golang-jwt sentinels as the reference's do.
//
// verifyLean returns the claims with a nil error, or with an error wrapping
// ErrExpired when expiry is the token's only fault; or nil claims and the
// error; or delegate, when golang-jwt must decide (verifyReference).
func (v *Verifier) verifyLean(token string, now time.Time) (box *claimsBox, delegate bool, err error) {
	d1 := strings.IndexByte(token, '.')
	d2 := -1
	if d1 >= 0 {
		if d2 = strings.IndexByte(token[d1+1:], '.'); d2 >= 0 {
			d2 += d1 + 1
		}
	}
	if d2 < 0 || strings.IndexByte(token[d2+1:], '.') >= 0 {
		return nil, false, malformed("token contains an invalid number of segments")
	}
	headerSeg, claimSeg, sigSeg := token[:d1], token[d1+1:d2], token[d2+1:]

	var h rawHeader
	if k := v.keyByHeader(headerSeg); k != nil {
		h = k.header
	} else {
		text, ok := decodeText(headerSeg)
		if !ok {
			return nil, false, malformed("could not base64 decode header")
		}
		if !h.parse(text) {
			return nil, false, malformed("could not JSON decode header")
		}
	}

	text, ok := decodeText(claimSeg)
	if !ok {
		return nil, false, malformed("could not base64 decode claim")
	}
	var rc rawClaims
	switch rc.parse(text) {
	case parseMalformed:
		return nil, false, malformed("could not JSON decode claim")
	case parseDuplicate:
		return nil, true, nil
	}

	if !h.algIsString {
		return nil, false, unverifiable(errors.New("signing method (alg) is unspecified"))
	}
	allowed := v.allowsAlg(h.alg)
	if !allowed && jwt.GetSigningMethod(h.alg) == nil {
		return nil, false, unverifiable(errors.New("signing method (alg) is unavailable"))
	}
	var sigBuf [96]byte
	sig := sigBuf[:]
	if n := len(sigSeg) * 3 / 4; n > len(sigBuf) {
		sig = make([]byte, n) // never a signature of ours; decoded for the verdict
	}
	n, ok := decodeSegment(sig, sigSeg)
	if !ok {
		return nil, false, malformed("could not base64 decode signature")
	}
	sig = sig[:n]
	if !allowed {
		return nil, false, fmt.Errorf("%w: %w: %w: signing method %v is invalid",
			ErrInvalidToken, ErrSignature, jwt.ErrTokenSignatureInvalid, truncate(h.alg, 64))
	}
	if err := checkHeaderRules(h.crit, h.typ, h.typIsString); err != nil {
		return nil, false, unverifiable(err)
	}
	k, err := v.pickKey(h.kid, h.kidIsString, h.alg)
	if err != nil {
		return nil, false, unverifiable(err)
	}
	if !k.verify(token[:d2], sig) {
		return nil, false, fmt.Errorf("%w: %w: %w: signature does not match",
			ErrInvalidToken, ErrSignature, jwt.ErrTokenSignatureInvalid)
	}

	box = rc.build()
	if err := v.checkClaims(&box.c, now); err != nil {
		if errors.Is(err, ErrExpired) {
			return box, false, err
		}
		return nil, false, err
	}
	return box, false, nil
}

func malformed(msg string) error {
	return fmt.Errorf("%w: %w: %w: %s", ErrInvalidToken, ErrMalformed, jwt.ErrTokenMalformed, msg)
}

// unverifiable wraps a refusal that golang-jwt reports as
// jwt.ErrTokenUnverifiable: an unusable alg, or an error of the key
// function.
func unverifiable(err error) error {
	return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrSignature, jwt.ErrTokenUnverifiable, err)
}

// decodeText decodes a header or claims segment into a string: the one
// allocation of the claims, whose strings are then slices of it.
func decodeText(seg string) (string, bool) {
	var buf [768]byte
	dst := buf[:]
	if n := len(seg) * 3 / 4; n > len(buf) {
		dst = make([]byte, n)
	}
	n, ok := decodeSegment(dst, seg)
	if !ok {
		return "", false
	}
	return string(dst[:n]), true
}

// rawHeader is what the verifier reads from a header. golang-jwt decodes
// the header into a map[string]any, so members other than these are only
// checked to be valid JSON (whose numbers fit a float64), and a repeated
// member takes the last value.
type rawHeader struct {
	alg, typ, kid                         string
	algIsString, typIsString, kidIsString bool // the member is present and a string
	crit                                  bool // a crit member is present, whatever its value
}

// parse reads the header JSON text; false means golang-jwt would fail to
// decode it.
func (h *rawHeader) parse(s string) bool {
	i := skipSpace(s, 0)
	if end, ok := scanLiteral(s, i, "null"); ok {
		// null decodes to a nil map: no member at all.
		return skipSpace(s, end) == len(s)
	}
	if i >= len(s) || s[i] != '{' {
		return false
	}
	if j := skipSpace(s, i+1); j < len(s) && s[j] == '}' {
		return skipSpace(s, j+1) == len(s)
	}
	for i++; ; {
		key, j, ok := scanKey(s, i)
		if !ok {
			return false
		}
		switch key {
		case "alg":
			j, ok = headerString(s, j, &h.alg, &h.algIsString)
		case "typ":
			j, ok = headerString(s, j, &h.typ, &h.typIsString)
		case "kid":
			j, ok = headerString(s, j, &h.kid, &h.kidIsString)
		case "crit":
			h.crit = true
			j, ok = skipValue(s, j, true)
		default:
			j, ok = skipValue(s, j, true)
		}
		if !ok {
			return false
		}
		switch i = skipSpace(s, j); {
		case i < len(s) && s[i] == ',':
			i++
		case i < len(s) && s[i] == '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// headerString reads a header member's value at s[i] into *val and
// *isString, overwriting what an earlier member of that name set.
func headerString(s string, i int, val *string, isString *bool) (int, bool) {
	if i < len(s) && s[i] == '"' {
		end, plain, ok := scanString(s, i)
		if ok {
			*val, *isString = stringValue(s, i, end, plain), true
		}
		return end, ok
	}
	*val, *isString = "", false
	return skipValue(s, i, true)
}

// Fields of Claims, in the order of rawClaims.seen's bits.
const (
	fieldIss = iota
	fieldSub
	fieldAud
	fieldExp
	fieldNbf
	fieldIat
	fieldJti
	fieldSid
	fieldRoles
	fieldNone
)

// claimNames are the JSON names of the fields, indexed as above.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles"}

// claimField returns the field that encoding/json decodes the member key
// into: an exact match, or else a case-insensitive one (see foldEqual).
func claimField(key string) int {
	switch key {
	case "iss":
		return fieldIss
	case "sub":
		return fieldSub
	case "aud":
		return fieldAud
	case "exp":
		return fieldExp
	case "nbf":
		return fieldNbf
	case "iat":
		return fieldIat
	case "jti":
		return fieldJti
	case "sid":
		return fieldSid
	case "roles":
		return fieldRoles
	}
	for f, name := range claimNames {
		if foldEqual(key, name) {
			return f
		}
	}
	return fieldNone
}

type parseResult int

const (
	parseOK parseResult = iota
	parseMalformed
	parseDuplicate
)

// rawClaims is a claim set as the lean verifier reads it: the values of the
// Claims fields, with Audience and Roles still as JSON text, so that nothing
// is allocated before the signature has been checked.
type rawClaims struct {
	iss, sub, jti, sid string
	aud                string // a string or an array of nAud (> 0) strings; "" for none
	roles              string // an array of nRoles strings and nulls; "" when absent
	nAud, nRoles       int
	hasRoles           bool
	exp, nbf, iat      time.Time
	hasExp             bool
	hasNbf             bool
	hasIat             bool
	seen               uint16 // fields met so far
}

// parse reads the claims JSON text s as encoding/json decodes it into a
// Claims: members are matched to fields case-insensitively; unknown members
// need only be valid JSON; null leaves a string field empty and a pointer or
// slice nil; a value of the wrong type fails. A field named twice is not
// read: encoding/json then decodes into the field as the first member left
// it (for Roles, an element given as null keeps the earlier array's element
// at that index), and rather than copy that, parse reports parseDuplicate
// and Verify lets golang-jwt decide. Tokens of ours never name a field
// twice.
func (c *rawClaims) parse(s string) parseResult {
	i := skipSpace(s, 0)
	if end, ok := scanLiteral(s, i, "null"); ok {
		// golang-jwt then validates an empty Claims.
		if skipSpace(s, end) == len(s) {
			return parseOK
		}
		return parseMalformed
	}
	if i >= len(s) || s[i] != '{' {
		return parseMalformed
	}
	if j := skipSpace(s, i+1); j < len(s) && s[j] == '}' {
		return c.end(s, j+1)
	}
	for i++; ; {
		key, j, ok := scanKey(s, i)
		if !ok {
			return parseMalformed
		}
		f := claimField(key)
		if f != fieldNone {
			if c.seen&(1<<f) != 0 {
				return parseDuplicate
			}
			c.seen |= 1 << f
		}
		if j, ok = c.readField(f, s, j); !ok {
			return parseMalformed
		}
		switch i = skipSpace(s, j); {
		case i < len(s) && s[i] == ',':
			i++
		case i < len(s) && s[i] == '}':
			return c.end(s, i+1)
		default:
			return parseMalformed
		}
	}
}

// end checks that only whitespace follows the object.
func (c *rawClaims) end(s string, i int) parseResult {
	if skipSpace(s, i) != len(s) {
		return parseMalformed
	}
	return parseOK
}

// readField reads the value at s[i] into field f.
func (c *rawClaims) readField(f int, s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	if s[i] == 'n' {
		// null: a string stays "", a time, Audience and Roles stay nil.
		return scanLiteral(s, i, "null")
	}
	switch f {
	case fieldIss:
		return readString(s, i, &c.iss)
	case fieldSub:
		return readString(s, i, &c.sub)
	case fieldJti:
		return readString(s, i, &c.jti)
	case fieldSid:
		return readString(s, i, &c.sid)
	case fieldExp:
		return readDate(s, i, &c.exp, &c.hasExp)
	case fieldNbf:
		return readDate(s, i, &c.nbf, &c.hasNbf)
	case fieldIat:
		return readDate(s, i, &c.iat, &c.hasIat)
	case fieldAud:
		// jwt.ClaimStrings: a string, or an array of strings only; an
		// empty array leaves it nil.
		if s[i] == '"' {
			end, _, ok := scanString(s, i)
			if ok {
				c.aud, c.nAud = s[i:end], 1
			}
			return end, ok
		}
		end, n, ok := scanStrings(s, i, false)
		if ok && n > 0 {
			c.aud, c.nAud = s[i:end], n
		}
		return end, ok
	case fieldRoles:
		// []string: an array of strings, where null leaves an element "".
		end, n, ok := scanStrings(s, i, true)
		if ok {
			c.roles, c.nRoles, c.hasRoles = s[i:end], n, true
		}
		return end, ok
	default:
		return skipValue(s, i, false)
	}
}

// readString reads a string value; another type fails.
func readString(s string, i int, dst *string) (int, bool) {
	if s[i] != '"' {
		return 0, false
	}
	end, plain, ok := scanString(s, i)
	if ok {
		*dst = stringValue(s, i, end, plain)
	}
	return end, ok
}

// readDate reads a jwt.NumericDate, which json.Number decodes from a number
// or from a string that holds exactly one.
func readDate(s string, i int, dst *time.Time, has *bool) (int, bool) {
	var num string
	end, ok := 0, false
	if s[i] == '"' {
		var plain bool
		if end, plain, ok = scanString(s, i); ok {
			num = stringValue(s, i, end, plain)
			ok = isNumber(num)
		}
	} else if end, ok = scanNumber(s, i); ok {
		num = s[i:end]
	}
	if !ok {
		return 0, false
	}
	*dst, ok = numericDate(num)
	*has = ok
	return end, ok
}

// scanStrings reads an array at s[i] whose elements are all strings (or
// null, with nulls set), and counts them.
func scanStrings(s string, i int, nulls bool) (end, n int, ok bool) {
	if s[i] != '[' {
		return 0, 0, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, 0, true
	}
	for {
		switch {
		case i < len(s) && s[i] == '"':
			i, _, ok = scanString(s, i)
		case nulls && i < len(s) && s[i] == 'n':
			i, ok = scanLiteral(s, i, "null")
		default:
			ok = false
		}
		if !ok {
			return 0, 0, false
		}
		n++
		switch i = skipSpace(s, i); {
		case i < len(s) && s[i] == ',':
			i = skipSpace(s, i+1)
		case i < len(s) && s[i] == ']':
			return i + 1, n, true
		default:
			return 0, 0, false
		}
	}
}

// fillStrings stores the values of the strings (or nulls) in text, a
// string or an array checked by scanStrings, in dst.
func fillStrings(dst []string, text string) {
	if text[0] == '"' {
		end, plain, _ := scanString(text, 0)
		dst[0] = stringValue(text, 0, end, plain)
		return
	}
	k := 0
	for i := 1; k < len(dst); i++ {
		i = skipSpace(text, i)
		if text[i] == 'n' {
			dst[k] = ""
			i += len("null")
		} else {
			end, plain, _ := scanString(text, i)
			dst[k] = stringValue(text, i, end, plain)
			i = end
		}
		k++
		i = skipSpace(text, i) // now at ',' or ']'
	}
}

// build returns the claims in one box.
func (c *rawClaims) build() *claimsBox {
	b := new(claimsBox)
	b.c.Issuer, b.c.Subject, b.c.ID, b.c.SessionID = c.iss, c.sub, c.jti, c.sid
	if c.hasExp {
		b.exp.Time, b.c.ExpiresAt = c.exp, &b.exp
	}
	if c.hasNbf {
		b.nbf.Time, b.c.NotBefore = c.nbf, &b.nbf
	}
	if c.hasIat {
		b.iat.Time, b.c.IssuedAt = c.iat, &b.iat
	}
	n := c.nAud + c.nRoles
	var strs []string
	if n <= len(b.inline) {
		strs = b.inline[:n:n]
	} else {
		strs = make([]string, n)
	}
	if c.nAud > 0 {
		fillStrings(strs[:c.nAud], c.aud)
		b.c.Audience = strs[:c.nAud:c.nAud]
	}
	if c.hasRoles {
		fillStrings(strs[c.nAud:], c.roles)
		b.c.Roles = strs[c.nAud:n:n]
	}
	return b
}

// checkClaims applies the claim rules of golang-jwt's Validator with the
// options of NewVerifier (in its order: exp, nbf, iat, aud, iss), then
// Claims.Validate, at now; then the expiry rule of Verify and the lifetime.
// It must agree with verifyReference; the differential test sees to that.
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	var errs []error
	expired := false
	switch {
	case c.ExpiresAt == nil:
		errs = append(errs, fmt.Errorf("%w: exp claim is required", jwt.ErrTokenRequiredClaimMissing))
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		errs, expired = append(errs, jwt.ErrTokenExpired), true
	}
	if c.NotBefore != nil && now.Before(c.NotBefore.Add(-v.leeway)) {
		errs = append(errs, jwt.ErrTokenNotValidYet)
	}
	if c.IssuedAt != nil && now.Before(c.IssuedAt.Add(-v.leeway)) {
		errs = append(errs, jwt.ErrTokenUsedBeforeIssued)
	}
	switch aud := c.Audience; {
	case len(aud) == 0 || len(aud) == 1 && aud[0] == "":
		errs = append(errs, fmt.Errorf("%w: aud claim is required", jwt.ErrTokenRequiredClaimMissing))
	case !containsString(aud, v.audience):
		errs = append(errs, jwt.ErrTokenInvalidAudience)
	}
	switch {
	case c.Issuer == "":
		errs = append(errs, fmt.Errorf("%w: iss claim is required", jwt.ErrTokenRequiredClaimMissing))
	case c.Issuer != v.issuer:
		errs = append(errs, jwt.ErrTokenInvalidIssuer)
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case len(errs) == 0:
		if err := v.checkLifetime(c); err != nil {
			return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, err)
		}
		return nil
	case !expired:
		return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, claimErrors(errs))
	}
	if before := v.validBeforeExpiry(c); before != nil {
		return fmt.Errorf("%w: %w: %w: %w; also expired", ErrInvalidToken, ErrClaims, jwt.ErrTokenInvalidClaims, before)
	}
	return fmt.Errorf("%w: %w: %w: %w", ErrInvalidToken, ErrExpired, jwt.ErrTokenInvalidClaims, claimErrors(errs))
}

// claimErrors are the faults checkClaims found, joined on one line as
// golang-jwt joins them.
type claimErrors []error

func (e claimErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, ", ")
}

func (e claimErrors) Unwrap() []error { return e }

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// verify checks sig over the signing input, as golang-jwt's SigningMethod
// for the key's algorithm does.
func (k *verifyKey) verify(input string, sig []byte) bool {
	switch k.kind {
	case kindHMAC:
		m := k.macs.Get().(*macState)
		defer k.macs.Put(m)
		m.mac.Reset()
		for rest := input; len(rest) > 0; {
			n := copy(m.chunk[:], rest)
			m.mac.Write(m.chunk[:n])
			rest = rest[n:]
		}
		return hmac.Equal(sig, m.mac.Sum(m.sum[:0]))
	case kindEd25519:
		buf := messages.Get().(*[]byte)
		defer messages.Put(buf)
		*buf = append((*buf)[:0], input...)
		return ed25519.Verify(k.ed, *buf, sig)
	case kindECDSA:
		if len(sig) != 64 {
			return false
		}
		buf := messages.Get().(*[]byte)
		*buf = append((*buf)[:0], input...)
		digest := sha256.Sum256(*buf)
		messages.Put(buf)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, digest[:], r, s)
	}
	return false
}

// macState is a reusable HMAC-SHA256 state for one key, with buffers that
// keep the signing input and the sum off the heap.
type macState struct {
	mac   hash.Hash
	chunk [512]byte
	sum   [sha256.Size]byte
}

// messages holds buffers for the signing input of EdDSA and ES256, whose
// verification functions take a []byte.
var messages = sync.Pool{New: func() any { return new([]byte) }}
