package envelope

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Algorithm describes how a key signs under the Notary rules: the leaf
// certificate's public key alone fixes it (conformance guide §2). Obtain one
// from AlgorithmFor; the zero value is not a usable algorithm.
type Algorithm struct {
	// KeySpec is the Notary key spec, e.g. "RSA-2048" or "EC-256".
	KeySpec string
	// Hash is the digest applied to the signing input.
	Hash crypto.Hash
	// JWS is the JWS "alg" value, e.g. "PS256" or "ES256".
	JWS string
	// COSE is the COSE "alg" value, e.g. -37 or -7.
	COSE int
	// SigningAlgorithm is the plugin-contract name, e.g. "ECDSA-SHA-256".
	SigningAlgorithm string

	ec   bool // ECDSA (true) or RSASSA-PSS (false)
	bits int  // key size in bits
}

// algorithms is the table of the Notary signature specification. EC-521 is
// accepted because notary accepts it, although no PIV card holds P-521 keys.
var algorithms = []Algorithm{
	{KeySpec: "RSA-2048", Hash: crypto.SHA256, JWS: "PS256", COSE: -37, SigningAlgorithm: "RSASSA-PSS-SHA-256", bits: 2048},
	{KeySpec: "RSA-3072", Hash: crypto.SHA384, JWS: "PS384", COSE: -38, SigningAlgorithm: "RSASSA-PSS-SHA-384", bits: 3072},
	{KeySpec: "RSA-4096", Hash: crypto.SHA512, JWS: "PS512", COSE: -39, SigningAlgorithm: "RSASSA-PSS-SHA-512", bits: 4096},
	{KeySpec: "EC-256", Hash: crypto.SHA256, JWS: "ES256", COSE: -7, SigningAlgorithm: "ECDSA-SHA-256", ec: true, bits: 256},
	{KeySpec: "EC-384", Hash: crypto.SHA384, JWS: "ES384", COSE: -35, SigningAlgorithm: "ECDSA-SHA-384", ec: true, bits: 384},
	{KeySpec: "EC-521", Hash: crypto.SHA512, JWS: "ES512", COSE: -36, SigningAlgorithm: "ECDSA-SHA-512", ec: true, bits: 521},
}

// SupportedKeySpecs returns the key specs AlgorithmFor accepts, in the order
// of the Notary specification.
func SupportedKeySpecs() []string {
	specs := make([]string, len(algorithms))
	for i, a := range algorithms {
		specs[i] = a.KeySpec
	}
	return specs
}

// UnsupportedKeyError reports a public key that Notary cannot sign with,
// such as RSA-1024, Ed25519 or X25519.
type UnsupportedKeyError struct {
	// Key describes the key, e.g. "RSA-1024", "Ed25519" or "*ecdh.PublicKey".
	Key string
}

// Error names the key and the supported key specs.
func (e *UnsupportedKeyError) Error() string {
	return fmt.Sprintf("unsupported signing key %s: notary signatures need one of %s; generate or import such a key",
		e.Key, strings.Join(SupportedKeySpecs(), ", "))
}

// AlgorithmFor returns the algorithm that Notary requires for pub, the public
// key of the leaf certificate. Keys outside the table of the Notary
// specification give an *UnsupportedKeyError.
func AlgorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	var spec string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		spec = fmt.Sprintf("RSA-%d", k.Size()*8)
	case *ecdsa.PublicKey:
		spec = fmt.Sprintf("EC-%d", k.Curve.Params().BitSize)
	case ed25519.PublicKey:
		return Algorithm{}, &UnsupportedKeyError{Key: "Ed25519"}
	default:
		return Algorithm{}, &UnsupportedKeyError{Key: fmt.Sprintf("%T", pub)}
	}
	for _, a := range algorithms {
		if a.KeySpec == spec {
			return a, nil
		}
	}
	return Algorithm{}, &UnsupportedKeyError{Key: spec}
}

// SignMessage hashes message with alg.Hash, has signer sign the digest and
// returns the signature in the form every Notary envelope and the RAW plugin
// contract carry: for ECDSA the fixed-width r‖s concatenation, each half
// (bits+7)/8 bytes, converted from the ASN.1 DER that crypto.Signer
// implementations return; for RSA an RSASSA-PSS signature with the salt as
// long as the hash, as wide as the modulus. The signer must hold the key alg
// was derived from.
func SignMessage(signer crypto.Signer, alg Algorithm, message []byte) ([]byte, error) {
	if alg.Hash == 0 {
		return nil, errors.New("sign: no algorithm given; derive it from the leaf public key with AlgorithmFor")
	}
	if held, err := AlgorithmFor(signer.Public()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	} else if held.KeySpec != alg.KeySpec {
		return nil, fmt.Errorf("sign: the signer holds an %s key but the algorithm is for %s; derive the algorithm from the signer's certificate", held.KeySpec, alg.KeySpec)
	}
	h := alg.Hash.New()
	h.Write(message)
	digest := h.Sum(nil)
	width := (alg.bits + 7) / 8
	if alg.ec {
		der, err := signer.Sign(rand.Reader, digest, alg.Hash)
		if err != nil {
			return nil, fmt.Errorf("sign with %s key: %w", alg.KeySpec, err)
		}
		sig, err := derToRS(der, width)
		if err != nil {
			return nil, fmt.Errorf("sign with %s key: %w", alg.KeySpec, err)
		}
		return sig, nil
	}
	sig, err := signer.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.Hash})
	if err != nil {
		return nil, fmt.Errorf("sign with %s key: %w", alg.KeySpec, err)
	}
	if len(sig) > width {
		return nil, fmt.Errorf("sign with %s key: the signer returned %d bytes, more than the %d-byte modulus; check that the key matches the certificate", alg.KeySpec, len(sig), width)
	}
	// RFC 8017 I2OSP: a signer that drops leading zero bytes still produced
	// a valid signature; restore the modulus width verifiers require.
	if len(sig) < width {
		sig = append(make([]byte, width-len(sig)), sig...)
	}
	return sig, nil
}

// derToRS converts an ASN.1 DER ECDSA-Sig-Value (RFC 3279 §2.2.3) into r‖s,
// each left-padded to width bytes (RFC 7518 §3.4, RFC 9053 §2.1).
func derToRS(der []byte, width int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return nil, fmt.Errorf("ecdsa signature is not ASN.1 DER: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("ecdsa signature has %d trailing bytes after the ASN.1 DER value", len(rest))
	}
	if v.R.Sign() <= 0 || v.S.Sign() <= 0 || v.R.BitLen() > 8*width || v.S.BitLen() > 8*width {
		return nil, fmt.Errorf("ecdsa signature values are out of range for a %d-byte curve; check that the key matches the certificate", width)
	}
	out := make([]byte, 2*width)
	v.R.FillBytes(out[:width])
	v.S.FillBytes(out[width:])
	return out, nil
}
