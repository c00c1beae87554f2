package attestation

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Bounds of a bundle. A YubiKey bundle holds two certificates, or four with
// the 2024 hierarchy's intermediates, of about 1 KB each.
const (
	// MaxCertificates bounds the certificates of a bundle.
	MaxCertificates = 6
	// MaxCertificateSize bounds each certificate's DER encoding, in bytes.
	MaxCertificateSize = 8192
)

// maxEncodedCertificate is the base64 length of a certificate of
// MaxCertificateSize bytes.
var maxEncodedCertificate = base64.StdEncoding.EncodedLen(MaxCertificateSize)

// Bundle is an attestation as an envelope carries it: the certificates that
// prove where the signing key was generated.
type Bundle struct {
	// Slot is the attestation certificate of the signing key's slot.
	Slot *x509.Certificate
	// Device is the card's attestation certificate (slot F9), which signed
	// Slot.
	Device *x509.Certificate
	// Intermediates are vendor certificates between Device and a root,
	// nearest first.
	Intermediates []*x509.Certificate
}

// NewBundle returns the bundle for a slot's attestation certificate and
// the card's F9 certificate, with the Yubico intermediates that device
// chains through (none for the 2016 hierarchy or another vendor's card).
func NewBundle(slot, device *x509.Certificate) *Bundle {
	return &Bundle{Slot: slot, Device: device, Intermediates: YubicoRoots().issuerChain(device)}
}

// Certificates returns the bundle's certificates in order: Slot, Device,
// then Intermediates.
func (b *Bundle) Certificates() []*x509.Certificate {
	return append([]*x509.Certificate{b.Slot, b.Device}, b.Intermediates...)
}

// Encode returns the header value: each certificate's DER in standard
// base64, joined with commas, in the order of Certificates.
func (b *Bundle) Encode() (string, error) {
	certs := b.Certificates()
	if err := checkCount(len(certs)); err != nil {
		return "", err
	}
	parts := make([]string, len(certs))
	for i, c := range certs {
		if c == nil {
			return "", fmt.Errorf("attestation bundle: certificate %d is missing", i+1)
		}
		if len(c.Raw) > MaxCertificateSize {
			return "", fmt.Errorf("attestation bundle: certificate %d is %d bytes; at most %d are allowed", i+1, len(c.Raw), MaxCertificateSize)
		}
		parts[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return strings.Join(parts, ","), nil
}

// PEM returns the bundle's certificates as PEM blocks, in the order of
// Certificates: the form a code-signing CA asks for.
func (b *Bundle) PEM() []byte {
	var out []byte
	for _, c := range b.Certificates() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// ParseBundle parses a header value made by Encode. It checks the number
// and size of the certificates before it decodes them, and accepts only
// canonical base64 (no line breaks, no spaces).
func ParseBundle(value string) (*Bundle, error) {
	if value == "" {
		return nil, errors.New("attestation bundle is empty")
	}
	n := strings.Count(value, ",") + 1
	if err := checkCount(n); err != nil {
		return nil, err
	}
	certs := make([]*x509.Certificate, 0, n)
	for i, part := range strings.Split(value, ",") {
		c, err := parseCertificate(part)
		if err != nil {
			return nil, fmt.Errorf("attestation bundle: certificate %d: %w", i+1, err)
		}
		certs = append(certs, c)
	}
	return &Bundle{Slot: certs[0], Device: certs[1], Intermediates: certs[2:]}, nil
}

func checkCount(n int) error {
	if n < 2 {
		return fmt.Errorf("attestation bundle has %d certificate; it needs the slot's and the device's", n)
	}
	if n > MaxCertificates {
		return fmt.Errorf("attestation bundle has %d certificates; at most %d are allowed", n, MaxCertificates)
	}
	return nil
}

func parseCertificate(b64 string) (*x509.Certificate, error) {
	if b64 == "" {
		return nil, errors.New("empty")
	}
	if len(b64) > maxEncodedCertificate {
		return nil, fmt.Errorf("more than %d bytes", MaxCertificateSize)
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	// The decoder skips line breaks; a value that does not encode back to
	// itself is not canonical.
	if err != nil || base64.StdEncoding.EncodeToString(der) != b64 {
		return nil, errors.New("not standard base64")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return c, nil
}
