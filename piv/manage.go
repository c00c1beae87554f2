package piv

import (
	"context"

	"github.com/go-piv/piv-go/v2/piv"
)

// exec runs one piv-go call on the card under op.
func (c *Card) exec(ctx context.Context, op string, f func(yk *piv.YubiKey) error) error {
	l, err := c.lease(ctx, op)
	if err != nil {
		return err
	}
	defer l.release()
	// Card management verifies the PIN or the management key.
	c.verified |= verifiedPIN | verifiedManagementKey
	return l.run(ctx, op, f)
}

// Reset erases every key and certificate on the card and restores the
// factory PIN (123456), PUK (12345678) and management key. A YubiKey resets
// only once the PIN and the PUK are blocked, so Reset first blocks both
// with random wrong values.
//
// APDUs: VERIFY and CHANGE REFERENCE DATA (PUK) with random values until
// each is blocked, then RESET `00 FB 00 00`.
func (c *Card) Reset(ctx context.Context) error {
	const op = "reset the card"
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.Reset(); err != nil {
			return cardError(op, err)
		}
		return nil
	})
}
