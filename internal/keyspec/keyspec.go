// Package keyspec is the table of the key types that sign Notary Project
// signatures and how each signs: the hash, the JWS and COSE algorithm,
// and the plugin contract's names. The key of the leaf certificate alone
// fixes all of them (signature specification, "Algorithm Selection";
// https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#algorithm-selection).
//
// Keys are sized as notation-core-go v1.3.0 sizes them: an RSA key by its
// modulus in whole bytes, an ECDSA key by its curve.
package keyspec

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"strings"
)

// Spec is a key type that signs Notary Project signatures, and how it
// signs. The zero Spec is no key type.
type Spec struct {
	// Name is the key spec as the plugin contract names it, such as
	// "RSA-2048" or "EC-256".
	Name string
	// Hash is the digest applied to the signing input.
	Hash crypto.Hash
	// JWS is the JWS "alg" value, such as "PS256" or "ES256".
	JWS string
	// COSE is the COSE "alg" value, such as -37 or -7.
	COSE int
	// SigningAlgorithm is the plugin contract's name of the signature
	// algorithm, such as "ECDSA-SHA-256".
	SigningAlgorithm string
	// EC is true for ECDSA, false for RSASSA-PSS.
	EC bool
	// Bits is the key size in bits.
	Bits int
}

// The key specs of the Notary Project signature specification.
var (
	RSA2048 = Spec{Name: "RSA-2048", Hash: crypto.SHA256, JWS: "PS256", COSE: -37, SigningAlgorithm: "RSASSA-PSS-SHA-256", Bits: 2048}
	RSA3072 = Spec{Name: "RSA-3072", Hash: crypto.SHA384, JWS: "PS384", COSE: -38, SigningAlgorithm: "RSASSA-PSS-SHA-384", Bits: 3072}
	RSA4096 = Spec{Name: "RSA-4096", Hash: crypto.SHA512, JWS: "PS512", COSE: -39, SigningAlgorithm: "RSASSA-PSS-SHA-512", Bits: 4096}
	EC256   = Spec{Name: "EC-256", Hash: crypto.SHA256, JWS: "ES256", COSE: -7, SigningAlgorithm: "ECDSA-SHA-256", EC: true, Bits: 256}
	EC384   = Spec{Name: "EC-384", Hash: crypto.SHA384, JWS: "ES384", COSE: -35, SigningAlgorithm: "ECDSA-SHA-384", EC: true, Bits: 384}
	EC521   = Spec{Name: "EC-521", Hash: crypto.SHA512, JWS: "ES512", COSE: -36, SigningAlgorithm: "ECDSA-SHA-512", EC: true, Bits: 521}
)

// All returns every key spec, in the order of the specification.
func All() []Spec {
	return []Spec{RSA2048, RSA3072, RSA4096, EC256, EC384, EC521}
}

// Names lists the names of specs for messages: "RSA-2048, EC-256".
func Names(specs []Spec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// ByName returns the key spec named name, such as "EC-256", and whether
// there is one.
func ByName(name string) (Spec, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Of returns the key spec of pub, typically a certificate's public key,
// if it is one of supported; with no supported given, one of All. Other
// keys give an *UnsupportedKeyError.
func Of(pub crypto.PublicKey, supported ...Spec) (Spec, error) {
	if len(supported) == 0 {
		supported = All()
	}
	key := Describe(pub)
	for _, s := range supported {
		if s.Name == key {
			return s, nil
		}
	}
	return Spec{}, &UnsupportedKeyError{Key: key, Supported: supported}
}

// Describe names the type and size of a public key as key specs do, for
// any key: "RSA-2048", "RSA-1024", "EC-256", "EC-224", "Ed25519",
// "X25519", or "of type T" for others.
func Describe(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.Size()*8)
	case *ecdsa.PublicKey:
		return fmt.Sprintf("EC-%d", k.Curve.Params().BitSize)
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		return fmt.Sprint(k.Curve())
	}
	return fmt.Sprintf("of type %T", pub)
}

// UnsupportedKeyError reports a key that cannot sign Notary Project
// signatures where it was found, such as RSA-1024, Ed25519 or X25519.
type UnsupportedKeyError struct {
	// Key describes the key, as Describe does.
	Key string
	// Supported are the key specs that would have done.
	Supported []Spec
}

// Error names the key and the key specs that would have done.
func (e *UnsupportedKeyError) Error() string {
	return fmt.Sprintf("unsupported signing key %s: notary signatures need one of %s", e.Key, Names(e.Supported))
}

// ByJWS returns the key spec whose JWS "alg" value is name, such as
// "ES256", and whether there is one.
func ByJWS(name string) (Spec, bool) {
	for _, s := range All() {
		if s.JWS == name {
			return s, true
		}
	}
	return Spec{}, false
}

// ByCOSE returns the key spec whose COSE "alg" value is id, such as -7,
// and whether there is one.
func ByCOSE(id int64) (Spec, bool) {
	for _, s := range All() {
		if int64(s.COSE) == id {
			return s, true
		}
	}
	return Spec{}, false
}
