package card

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"
)

// AttestationCA is a test card vendor's root: it issues the attestation
// certificate (slot F9) of every card configured with it, as Yubico's root
// issues every YubiKey's, so that one root verifies the attestations of
// several cards.
type AttestationCA struct {
	// Certificate is the root's self-signed CA certificate.
	Certificate *x509.Certificate
	// Key is the root's private key.
	Key crypto.Signer
}

// NewAttestationCA creates a vendor root: an ECDSA P-256 key and a CA
// certificate named name, valid from an hour ago for 20 years.
func NewAttestationCA(r io.Reader, name string) (*AttestationCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(r),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now,
		NotAfter:              now.Add(attestationValidity),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(r, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &AttestationCA{Certificate: cert, Key: key}, nil
}

// MarshalPEM returns the root as PEM: its certificate, then its private
// key in PKCS #8.
func (ca *AttestationCA) MarshalPEM() ([]byte, error) {
	key, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate.Raw})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...), nil
}

// ParseAttestationCA reads what MarshalPEM writes: one CA certificate and
// the PKCS #8 private key of its public key, in either order.
func ParseAttestationCA(data []byte) (*AttestationCA, error) {
	var ca AttestationCA
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE" && ca.Certificate == nil:
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("attestation CA certificate: %w", err)
			}
			ca.Certificate = c
		case block.Type == "PRIVATE KEY" && ca.Key == nil:
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("attestation CA key: %w", err)
			}
			signer, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("attestation CA key: a %T cannot sign", k)
			}
			ca.Key = signer
		default:
			return nil, fmt.Errorf("unexpected PEM block %q; want one CERTIFICATE and one PRIVATE KEY", block.Type)
		}
	}
	if ca.Certificate == nil || ca.Key == nil {
		return nil, errors.New("want one CERTIFICATE and one PRIVATE KEY PEM block")
	}
	if !ca.Certificate.BasicConstraintsValid || !ca.Certificate.IsCA {
		return nil, errors.New("attestation CA certificate is not a CA certificate")
	}
	pub, ok := ca.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(ca.Certificate.PublicKey) {
		return nil, errors.New("attestation CA key does not match its certificate")
	}
	return &ca, nil
}
