package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/go-piv/piv-go/v2/piv"
)

var (
	// ErrKeyImported means that the card refuses to attest the key in a
	// slot because it was imported rather than generated on the card.
	// Attest wraps it with the slot name.
	ErrKeyImported = errors.New("the card attests only keys generated on it, and the key in the slot was imported")

	// ErrNoAttestation means that the card cannot attest keys: it does not
	// know the YubiKey ATTEST instruction, or holds no attestation
	// certificate (slot F9). Attest wraps it with what the card said.
	ErrNoAttestation = errors.New("the card cannot attest keys")
)

// Attest returns the attestation certificate of the key in slot, signed
// by the card's attestation key, and the certificate of that key (slot
// F9), which chains to the card vendor's root. Neither needs the PIN.
//
// Errors wrap ErrKeyImported for an imported key (the card answers 6A80,
// as a YubiKey does) and ErrNoAttestation for a card that cannot attest.
//
// APDUs: ATTEST `00 F9 <slot> 00`, then GET DATA of object 5FFF01, each
// with a GET RESPONSE per further 256 bytes of answer.
func (c *Card) Attest(ctx context.Context, slot Slot) (slotCert, device *x509.Certificate, err error) {
	if err := slot.check(); err != nil {
		return nil, nil, err
	}
	op := "attest the key in slot " + slot.String()
	l, err := c.lease(ctx, op)
	if err != nil {
		return nil, nil, err
	}
	defer l.release()
	err = l.run(ctx, op, func(yk *piv.YubiKey) error {
		var err error
		if slotCert, err = yk.Attest(slot.piv()); err != nil {
			return attestError(op, slot, err)
		}
		if device, err = yk.AttestationCertificate(); err != nil {
			if errors.Is(err, piv.ErrNotFound) || errors.Unwrap(err) == nil {
				return fmt.Errorf("%s: %w: no valid attestation certificate in slot f9: %v", op, ErrNoAttestation, err)
			}
			return cardError(op, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return slotCert, device, nil
}

// attestError explains why the card did not attest the key in slot.
func attestError(op string, slot Slot, err error) error {
	var status interface{ Status() uint16 }
	switch {
	case errors.Is(err, piv.ErrNotFound):
		// piv-go maps the card's 6A80 (wrong data) to ErrNotFound: the
		// key was imported. An empty slot fails earlier, when its
		// certificate is read.
		return fmt.Errorf("slot %s: %w", slot, ErrKeyImported)
	case errors.As(err, &status):
		switch status.Status() {
		case 0x6D00, 0x6E00, 0x6A81:
			return fmt.Errorf("%s: %w (status %04X)", op, ErrNoAttestation, status.Status())
		}
	case errors.Unwrap(err) == nil:
		return fmt.Errorf("%s: the card's answer is not a certificate: %v", op, err)
	}
	return cardError(op, err)
}
