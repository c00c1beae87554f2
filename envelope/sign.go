package envelope

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// SignMessage hashes message with alg.Hash, has signer sign the digest and
// returns the signature in the form every Notary envelope and the RAW plugin
// contract carry: for ECDSA the fixed-width r‖s concatenation, each half
// (bits+7)/8 bytes, converted from the ASN.1 DER that crypto.Signer
// implementations return; for RSA an RSASSA-PSS signature with the salt as
// long as the hash, as wide as the modulus. The signer must hold the key alg
// was derived from (keyspec.Of of the leaf's public key). An error of the
// signer is returned as it is: the signer names what it signed with.
func SignMessage(signer crypto.Signer, alg keyspec.Spec, message []byte) ([]byte, error) {
	if alg.Hash == 0 {
		return nil, errors.New("sign: no key spec given; derive it from the leaf public key with keyspec.Of")
	}
	if held, err := keyspec.Of(signer.Public()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	} else if held != alg {
		return nil, fmt.Errorf("sign: the signer holds an %s key but the algorithm is for %s; derive the algorithm from the signer's certificate", held.Name, alg.Name)
	}
	h := alg.Hash.New()
	h.Write(message)
	digest := h.Sum(nil)
	width := (alg.Bits + 7) / 8
	if alg.EC {
		der, err := signer.Sign(rand.Reader, digest, alg.Hash)
		if err != nil {
			return nil, err
		}
		sig, err := derToRS(der, width)
		if err != nil {
			return nil, fmt.Errorf("sign with %s key: %w", alg.Name, err)
		}
		return sig, nil
	}
	sig, err := signer.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.Hash})
	if err != nil {
		return nil, err
	}
	if len(sig) > width {
		return nil, fmt.Errorf("sign with %s key: the signer returned %d bytes, more than the %d-byte modulus; check that the key matches the certificate", alg.Name, len(sig), width)
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
