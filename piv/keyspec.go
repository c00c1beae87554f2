package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
)

// KeySpec is a key type that can sign Notary Project signatures, named as
// in the plugin contract's keySpec field.
type KeySpec string

// The key specs a PIV card supports for Notary Project signatures. PIV
// has no P-521, and the Notary Project rejects RSA-1024 and Ed25519.
const (
	KeySpecRSA2048 KeySpec = "RSA-2048"
	KeySpecRSA3072 KeySpec = "RSA-3072"
	KeySpecRSA4096 KeySpec = "RSA-4096"
	KeySpecEC256   KeySpec = "EC-256"
	KeySpecEC384   KeySpec = "EC-384"
)

var supportedKeySpecs = []KeySpec{KeySpecRSA2048, KeySpecRSA3072, KeySpecRSA4096, KeySpecEC256, KeySpecEC384}

// KeySpecOf returns the key spec of a public key, typically a
// certificate's. Other keys get an *UnsupportedKeyError.
func KeySpecOf(pub crypto.PublicKey) (KeySpec, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return KeySpecRSA2048, nil
		case 3072:
			return KeySpecRSA3072, nil
		case 4096:
			return KeySpecRSA4096, nil
		}
		return "", &UnsupportedKeyError{Key: fmt.Sprintf("RSA-%d", k.N.BitLen())}
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			if k.Curve.Params().Name == "P-256" {
				return KeySpecEC256, nil
			}
		case 384:
			if k.Curve.Params().Name == "P-384" {
				return KeySpecEC384, nil
			}
		}
		return "", &UnsupportedKeyError{Key: "ECDSA " + k.Curve.Params().Name}
	case ed25519.PublicKey:
		return "", &UnsupportedKeyError{Key: "Ed25519"}
	case *ecdh.PublicKey:
		return "", &UnsupportedKeyError{Key: fmt.Sprint(k.Curve())}
	}
	return "", &UnsupportedKeyError{Key: fmt.Sprintf("of type %T", pub)}
}

// Hash returns the hash the Notary Project pairs with the key spec:
// SHA-256 for RSA-2048 and EC-256, SHA-384 for RSA-3072 and EC-384,
// SHA-512 for RSA-4096; 0 for an unknown spec.
func (k KeySpec) Hash() crypto.Hash {
	switch k {
	case KeySpecRSA2048, KeySpecEC256:
		return crypto.SHA256
	case KeySpecRSA3072, KeySpecEC384:
		return crypto.SHA384
	case KeySpecRSA4096:
		return crypto.SHA512
	}
	return 0
}
