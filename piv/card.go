package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/go-piv/piv-go/v2/piv"
)

// Selector picks one card among those in the PC/SC readers. The zero
// Selector picks the only card present.
type Selector struct {
	// Serial is the card's serial number; 0 matches any card.
	Serial uint32
	// Reader is a case-sensitive substring of the PC/SC reader name, such
	// as "Yubico YubiKey"; "" matches any reader.
	Reader string
}

// String describes the selector for messages, such as
// `serial 12345678 in a reader named "*Yubico*"`.
func (s Selector) String() string {
	switch {
	case s.Serial != 0 && s.Reader != "":
		return fmt.Sprintf("serial %d in a reader named %q", s.Serial, "*"+s.Reader+"*")
	case s.Serial != 0:
		return fmt.Sprintf("serial %d", s.Serial)
	case s.Reader != "":
		return fmt.Sprintf("a reader named %q", "*"+s.Reader+"*")
	}
	return "any card"
}

// CardInfo describes a PIV card found by List or Open.
type CardInfo struct {
	// Reader is the PC/SC name of the reader holding the card.
	Reader string
	// Serial is the card's serial number; 0 if the card does not report
	// one (only YubiKeys do).
	Serial uint32
	// Version is the PIV application's version, such as "5.7.1".
	Version string
}

// String describes the card for messages, such as
// `serial 12345678 (version 5.7.1) in reader "Yubico YubiKey OTP+FIDO+CCID 00 00"`.
func (c CardInfo) String() string {
	serial := "unknown serial"
	if c.Serial != 0 {
		serial = fmt.Sprintf("serial %d", c.Serial)
	}
	return fmt.Sprintf("%s (version %s) in reader %q", serial, c.Version, c.Reader)
}

// Card is an open PIV card. piv-go holds it exclusively: no other program
// can use the card until Close. A Card is safe for concurrent use; its
// operations run one at a time.
type Card struct {
	info CardInfo // Serial is 0 until read, see serialRead
	// serialRead says that info.Serial was read from the card, so that a
	// card without a serial number is asked only once.
	serialRead bool
	// verified is what this session may have left verified on the card:
	// Close makes the card forget it (see disconnect), so that the next
	// program to connect finds the card locked. Guarded by sem.
	verified credentials
	// sem holds a token while an operation uses yk, including an operation
	// that timed out and still runs in the background.
	sem chan struct{}
	yk  *piv.YubiKey // guarded by sem; nil once closed
	// handle is yk's PC/SC handle, which disconnect resets. Guarded by sem.
	handle pcscHandle
}

// List returns the PIV cards in all PC/SC readers. It opens each card
// briefly; readers without a card, and cards that cannot be opened (in use
// by another program, not a PIV card), are left out. With no card at all
// the error wraps ErrNoCard and gives the reason for each reader.
//
// A card that fails piv-go's SELECT stays held by this process until it
// exits (a piv-go bug), so List must not be called in a loop.
func List(ctx context.Context) ([]CardInfo, error) {
	readers, err := listReaders(ctx)
	if err != nil {
		return nil, err
	}
	_, found, failures, _, err := probe(ctx, readers, false, true, func(CardInfo) (keep, stop bool) { return false, false })
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, noCard(failures)
	}
	return found, nil
}

// Open opens the one card that sel picks. Errors:
//   - ErrNoCard (wrapped, with the reason for each reader) if no reader
//     holds a PIV card;
//   - a *SelectionError listing the cards found if no card matches sel, or
//     if sel is the zero Selector and there are several cards;
//   - a *TimeoutError if ctx ends first;
//   - a *CardError if PC/SC fails, for example when pcscd does not run.
//
// A card another program holds (a concurrent signature, say) is waited
// for, until ctx ends, but only when no free card matches sel.
//
// Open looks only at readers whose name matches sel.Reader, opens each
// card there, and closes those it does not return. It reads the serial
// numbers only when sel.Serial asks for one, or to list the cards in an
// error: opening the only card costs two APDUs (see openReader), and
// Card.ReadSerial reads the serial number later if needed. Only when no
// card matches does it also look at the other readers, to list them in
// the error.
func Open(ctx context.Context, sel Selector) (*Card, error) {
	readers, err := listReaders(ctx)
	if err != nil {
		return nil, err
	}
	var matching, others []string
	for _, r := range readers {
		if strings.Contains(r, sel.Reader) {
			matching = append(matching, r)
		} else {
			others = append(others, r)
		}
	}
	want := func(c CardInfo) (keep, stop bool) {
		if sel.Serial == 0 {
			return true, false
		}
		return c.Serial == sel.Serial, c.Serial == sel.Serial
	}
	withSerial := sel.Serial != 0
	kept, found, failures, busy, err := probe(ctx, matching, false, withSerial, want)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 && len(busy) > 0 {
		// Nothing free matches, but cards another program holds may: wait
		// for them, as a concurrent notation sign would want.
		var waited []CardInfo
		kept, waited, failures, _, err = probe(ctx, busy, true, withSerial, want)
		if err != nil {
			return nil, err
		}
		found = append(found, waited...)
	}
	if len(kept) == 1 {
		return kept[0], nil
	}
	if len(kept) > 1 {
		// Several cards and no serial asked for: list them with their
		// serial numbers so that the user can pick one.
		cards := make([]CardInfo, len(kept))
		for i, c := range kept {
			c.ReadSerial(ctx) // on error the card is listed without one
			cards[i] = c.info
			c.Close()
		}
		return nil, &SelectionError{Selector: sel, Cards: cards}
	}
	_, more, moreFailures, _, err := probe(ctx, others, false, true, func(CardInfo) (keep, stop bool) { return false, false })
	if err != nil {
		return nil, err
	}
	found = append(found, more...)
	if len(found) == 0 {
		return nil, noCard(append(failures, moreFailures...))
	}
	return nil, &SelectionError{Selector: sel, Cards: found}
}

