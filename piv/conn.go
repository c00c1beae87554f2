package piv

import (
	"errors"
	"strings"

	"github.com/ebfe/scard"
	"github.com/go-piv/piv-go/v2/piv"
)

// conn is a PC/SC connection that holds one card exclusively.
type conn interface {
	// Transmit sends one APDU and returns the answer with its status word.
	Transmit(command []byte) ([]byte, error)
	// close ends the connection; with reset, pcscd resets the card first,
	// which makes it forget every PIN and key verified on it.
	close(reset bool) error
}

// ownConn is notation-piv's own connection to a card, through ebfe/scard.
// It accepts a card that speaks T=0 or T=1, and leaves releasing its
// PC/SC context to the Card.
type ownConn struct {
	card *scard.Card
}

// connect connects to the card in reader, exclusively, with T=0 or T=1.
func connect(sc *scard.Context, reader string) (*ownConn, error) {
	card, err := sc.Connect(reader, scard.ShareExclusive, scard.ProtocolT0|scard.ProtocolT1)
	if err != nil {
		return nil, err
	}
	return &ownConn{card: card}, nil
}

// Transmit sends command to the card.
func (c *ownConn) Transmit(command []byte) ([]byte, error) { return c.card.Transmit(command) }

func (c *ownConn) close(reset bool) error {
	disposition := scard.LeaveCard
	if reset {
		disposition = scard.ResetCard
	}
	return c.card.Disconnect(disposition)
}

// pivgoConn is piv-go's connection to a YubiKey, which card management
// uses (see Card.manage). The plugin's own commands go over the same
// PC/SC handle, so that the card is never let go in between.
type pivgoConn struct {
	yk     *piv.YubiKey
	handle pcscHandle
}

// Transmit sends command over piv-go's handle.
func (c *pivgoConn) Transmit(command []byte) ([]byte, error) { return c.handle.transmit(command) }

func (c *pivgoConn) close(reset bool) error {
	if !reset {
		return c.yk.Close()
	}
	if err := c.handle.disconnectReset(); err != nil {
		return err
	}
	// The handle is gone: piv-go's own SCardDisconnect fails, and Close
	// still releases its PC/SC context.
	c.yk.Close()
	return nil
}

// isBusy reports whether err says that another PC/SC connection holds the
// card: SCARD_E_SHARING_VIOLATION, from ebfe/scard or, as a message only,
// from piv-go.
func isBusy(err error) bool {
	return errors.Is(err, scard.ErrSharingViolation) || err != nil && strings.Contains(err.Error(), "other connections outstanding")
}
