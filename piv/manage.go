package piv

import (
	"context"
	"fmt"

	"github.com/go-piv/piv-go/v2/piv"
)

// UnsupportedError means that the card lacks what an operation needs.
// Nothing that changes the card was sent.
type UnsupportedError struct {
	// Op is the operation, such as "generate a key in slot 9c".
	Op string
	// Card is the card.
	Card CardInfo
	// Err is a sentinel the operation wraps too, such as ErrNoAttestation;
	// nil if none.
	Err error
}

// Error says what the card lacks.
func (e *UnsupportedError) Error() string {
	lacks := "YubiKey's extensions to SP 800-73-4, which this card, a plain PIV card, does not offer"
	if e.Card.Kind == KindTrussed {
		lacks = "YubiKey's card management and attestation, which trussed's PIV applet (Nitrokey 3, Solo 2) does not offer: it answers GET METADATA with nothing and refuses ATTEST"
	}
	return fmt.Sprintf("%s: the card %s cannot do this: it needs %s", e.Op, e.Card, lacks)
}

// Unwrap returns Err.
func (e *UnsupportedError) Unwrap() error { return e.Err }

// CheckManagement returns an *UnsupportedError for op unless the card can
// be managed: generate keys, store certificates, change its management
// key, be reset. Only cards with YubiKey's extensions can; call it before
// asking the user for anything.
func (c *Card) CheckManagement(op string) error { return c.requireYubiKey(op, nil) }

// requireYubiKey returns an *UnsupportedError wrapping sentinel (may be
// nil) for op unless the card offers YubiKey's extensions.
func (c *Card) requireYubiKey(op string, sentinel error) error {
	if c.info.Kind != KindYubiKey {
		return &UnsupportedError{Op: op, Card: c.info, Err: sentinel}
	}
	return nil
}

// manage runs f under op with piv-go's connection to the card, for the
// YubiKey management commands notation-piv leaves to piv-go: generating a
// key, storing a certificate, setting the management key and resetting
// the card. A card without YubiKey's extensions gets an *UnsupportedError
// before anything is sent.
//
// The first call makes piv-go's connection the card's (see usePIVGo); the
// plugin's own commands then go over piv-go's PC/SC handle. Close locks
// the card after any management command, whose management key and PIN
// stay verified until then.
func (c *Card) manage(ctx context.Context, op string, f func(yk *piv.YubiKey) error) error {
	if err := c.requireYubiKey(op, nil); err != nil {
		return err
	}
	l, err := c.lease(ctx, op)
	if err != nil {
		return err
	}
	defer l.release()
	return l.run(ctx, op, func(cn conn) error {
		pc, ok := cn.(*pivgoConn)
		if !ok {
			if pc, err = c.usePIVGo(ctx); err != nil {
				return err
			}
			if ctx.Err() != nil {
				// Opening with piv-go outlasted ctx, waiting for a card
				// another program held: the caller was told that op
				// timed out, so it must not run now.
				return ctx.Err()
			}
		}
		c.verified |= verifiedPIN | verifiedManagementKey
		return f(pc.yk)
	})
}

// usePIVGo lets go of the card's own connection, locking the card first if
// this session verified anything (see disconnect), opens the card with
// piv-go, waiting while another program holds it, and checks by its serial
// number that it is the same card. The caller holds the card.
func (c *Card) usePIVGo(ctx context.Context) (*pivgoConn, error) {
	const op = "open the card for card management"
	if err := c.readSerial(); err != nil {
		return nil, cardError(op, err)
	}
	if err := c.disconnect(); err != nil {
		return nil, err
	}
	var yk *piv.YubiKey
	err := whileBusy(ctx, true, func() (bool, error) {
		var err error
		err = retryConnect(ctx, func() (err error) { yk, err = piv.Open(c.info.Reader); return err })
		return isBusy(err), err
	})
	if err != nil {
		return nil, cardError(op, err)
	}
	if serial, err := yk.Serial(); c.info.Serial != 0 && (err != nil || serial != c.info.Serial) {
		yk.Close()
		return nil, fmt.Errorf("%s: another card is now in reader %q: insert card %d again", op, c.info.Reader, c.info.Serial)
	}
	handle, err := pcscHandleOf(yk)
	if err != nil {
		yk.Close()
		return nil, err
	}
	pc := &pivgoConn{yk: yk, handle: handle}
	c.conn = pc
	return pc, nil
}

// Reset erases every key and certificate on the card and restores the
// factory PIN (123456), PUK (12345678) and management key. A YubiKey resets
// only once the PIN and the PUK are blocked, so Reset first blocks both
// with random wrong values. Other cards have no RESET: they get an
// *UnsupportedError, and their PIN and PUK are never touched.
//
// APDUs: VERIFY and CHANGE REFERENCE DATA (PUK) with random values until
// each is blocked, then RESET `00 FB 00 00`.
func (c *Card) Reset(ctx context.Context) error {
	const op = "reset the card"
	return c.manage(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.Reset(); err != nil {
			return cardError(op, err)
		}
		return nil
	})
}
