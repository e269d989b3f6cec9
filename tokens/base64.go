package tokens

// b64Invalid marks a byte outside the base64url alphabet in b64Decode;
// b64Skip marks '\r' and '\n', which encoding/base64 skips.
const (
	b64Invalid = 0xff
	b64Skip    = 0xfe
)

// b64Decode maps a byte to its 6-bit base64url value.
var b64Decode = func() (t [256]byte) {
	for i := range t {
		t[i] = b64Invalid
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = byte(i)
	}
	t['\r'], t['\n'] = b64Skip, b64Skip
	return t
}()

// decodeSegment decodes src as golang-jwt does under WithStrictDecoding, that
// is as base64.RawURLEncoding.Strict().DecodeString: no padding, unused bits
// of the last character zero, and '\r' and '\n' skipped wherever they are
// (encoding/base64 ignores them; the signature then covers them, so a token
// carrying them needs a signature made over them). dst must hold at least
// len(src)*3/4 bytes. It returns the number of bytes written, or false.
func decodeSegment(dst []byte, src string) (int, bool) {
	n, i := 0, 0
	// Whole quanta of four characters, the common case.
	for ; len(src)-i >= 4; i += 4 {
		a, b, c, d := b64Decode[src[i]], b64Decode[src[i+1]], b64Decode[src[i+2]], b64Decode[src[i+3]]
		if a|b|c|d >= 0x40 {
			break // a newline or an invalid byte: take the careful loop
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	var acc uint32
	k := 0 // characters in acc
	for ; i < len(src); i++ {
		d := b64Decode[src[i]]
		switch d {
		case b64Skip:
			continue
		case b64Invalid:
			return 0, false
		}
		acc = acc<<6 | uint32(d)
		if k++; k == 4 {
			dst[n], dst[n+1], dst[n+2] = byte(acc>>16), byte(acc>>8), byte(acc)
			n += 3
			acc, k = 0, 0
		}
	}
	switch k {
	case 1:
		return 0, false
	case 2: // 12 bits: one byte and four unused bits
		if acc&0xf != 0 {
			return 0, false
		}
		dst[n] = byte(acc >> 4)
		n++
	case 3: // 18 bits: two bytes and two unused bits
		if acc&0x3 != 0 {
			return 0, false
		}
		dst[n], dst[n+1] = byte(acc>>10), byte(acc>>2)
		n += 2
	}
	return n, true
}
