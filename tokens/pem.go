package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxKeyFileSize is the largest file [LoadKeyFile] reads, in bytes. A PEM
// key of a supported type is a few hundred bytes; the cap turns a wrong
// path, such as a log file or a device, into a quick error.
const MaxKeyFileSize = 64 << 10

// LoadKeyPEM returns the key encoded in data, a single PEM block, with the
// identifier id:
//
//   - "PRIVATE KEY" (PKCS #8) holding an Ed25519, ECDSA P-256 or RSA key
//     gives a signing key, as [NewEd25519Key], [NewECDSAKey] or
//     [NewRSAKey] would;
//   - "EC PRIVATE KEY" (SEC 1) holding a P-256 key, or "RSA PRIVATE KEY"
//     (PKCS #1), gives a signing key;
//   - "PUBLIC KEY" (PKIX) holding an Ed25519, P-256 or RSA key, or "RSA
//     PUBLIC KEY" (PKCS #1), gives a verify-only key, as
//     [NewEd25519PublicKey], [NewECDSAPublicKey] or [NewRSAPublicKey]
//     would, which a [Verifier] accepts and [NewIssuer] refuses.
//
// RSA keys give RS256 keys, the algorithm every verifier accepts; for
// PS256, parse the block with crypto/x509 and call [NewRSAPSSKey]. They
// must have at least [MinRSAKeySize] bits: a smaller one is refused with
// an error wrapping [ErrWeakKey] too.
//
// These are what "openssl genpkey -algorithm ed25519", "openssl ecparam
// -name prime256v1 -genkey", "openssl genpkey -algorithm rsa -pkeyopt
// rsa_keygen_bits:3072" and "openssl pkey -pubout" write. Anything else
// is refused with an error wrapping [ErrConfig]: other curves, encrypted
// keys (decrypt them first; the key then belongs in a secret store rather
// than on disk with its password), certificates, text before or after the
// block, and several blocks. HMAC secrets are not PEM: use [NewHMACKey].
//
// Errors describe the block, never its content.
func LoadKeyPEM(id string, data []byte) (*Key, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	block, err := singleBlock(data)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: %w", ErrConfig, id, err)
	}
	k, err := keyFromBlock(id, block)
	if err != nil && !errors.Is(err, ErrConfig) {
		err = fmt.Errorf("%w: key %q: %w", ErrConfig, id, err)
	}
	return k, err
}

// LoadKeyFile reads the PEM file at path and returns its key, as
// [LoadKeyPEM] does. Errors wrap [ErrConfig] and name the path, never the
// content; a file that cannot be read also wraps the error of [os.Open],
// such as [io/fs.ErrNotExist] or [io/fs.ErrPermission].
func LoadKeyFile(id, path string) (*Key, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: key file: %w", ErrConfig, err)
	}
	k, err := LoadKeyPEM(id, data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, err // an *fs.PathError, which names the path
	}
	if len(data) > MaxKeyFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a key", path, MaxKeyFileSize)
	}
	return data, nil
}

// singleBlock returns the one PEM block that data holds, with nothing but
// white space around it.
func singleBlock(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return nil, errors.New("no PEM block found")
	case bytes.Count(data, []byte("-----BEGIN")) > 1:
		return nil, errors.New("more than one PEM block; give one key per file")
	case !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")):
		return nil, errors.New("text before the PEM block")
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errors.New("text after the PEM block")
	}
	if block.Headers["Proc-Type"] != "" || block.Headers["DEK-Info"] != "" {
		return nil, errors.New("the PEM block is encrypted; decrypt it first")
	}
	if len(block.Headers) > 0 {
		return nil, errors.New("the PEM block has headers, which key blocks do not")
	}
	return block, nil
}

// keyFromBlock makes the key of a PEM block. x509's errors name the format
// that failed to parse, not the bytes.
func keyFromBlock(id string, block *pem.Block) (*Key, error) {
	switch block.Type {
	case "PRIVATE KEY":
		priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS #8 private key: %w", err)
		}
		switch priv := priv.(type) {
		case ed25519.PrivateKey:
			return NewEd25519Key(id, priv)
		case *ecdsa.PrivateKey:
			if err := checkCurve(priv.Curve); err != nil {
				return nil, err
			}
			return NewECDSAKey(id, priv)
		case *rsa.PrivateKey:
			return NewRSAKey(id, priv)
		default:
			return nil, unsupportedKey(priv)
		}
	case "EC PRIVATE KEY":
		priv, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("SEC 1 EC private key: %w", err)
		}
		if err := checkCurve(priv.Curve); err != nil {
			return nil, err
		}
		return NewECDSAKey(id, priv)
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKIX public key: %w", err)
		}
		switch pub := pub.(type) {
		case ed25519.PublicKey:
			return NewEd25519PublicKey(id, pub)
		case *ecdsa.PublicKey:
			if err := checkCurve(pub.Curve); err != nil {
				return nil, err
			}
			return NewECDSAPublicKey(id, pub)
		case *rsa.PublicKey:
			return NewRSAPublicKey(id, pub)
		default:
			return nil, unsupportedKey(pub)
		}
	case "RSA PRIVATE KEY":
		priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS #1 RSA private key: %w", err)
		}
		return NewRSAKey(id, priv)
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS #1 RSA public key: %w", err)
		}
		return NewRSAPublicKey(id, pub)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the PKCS #8 key is encrypted; decrypt it first")
	default:
		return nil, fmt.Errorf(`PEM block of type %q; want "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "PUBLIC KEY" or "RSA PUBLIC KEY"`, truncate(block.Type, 64))
	}
}

// checkCurve refuses an ECDSA key on a curve other than P-256, naming the
// curve.
func checkCurve(c elliptic.Curve) error {
	if c == elliptic.P256() {
		return nil
	}
	name := "an unknown curve"
	if c != nil && c.Params() != nil {
		name = c.Params().Name
	}
	return fmt.Errorf("ECDSA key on %s; only P-256 (ES256) is supported", name)
}

// unsupportedKey describes a parsed key of a type authkit does not sign
// with, by its type alone.
func unsupportedKey(key any) error {
	return fmt.Errorf("%T keys are not supported; use Ed25519, ECDSA P-256 or RSA", key)
}
