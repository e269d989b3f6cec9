package tokens

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// This file turns a token's bytes into a parsedToken, as golang-jwt's
// parser.go turns them into a jwt.Token: the three segments, the header's
// alg, typ, kid and crit, the claims, the signature bytes. It decides
// nothing about keys, time, issuer or audience; validate.go does, for
// tokens of either parser:
//
//   - parse, the lean parser, which Verify runs on a cache miss: no
//     reflection, the header skipped when it is byte for byte one that the
//     Issuer writes, the claims read into a rawClaims (parse_claims.go)
//     with the JSON scanner of jsonscan.go, and a couple of allocations;
//   - parseWithJWT, golang-jwt's own ParseUnverified, for the claim sets
//     that parse hands over (see rawClaims.parse) and as the reference
//     that the differential test holds parse to.
//
// Both fail as golang-jwt's parser does, in its order, with an error
// wrapping jwt.ErrTokenMalformed, or jwt.ErrTokenUnverifiable when alg is
// not a string or names no algorithm golang-jwt knows; refuseParse turns
// that into the error Verify returns.

// parsedToken is a token taken apart, for the rules of validate.go.
type parsedToken struct {
	header       rawHeader
	signingInput string // the header and claims segments and the dot between them

	// The signature: sigLen bytes in sigBuf, or in sigHeap when it is
	// longer than any of ours (up to a 4096-bit RSA key's) or decoded by
	// golang-jwt. (A slice of sigBuf kept here would move every
	// parsedToken to the heap.)
	sigBuf  [512]byte
	sigLen  int
	sigHeap []byte

	// From parse: the claims still as JSON text, made into a Claims only
	// once the signature has passed; handOver when they name a field twice,
	// and parseWithJWT must parse the token instead.
	claims   rawClaims
	handOver bool

	// From parseWithJWT: the claims as golang-jwt decoded them, and its
	// signing method for the token's alg.
	decoded *claimsBox
	method  jwt.SigningMethod
}

// parse parses token with the lean parser. A token whose header segment is
// the headerSeg of one of keys is not decoded: its header is that key's.
// When the claims name a field twice, parse stops early and sets
// p.handOver; the token must then be parsed with parseWithJWT.
func (p *parsedToken) parse(token string, keys []*verifyKey) error {
	d1 := strings.IndexByte(token, '.')
	d2 := -1
	if d1 >= 0 {
		if d2 = strings.IndexByte(token[d1+1:], '.'); d2 >= 0 {
			d2 += d1 + 1
		}
	}
	if d2 < 0 || strings.IndexByte(token[d2+1:], '.') >= 0 {
		return malformed("token contains an invalid number of segments")
	}
	headerSeg, claimSeg, sigSeg := token[:d1], token[d1+1:d2], token[d2+1:]
	p.signingInput = token[:d2]

	if k := knownHeader(keys, headerSeg); k != nil {
		p.header = k.header
	} else {
		text, ok := decodeText(headerSeg)
		if !ok {
			return malformed("could not base64 decode header")
		}
		if !p.header.parse(text) {
			return malformed("could not JSON decode header")
		}
	}

	text, ok := decodeText(claimSeg)
	if !ok {
		return malformed("could not base64 decode claim")
	}
	switch p.claims.parse(text) {
	case parseMalformed:
		return malformed("could not JSON decode claim")
	case parseDuplicate:
		p.handOver = true
		return nil
	}

	if !p.header.algIsString {
		return fmt.Errorf("%w: signing method (alg) is unspecified", jwt.ErrTokenUnverifiable)
	}
	if !knownAlg(keys, p.header.alg) && jwt.GetSigningMethod(p.header.alg) == nil {
		return fmt.Errorf("%w: signing method (alg) is unavailable", jwt.ErrTokenUnverifiable)
	}
	if n := len(sigSeg) * 3 / 4; n > len(p.sigBuf) {
		p.sigHeap = make([]byte, n) // never a signature of ours; decoded for the verdict
		p.sigLen, ok = decodeSegment(p.sigHeap, sigSeg)
		p.sigHeap = p.sigHeap[:p.sigLen]
	} else {
		p.sigLen, ok = decodeSegment(p.sigBuf[:], sigSeg)
	}
	if !ok {
		return malformed("could not base64 decode signature")
	}
	return nil
}

