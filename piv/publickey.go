package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// Algorithm identifiers of SP 800-78-4 and Yubico's extensions, in GET
// METADATA and GENERATE.
var algorithmNames = map[byte]string{
	0x06: "RSA-1024",
	0x07: "RSA-2048",
	0x05: "RSA-3072",
	0x16: "RSA-4096",
	0x11: "EC-256",
	0x14: "EC-384",
	0xE0: "Ed25519",
	0xE1: "X25519",
	0x03: "3DES",
	0x08: "AES-128",
	0x0A: "AES-192",
	0x0C: "AES-256",
}

// decodePublicKey decodes the public key of GET METADATA tag 04: `86 point`
// for EC, Ed25519 and X25519 keys, `81 n 82 e` for RSA keys.
func decodePublicKey(alg byte, b []byte) (crypto.PublicKey, error) {
	objs, err := apdu.ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	switch alg {
	case 0x06, 0x07, 0x05, 0x16:
		n, ok1 := apdu.Find(objs, 0x81)
		e, ok2 := apdu.Find(objs, 0x82)
		if !ok1 || !ok2 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("RSA public key without modulus or exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	point, ok := apdu.Find(objs, 0x86)
	if !ok {
		return nil, errors.New("public key without point")
	}
	switch alg {
	case 0x11:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	case 0x14:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
	case 0xE0:
		if len(point) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 public key of the wrong size")
		}
		return ed25519.PublicKey(point), nil
	case 0xE1:
		return ecdh.X25519().NewPublicKey(point)
	}
	return nil, fmt.Errorf("unknown algorithm %02x", alg)
}