// Serial returns the card's serial number as far as it is known: 0 if the
// card reports none, or if it has not been read. Open reads it only when
// the Selector names a serial number; ReadSerial reads it otherwise.
func (c *Card) Serial() uint32 { return c.info.Serial }

// ReadSerial returns the card's serial number, reading it from the card if
// Open did not: GET SERIAL `00 F8 00 00 00` on a YubiKey 5 (older YubiKeys
// go through the OTP application). A card that answers with an error
// status has no serial number: ReadSerial returns 0 and no error.
func (c *Card) ReadSerial(ctx context.Context) (uint32, error) {
	if c.info.Serial != 0 || c.serialRead {
		return c.info.Serial, nil
	}
	const op = "read the card's serial number"
	l, err := c.lease(ctx, op)
	if err != nil {
		return 0, err
	}
	defer l.release()
	var serial uint32
	err = l.run(ctx, op, func(yk *piv.YubiKey) error {
		s, err := yk.Serial()
		var se statusError
		switch {
		case err == nil:
			serial = s
		case !errors.As(err, &se):
			return cardError(op, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	c.info.Serial, c.serialRead = serial, true
	return serial, nil
}

// Reader returns the PC/SC name of the card's reader.
func (c *Card) Reader() string { return c.info.Reader }

// Close releases the card. If a PIN or the management key was verified in
// this session, Close first makes the card forget them on the same
// connection, before any other program can connect (see disconnect). If an operation that timed out still runs, Close
// returns at once and the card is released when that operation ends.
// Closing a closed Card does nothing.
func (c *Card) Close() error {
	select {
	case c.sem <- struct{}{}:
		defer c.release()
		return c.disconnect()
	default:
		go func() {
			c.sem <- struct{}{}
			defer c.release()
			c.disconnect()
		}()
		return nil
	}
}

// credentials is a set of the card's secrets that a session verified.
type credentials uint8

const (
	// verifiedPIN: the session sent the PIN.
	verifiedPIN credentials = 1 << iota
	// verifiedManagementKey: the session may have authenticated with the
	// management key (card management).
	verifiedManagementKey
)

// disconnect ends the session's connection to the card; the caller holds
// sem. The card is locked before it is released, on the session's own
// handle, so that no other program can connect in between and find it
// authenticated:
//   - after a session that verified only the PIN, with the cheapest
//     command the card honours: VERIFY P1=FF clears the PIN's security
//     status, and the status query then must answer 63Cx (see forgetPIN);
//   - after the management key, or when the card still reports the PIN
//     verified or the command fails, by disconnecting with
//     SCARD_RESET_CARD, which makes the card forget everything.
//
// Never release first and lock afterwards. If the reset fails, the
// connection is kept rather than released unlocked; pcscd resets the card
// when this process exits.
func (c *Card) disconnect() error {
	if c.yk == nil {
		return nil
	}
	yk := c.yk
	if c.verified == 0 || c.verified == verifiedPIN && c.handle.forgetPIN() {
		c.yk, c.verified = nil, 0
		if err := yk.Close(); err != nil {
			return cardError("close card", err)
		}
		return nil
	}
	if err := c.handle.disconnectReset(); err != nil {
		return cardError("reset the card to make it forget the PIN", err)
	}
	c.yk, c.verified = nil, 0
	// The handle is gone: piv-go's own SCardDisconnect fails, and Close
	// releases its PC/SC context.
	yk.Close()
	return nil
}

// Certificate returns the certificate stored in slot. The error wraps
// ErrSlotEmpty if there is none.
//
// APDUs: GET DATA `00 CB 3F FF 05 5C 03 <object>`, plus a GET RESPONSE
// `00 C0 00 00 00` per further 256 bytes of answer (one for a typical
// EC certificate).
func (c *Card) Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	op := "read certificate from slot " + slot.String()
	l, err := c.lease(ctx, op)
	if err != nil {
		return nil, err
	}
	defer l.release()
	var cert *x509.Certificate
	err = l.run(ctx, op, func(yk *piv.YubiKey) error {
		var err error
		cert, err = yk.Certificate(slot.piv())
		switch {
		case err == nil:
			return nil
		case errors.Is(err, piv.ErrNotFound):
			return fmt.Errorf("slot %s: %w", slot, ErrSlotEmpty)
		case errors.Unwrap(err) == nil:
			// piv-go wraps card and PC/SC errors; a bare error is about
			// the data: no valid certificate.
			return fmt.Errorf("%s: %v: store a valid DER X.509 certificate in the slot", op, err)
		}
		return cardError(op, err)
	})
	if err != nil {
		return nil, err
	}
	return cert, nil
}
