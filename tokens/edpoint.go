package tokens

import (
	"errors"
	"math/big"
	"slices"
)

// Ed25519 public keys are points of the twisted Edwards curve
// -x² + y² = 1 + d·x²·y² over GF(p), p = 2²⁵⁵ - 19 (RFC 8032 section 5.1).
// crypto/ed25519 checks a public key only when it verifies, and reports a
// bad one as a failed signature; checkEd25519Point lets the key
// constructors refuse it up front instead. Public keys are public, so this
// arithmetic need not run in constant time.
var (
	edP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	// edD is -121665/121666 mod p.
	edD = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), edP)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, edP)
	}()
)

// checkEd25519Point refuses a 32-byte public key that is not the canonical
// encoding of a curve point (RFC 8032 section 5.1.3), or whose point has a
// small order (1, 2, 4 or 8). A small-order key is no key at all: with the
// identity point, for one, anybody can make a signature that verifies.
func checkEd25519Point(pub []byte) error {
	le := slices.Clone(pub)
	sign := le[31] >> 7
	le[31] &= 0x7f
	slices.Reverse(le)
	y := new(big.Int).SetBytes(le)
	if y.Cmp(edP) >= 0 {
		return errors.New("Ed25519 public key is not canonically encoded")
	}
	// x² = (y² - 1) / (d·y² + 1); the denominator is never 0, as d is not
	// a square.
	y2 := edMul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Add(edMul(edD, y2), big.NewInt(1))
	x := new(big.Int).ModSqrt(edMul(u.Mod(u, edP), v.ModInverse(v, edP)), edP)
	if x == nil || x.Sign() == 0 && sign == 1 {
		return errors.New("Ed25519 public key is not a point on the curve")
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(edP, x)
	}
	// The order divides 8 exactly when three doublings reach the identity
	// (0, 1).
	for range 3 {
		x, y = edDouble(x, y)
	}
	if x.Sign() == 0 && y.Cmp(big.NewInt(1)) == 0 {
		return errors.New("Ed25519 public key is a point of small order")
	}
	return nil
}

// edDouble returns 2·(x, y) with the affine addition law, which is complete
// on this curve: x' = 2xy / (1 + d·x²·y²), y' = (y² + x²) / (1 - d·x²·y²).
func edDouble(x, y *big.Int) (*big.Int, *big.Int) {
	x2, y2 := edMul(x, x), edMul(y, y)
	dxy := edMul(edD, edMul(x2, y2))
	num := edMul(big.NewInt(2), edMul(x, y))
	den := new(big.Int).Add(dxy, big.NewInt(1))
	nx := edMul(num, den.ModInverse(den, edP))
	num = new(big.Int).Add(y2, x2)
	den = new(big.Int).Sub(big.NewInt(1), dxy)
	ny := edMul(num, den.ModInverse(den.Mod(den, edP), edP))
	return nx, ny
}

// edMul returns a·b mod p as a new value.
func edMul(a, b *big.Int) *big.Int {
	r := new(big.Int).Mul(a, b)
	return r.Mod(r, edP)
}
