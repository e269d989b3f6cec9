// Package plainjson writes the JSON strings that encoding/json writes as
// they are, for the encoders that build a hot response or token by
// appending and must match encoding/json byte for byte: anything else
// is left to encoding/json.
package plainjson

// Is reports whether encoding/json writes s between its quotes as it is:
// printable ASCII but for the quote and backslash, which it escapes, and
// <, > and &, which it escapes for HTML.
func Is(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			return false
		}
	}
	return true
}

// All reports whether every string of list is one Is accepts.
func All(list []string) bool {
	for _, s := range list {
		if !Is(s) {
			return false
		}
	}
	return true
}

// plain is Is's test of one byte, as a table: tokens are hundreds of
// bytes.
var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendString appends s in quotes; Is(s) must hold.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendStrings appends list as a JSON array; All(list) must hold.
func AppendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}
