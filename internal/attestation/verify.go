package attestation

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Verify checks that the bundle's slot certificate was signed by its
// device certificate, which chains through its intermediates (or those
// known to roots) to one of roots, all valid at the time at (the current
// time if zero). It returns the attested facts.
//
// Some YubiKey 4 device (F9) certificates lack the basicConstraints
// extension that a CA certificate needs (RFC 5280, 4.2.1.9). Such a device
// certificate is treated as a CA, as Yubico's own tools do, if it looks
// like one a card made: it carries Yubico's firmware-version extension, and
// its key usage, if it has one, allows signing certificates. A device
// certificate with basicConstraints and cA false is not a CA. The exception
// applies at the device's position only: the verified chain must run slot,
// device, then the rest, and every other certificate is taken as it is.
func (b *Bundle) Verify(roots *Roots, at time.Time) (*Attestation, error) {
	if roots == nil {
		return nil, errors.New("verify attestation: no roots")
	}
	device := b.Device
	if mayStandInAsCA(device) {
		ca := *device
		ca.BasicConstraintsValid, ca.IsCA = true, true
		device = &ca
	}
	intermediates := x509.NewCertPool()
	intermediates.AddCert(device)
	for _, c := range b.Intermediates {
		intermediates.AddCert(c)
	}
	for _, c := range roots.intermediates {
		intermediates.AddCert(c)
	}
	chains, err := b.Slot.Verify(x509.VerifyOptions{
		Roots:         roots.pool,
		Intermediates: intermediates,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("verify attestation chain: %w", err)
	}
	for _, chain := range chains {
		if len(chain) < 2 || !chain[1].Equal(b.Device) {
			continue
		}
		a, err := readFacts(b.Slot, b.Device)
		if err != nil {
			return nil, err
		}
		a.Chain = append([]*x509.Certificate{b.Slot, b.Device}, chain[2:]...)
		return a, nil
	}
	return nil, errors.New("verify attestation chain: the slot certificate is not issued by the device certificate")
}

// mayStandInAsCA reports whether a device certificate may be treated as a
// CA without basicConstraints. The firmware extension keeps the exception
// to card certificates: under a replaced root, an ordinary end-entity
// certificate without basicConstraints cannot issue attestations.
func mayStandInAsCA(device *x509.Certificate) bool {
	if device.BasicConstraintsValid {
		return false
	}
	if device.KeyUsage != 0 && device.KeyUsage&x509.KeyUsageCertSign == 0 {
		return false
	}
	for _, ext := range device.Extensions {
		if ext.Id.Equal(oidFirmware) {
			return true
		}
	}
	return false
}

// Facts reads what the bundle claims about the signing key without
// verifying anything: for showing an attestation whose chain does not
// verify, or was not checked. Its Chain is the bundle's certificates. Only
// Verify's result proves anything.
func (b *Bundle) Facts() (*Attestation, error) {
	a, err := readFacts(b.Slot, b.Device)
	if err != nil {
		return nil, err
	}
	a.Chain = b.Certificates()
	return a, nil
}
