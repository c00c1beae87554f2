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
// extension that a CA certificate needs (RFC 5280, 4.2.1.9). A device
// certificate without the extension is treated as a CA, as Yubico's own
// tools do; one that has it with cA false is not. The exception applies at
// the device's position only: the verified chain must run slot, device,
// then the rest, and every other certificate is taken as it is.
func (b *Bundle) Verify(roots *Roots, at time.Time) (*Attestation, error) {
	if roots == nil {
		return nil, errors.New("verify attestation: no roots")
	}
	device := b.Device
	if !device.BasicConstraintsValid {
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
