package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/notation-piv/notation-piv/piv/internal/apdu"
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
// as a YubiKey does) and ErrNoAttestation for a card that cannot attest:
// cards without YubiKey's extensions are not asked.
//
// APDUs: ATTEST `00 F9 <slot> 00 00`, then GET DATA of object 5FFF01, each
// with a GET RESPONSE per further 256 bytes of answer.
func (c *Card) Attest(ctx context.Context, slot Slot) (slotCert, device *x509.Certificate, err error) {
	if err := slot.check(); err != nil {
		return nil, nil, err
	}
	op := "attest the key in slot " + slot.String()
	if err := c.requireYubiKey(op, ErrNoAttestation); err != nil {
		return nil, nil, err
	}
	err = c.do(ctx, op, func(conn conn) error {
		b, err := apdu.Exchange(conn, apdu.Command{Name: op, Ins: 0xF9, P1: slot.key, WantsData: true})
		if err != nil {
			return attestError(op, slot, err)
		}
		if slotCert, err = x509.ParseCertificate(b); err != nil {
			return fmt.Errorf("%s: the card's answer is not a certificate: %v", op, err)
		}
		d, certErr, err := readCertificate(conn, "read the attestation certificate", objectAttestation)
		switch {
		case err != nil:
			return cardError(op, err)
		case certErr != nil:
			return fmt.Errorf("%s: %w: slot f9: %v", op, ErrNoAttestation, certErr)
		case d == nil:
			return fmt.Errorf("%s: %w: no attestation certificate in slot f9", op, ErrNoAttestation)
		}
		device = d
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return slotCert, device, nil
}

// objectAttestation is YubiKey's object for the certificate of the
// attestation key (slot F9).
const objectAttestation = 0x5FFF01

// attestError explains why the card did not attest the key in slot.
func attestError(op string, slot Slot, err error) error {
	switch sw := apdu.SW(err); sw {
	case 0x6A80:
		// A YubiKey refuses to attest an imported key with 6A80 (wrong
		// data). An empty slot fails earlier, when its certificate is
		// read.
		return fmt.Errorf("slot %s: %w", slot, ErrKeyImported)
	case 0x6D00, 0x6E00, 0x6A81:
		return fmt.Errorf("%s: %w (status %04X)", op, ErrNoAttestation, sw)
	}
	return cardError(op, err)
}
