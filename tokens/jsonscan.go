package tokens

import (
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// This file holds the JSON scanning of the lean parser (parse.go). It
// reads only what a token's header and claims need, but accepts and refuses
// exactly what encoding/json (v1, which golang-jwt uses) accepts and refuses
// for them: the same grammar and whitespace, the same string unescaping
// (invalid UTF-8 and lone surrogates become U+FFFD), the same case-folded
// matching of struct field names, the same number conversions. Each function
// names the encoding/json behaviour it mirrors; the differential test and
// FuzzVerifyDifferential hold the two to the same verdicts.
//
// Every function takes the whole text s and an offset i into it, and
// returns the offset just past what it read; ok is false on a syntax error.

// skipSpace skips JSON whitespace: space, tab, newline and carriage return.
func skipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString reads the string literal starting with the quote at s[i].
// plain reports that its contents s[i+1:end-1] are printable ASCII without
// escapes, and so are the string's value as they stand.
func scanString(s string, i int) (end int, plain, ok bool) {
	plain = true
	for i++; i < len(s); {
		if plainByte[s[i]] {
			i++
			continue
		}
		switch c := s[i]; {
		case c == '"':
			return i + 1, plain, true
		case c == '\\':
			plain = false
			if i+1 >= len(s) {
				return 0, false, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return 0, false, false
				}
				i += 6
			default:
				return 0, false, false
			}
		case c < ' ':
			return 0, false, false
		case c >= utf8.RuneSelf:
			plain = false // valid or not, UTF-8 is checked by unquote
			i++
		default:
			i++
		}
	}
	return 0, false, false
}

// plainByte marks the bytes that stand for themselves in a string literal:
// printable ASCII other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// stringValue returns the value of the string literal s[start:end], already
// checked by scanString.
func stringValue(s string, start, end int, plain bool) string {
	if plain {
		return s[start+1 : end-1]
	}
	return unquote(s[start+1 : end-1])
}

// unquote returns the value of the contents of a string literal checked by
// scanString, as encoding/json's unquoteBytes does: escapes are decoded, a
// \u escape of a lone surrogate and every byte of invalid UTF-8 become
// U+FFFD. It copies only when something changes.
func unquote(s string) string {
	r := 0
	for r < len(s) {
		c := s[r]
		if c == '\\' {
			break
		}
		if c < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRuneInString(s[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	if r == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)
	b = append(b, s[:r]...)
	for r < len(s) {
		switch c := s[r]; {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r+1:])
				r += 5
				if utf16.IsSurrogate(rr) {
					if len(s)-r >= 6 && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, getu4(s[r+2:])); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRuneInString(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return string(b)
}

// getu4 decodes the four hex digits at the start of s, or returns -1.
func getu4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// scanNumber reads the number starting at s[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(s string, i int) (end int, ok bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i+1)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// isNumber reports whether all of s is one JSON number, as encoding/json's
// isValidNumber does for a string decoded into a json.Number.
func isNumber(s string) bool {
	end, ok := scanNumber(s, 0)
	return ok && end == len(s)
}

// scanLiteral reads the literal lit (true, false or null) at s[i].
func scanLiteral(s string, i int, lit string) (end int, ok bool) {
	if len(s)-i < len(lit) || s[i:i+len(lit)] != lit {
		return 0, false
	}
	return i + len(lit), true
}

// scanKey reads an object member's name and the colon after it, from s[i]
// on; it returns the offset of the member's value.
func scanKey(s string, i int) (key string, next int, ok bool) {
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	end, plain, ok := scanString(s, i)
	if !ok {
		return "", 0, false
	}
	key = stringValue(s, i, end, plain)
	i = skipSpace(s, end)
	if i >= len(s) || s[i] != ':' {
		return "", 0, false
	}
	return key, skipSpace(s, i+1), true
}

// skipValue reads any JSON value at s[i], however deeply nested (without
// recursion). With numbers set, every number in it must also convert to a
// float64, as it must when encoding/json decodes into an interface (the
// token header is decoded into a map[string]any); otherwise, as for a
// struct member that has no field, only the syntax counts.
func skipValue(s string, i int, numbers bool) (end int, ok bool) {
	var open [64]byte // stack of '{' and '['; grows on the heap past 64
	stack := open[:0]
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch c := s[i]; c {
		case '{', '[':
			j := skipSpace(s, i+1)
			if j < len(s) && s[j] == c+2 { // '}' and ']' follow '{' and '[' by two
				i, ok = j+1, true
				break // empty: the value is complete
			}
			stack = append(stack, c)
			i = j
			if c == '{' {
				if _, i, ok = scanKey(s, i); !ok {
					return 0, false
				}
			}
			continue // read the first member or element
		case '"':
			if i, _, ok = scanString(s, i); !ok {
				return 0, false
			}
		case 't':
			i, ok = scanLiteral(s, i, "true")
		case 'f':
			i, ok = scanLiteral(s, i, "false")
		case 'n':
			i, ok = scanLiteral(s, i, "null")
		default:
			start := i
			if i, ok = scanNumber(s, i); ok && numbers {
				_, err := strconv.ParseFloat(s[start:i], 64)
				ok = err == nil
			}
		}
		if !ok {
			return 0, false
		}
		// A value ended at i: close containers until one takes more.
	closing:
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return 0, false
			}
			top := stack[len(stack)-1]
			switch s[i] {
			case ',':
				i++
				if top == '{' {
					if _, i, ok = scanKey(s, i); !ok {
						return 0, false
					}
				}
				break closing
			case top + 2:
				i++
				stack = stack[:len(stack)-1]
			default:
				return 0, false
			}
		}
	}
}

// foldEqual reports whether key names the struct field name (lower-case
// ASCII) under encoding/json's case-insensitive matching: key and name are
// equal after foldName, which maps ASCII letters to upper case and every
// other rune to the smallest rune of its simple case-folding orbit (so
// "ſub", with a long s, names "sub", and "\u212Aid", with a Kelvin sign, would
// name "kid").
func foldEqual(key, name string) bool {
	j := 0
	for i := 0; i < len(key); j++ {
		var f rune
		if c := key[i]; c < utf8.RuneSelf {
			f = rune(upper(c))
			i++
		} else {
			r, n := utf8.DecodeRuneInString(key[i:])
			f = foldRune(r)
			i += n
		}
		if j >= len(name) || f != rune(upper(name[j])) {
			return false
		}
	}
	return j == len(name)
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// foldRune returns the smallest rune of r's simple case-folding orbit, as
// encoding/json's foldRune does.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// numericDate converts the JSON number num to a time as jwt.NumericDate's
// UnmarshalJSON does: through a float64 (a number out of its range is
// refused) split into whole seconds and nanoseconds, truncated to
// jwt.TimePrecision. Plain integers below 10^15 are exact in a float64 and
// take a shortcut to the same result.
func numericDate(num string) (time.Time, bool) {
	if len(num) <= 15 {
		n := int64(0)
		for i := 0; i < len(num); i++ {
			c := num[i]
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int64(c-'0')
		}
		if n >= 0 && len(num) > 0 {
			return time.Unix(n, 0).Truncate(jwt.TimePrecision), true
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return time.Time{}, false
	}
	round, frac := math.Modf(f)
	return time.Unix(int64(round), int64(frac*1e9)).Truncate(jwt.TimePrecision), true
}
