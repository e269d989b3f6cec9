package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"hash"
	"math/big"
	"sync"
)

// keyKind is the algorithm family of a verifyKey.
type keyKind int

const (
	kindHMAC keyKind = iota + 1
	kindEd25519
	kindECDSA
	kindRSA    // RS256
	kindRSAPSS // PS256
)

// pssVerify are the PSS options of PS256 verification: any salt length,
// as golang-jwt's SigningMethodPS256 verifies.
var pssVerify = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}

// verifyKey is a Key prepared for verification.
type verifyKey struct {
	key  *Key
	alg  string
	kind keyKind
	// headerSeg is the header segment that an Issuer writes for the key,
	// and header what it says: a token carrying exactly that segment needs
	// no header decoding.
	headerSeg string
	header    rawHeader
	macs      *sync.Pool // of *macState, for HS256
	ed        ed25519.PublicKey
	ec        *ecdsa.PublicKey
	rsa       *rsa.PublicKey
}

func newVerifyKey(k *Key) (*verifyKey, error) {
	seg, err := k.headerSegment()
	if err != nil {
		return nil, err
	}
	vk := &verifyKey{key: k, alg: k.Algorithm(), headerSeg: seg, header: rawHeader{
		alg: k.Algorithm(), typ: accessTokenType, kid: k.id,
		algIsString: true, typIsString: true, kidIsString: true,
	}}
	switch m := k.material.verify.(type) {
	case []byte:
		vk.kind = kindHMAC
		vk.macs = &sync.Pool{New: func() any { return &macState{mac: hmac.New(sha256.New, m)} }}
	case ed25519.PublicKey:
		vk.kind, vk.ed = kindEd25519, m
	case *ecdsa.PublicKey:
		vk.kind, vk.ec = kindECDSA, m
	case *rsa.PublicKey:
		vk.kind, vk.rsa = kindRSA, m
		if vk.alg == "PS256" {
			vk.kind = kindRSAPSS
		}
	default:
		return nil, fmt.Errorf("%w: key %q has unsupported material", ErrConfig, k.id)
	}
	return vk, nil
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
	case kindRSA, kindRSAPSS:
		buf := messages.Get().(*[]byte)
		*buf = append((*buf)[:0], input...)
		digest := sha256.Sum256(*buf)
		messages.Put(buf)
		if k.kind == kindRSA {
			return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) == nil
		}
		return rsa.VerifyPSS(k.rsa, crypto.SHA256, digest[:], sig, pssVerify) == nil
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

// messages holds buffers for the signing input of EdDSA, ES256 and RSA, whose
// verification functions take a []byte.
var messages = sync.Pool{New: func() any { return new([]byte) }}
