package tokens

import (
	"encoding/json"
	"time"
)

// This file reads a token's claims JSON text into a rawClaims, the lean
// parser's half of what golang-jwt's json.Unmarshal into a Claims does (see
// parse.go); jsonscan.go provides the scanning. Nothing here judges a
// claim: the rules are in validate.go.

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
	fieldAMR
	fieldAuthTime
	fieldACR
	fieldClientID
	fieldNone
)

// claimNames are the JSON names of the fields, indexed as above.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "roles", "amr", "auth_time", "acr", "client_id"}

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
	case "amr":
		return fieldAMR
	case "auth_time":
		return fieldAuthTime
	case "acr":
		return fieldACR
	case "client_id":
		return fieldClientID
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

// rawClaims is a claim set as the lean parser reads it: the values of the
// Claims fields, with Audience, Roles and AMR still as JSON text, so that
// nothing is allocated before the signature has been checked.
type rawClaims struct {
	iss, sub, jti, sid, acr string
	clientID                string
	aud                     string // a string or an array of nAud (> 0) strings; "" for none
	roles                   string // an array of nRoles strings and nulls; "" when absent
	amr                     string // as roles, with nAMR
	nAud, nRoles, nAMR      int
	hasRoles, hasAMR        bool
	exp, nbf, iat, authTime time.Time
	hasExp                  bool
	hasNbf                  bool
	hasIat                  bool
	hasAuthTime             bool
	seen                    uint16 // fields met so far
	// text is the claims JSON text when it has an application claim (a
	// member that is neither a field nor reserved), which build reads.
	text string
}

// parse reads the claims JSON text s as encoding/json decodes it into a
// Claims: members are matched to fields case-insensitively; unknown members
// need only be valid JSON; null leaves a string field empty and a pointer or
// slice nil; a value of the wrong type fails. A field named twice is not
// read: encoding/json then decodes into the field as the first member left
// it (for Roles, an element given as null keeps the earlier array's element
// at that index), and rather than copy that, parse reports parseDuplicate
// and the token is parsed by golang-jwt instead (parsedToken.handOver).
// Tokens of ours never name a field twice. Application claims (members
// that are neither a field nor reserved) are only noted here, and read by
// build; a name given twice takes the last value, as encoding/json does
// when it decodes into a map.
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
		} else if c.text == "" && !isReserved(key) {
			c.text = s
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
		// null: a string stays "", a time, Audience, Roles and AMR stay nil.
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
	case fieldACR:
		return readString(s, i, &c.acr)
	case fieldClientID:
		return readString(s, i, &c.clientID)
	case fieldExp:
		return readDate(s, i, &c.exp, &c.hasExp)
	case fieldNbf:
		return readDate(s, i, &c.nbf, &c.hasNbf)
	case fieldIat:
		return readDate(s, i, &c.iat, &c.hasIat)
	case fieldAuthTime:
		return readDate(s, i, &c.authTime, &c.hasAuthTime)
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
	case fieldAMR:
		// []string, as Roles.
		end, n, ok := scanStrings(s, i, true)
		if ok {
			c.amr, c.nAMR, c.hasAMR = s[i:end], n, true
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
	b.c.Issuer, b.c.Subject, b.c.ID, b.c.SessionID, b.c.ACR = c.iss, c.sub, c.jti, c.sid, c.acr
	b.c.ClientID = c.clientID
	if c.hasExp {
		b.exp.Time, b.c.ExpiresAt = c.exp, &b.exp
	}
	if c.hasNbf {
		b.nbf.Time, b.c.NotBefore = c.nbf, &b.nbf
	}
	if c.hasIat {
		b.iat.Time, b.c.IssuedAt = c.iat, &b.iat
	}
	if c.hasAuthTime {
		b.authTime.Time, b.c.AuthTime = c.authTime, &b.authTime
	}
	na, nr := c.nAud, c.nAud+c.nRoles
	n := nr + c.nAMR
	strs := b.strings(n)
	if c.nAud > 0 {
		fillStrings(strs[:na], c.aud)
		b.c.Audience = strs[:na:na]
	}
	if c.hasRoles {
		fillStrings(strs[na:nr], c.roles)
		b.c.Roles = strs[na:nr:nr]
	}
	if c.hasAMR {
		fillStrings(strs[nr:n], c.amr)
		b.c.AMR = strs[nr:n:n]
	}
	if c.text != "" {
		b.c.Extra = extraClaims(c.text)
	}
	return b
}

// extraClaims returns the application claims of the claims object s,
// which parse has checked: each member that is neither a field of Claims
// nor reserved, by its name, with its value's JSON text (from the first
// byte of the value to its last, as encoding/json gives a
// json.RawMessage); for a name given twice, the last. The values share
// one copy of s.
func extraClaims(s string) map[string]json.RawMessage {
	var (
		extra map[string]json.RawMessage
		buf   []byte
	)
	i := skipSpace(s, 0) + 1 // past '{'
	for {
		key, j, ok := scanKey(s, i)
		if !ok {
			return extra // unreachable: parse read s
		}
		end, ok := skipValue(s, j, false)
		if !ok {
			return extra // unreachable, as above
		}
		if claimField(key) == fieldNone && !isReserved(key) {
			if extra == nil {
				extra, buf = make(map[string]json.RawMessage, 2), []byte(s)
			}
			extra[key] = buf[j:end:end]
		}
		if i = skipSpace(s, end); s[i] == '}' {
			return extra
		}
		i++ // past ','
	}
}