// signature returns the signature bytes.
func (p *parsedToken) signature() []byte {
	if p.sigHeap != nil {
		return p.sigHeap
	}
	return p.sigBuf[:p.sigLen]
}

func malformed(msg string) error {
	return fmt.Errorf("%w: %s", jwt.ErrTokenMalformed, msg)
}

// knownHeader returns the key whose Issuer writes exactly the header
// segment seg, or nil.
func knownHeader(keys []*verifyKey, seg string) *verifyKey {
	for _, k := range keys {
		if seg == k.headerSeg {
			return k
		}
	}
	return nil
}

// knownAlg reports whether alg is the algorithm of one of keys, and so one
// that golang-jwt knows, without asking it.
func knownAlg(keys []*verifyKey, alg string) bool {
	for _, k := range keys {
		if k.alg == alg {
			return true
		}
	}
	return false
}

// jwtParser is golang-jwt's parser as parseWithJWT uses it: only for
// ParseUnverified, so no option but the decoding matters.
var jwtParser = jwt.NewParser(jwt.WithStrictDecoding())

// parseWithJWT parses token with golang-jwt (p must be zero): its header
// map is read into p.header as parse reads the header text, its claims are
// decoded into a Claims by encoding/json, and decoded again into a
// map[string]json.RawMessage for the application claims (Claims.Extra):
// the members that are neither a field of Claims nor reserved.
func (p *parsedToken) parseWithJWT(token string) error {
	p.decoded = new(claimsBox)
	t, parts, err := jwtParser.ParseUnverified(token, &p.decoded.c)
	if err != nil {
		return err
	}
	if p.decoded.c.Extra, err = decodeExtra(parts[1]); err != nil {
		return err
	}
	if t == nil || t.Method == nil {
		// Unreachable with golang-jwt v5; fail closed all the same.
		return fmt.Errorf("%w: golang-jwt returned no signing method", jwt.ErrTokenUnverifiable)
	}
	h := &p.header
	h.alg, h.algIsString = t.Header["alg"].(string)
	h.typ, h.typIsString = t.Header["typ"].(string)
	h.kid, h.kidIsString = t.Header["kid"].(string)
	_, h.crit = t.Header["crit"]
	p.method, p.sigHeap, p.sigLen = t.Method, t.Signature, len(t.Signature)
	p.signingInput = token[:strings.LastIndexByte(token, '.')]
	return nil
}

// decodeExtra decodes the claims segment seg, which golang-jwt has just
// decoded into a Claims, into the application claims: nil when there are
// none.
func decodeExtra(seg string) (map[string]json.RawMessage, error) {
	text, err := jwtParser.DecodeSegment(seg)
	if err != nil {
		return nil, malformed("could not base64 decode claim") // unreachable: golang-jwt decoded it
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(text, &all); err != nil {
		return nil, malformed("could not JSON decode claim") // unreachable, as above
	}
	for name := range all {
		if isReserved(name) { // every field of Claims is reserved
			delete(all, name)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}

// claimsBox returns the token's claims, in a box of their own. For parse
// that is the one allocation after the signature has passed.
func (p *parsedToken) claimsBox() *claimsBox {
	if p.decoded != nil {
		return p.decoded
	}
	return p.claims.build()
}

// errOversized is the refusal of a token longer than MaxTokenSize, which
// is never parsed.
func errOversized(token string) error {
	return fmt.Errorf("%w: %w: token is %d bytes, limit is %d",
		ErrInvalidToken, ErrMalformed, len(token), MaxTokenSize)
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

// rawHeader is what the parsers read from a header. golang-jwt decodes
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
