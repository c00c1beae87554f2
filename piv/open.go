package piv

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"
	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// establish opens a PC/SC context: a connection to pcscd.
func establish(ctx context.Context) (*scard.Context, error) {
	const op = "connect to the smart card service (pcscd)"
	var sc *scard.Context
	_, err := await(ctx, op, func() error {
		return retryConnect(ctx, func() (err error) { sc, err = scard.EstablishContext(); return err })
	}, func() {
		if sc != nil {
			sc.Release()
		}
	})
	var timeout *TimeoutError
	switch {
	case errors.As(err, &timeout):
		return nil, err
	case err != nil:
		return nil, cardError(op, err)
	}
	return sc, nil
}

// listReaders returns the PC/SC reader names, or ErrNoCard if there are
// none.
func listReaders(ctx context.Context, sc *scard.Context) ([]string, error) {
	const op = "list smart card readers"
	var readers []string
	_, err := await(ctx, op, func() error {
		var err error
		readers, err = sc.ListReaders()
		return err
	}, nil)
	var timeout *TimeoutError
	switch {
	case errors.As(err, &timeout):
		return nil, err
	case errors.Is(err, scard.ErrNoReadersAvailable) || err == nil && len(readers) == 0:
		return nil, fmt.Errorf("%w (no smart card reader found)", ErrNoCard)
	case err != nil:
		return nil, cardError(op, err)
	}
	return readers, nil
}

// probe opens the card in each reader in turn and reads what want asks
// for. keep decides for each card whether to return it open (else it is
// closed) and whether to stop probing. found describes every card opened;
// failures says why each other reader gave no card; busy lists the readers
// whose card another program held.
func probe(ctx context.Context, sc *scard.Context, readers []string, wait bool, want identity, keep func(CardInfo) (keep, stop bool)) (kept []*Card, found []CardInfo, failures []error, busy []string, err error) {
	for _, r := range readers {
		c, err := openReader(ctx, sc, r, wait, want)
		var timeout *TimeoutError
		if errors.As(err, &timeout) || (err != nil && ctx.Err() != nil) {
			for _, c := range kept {
				c.Close()
			}
			return nil, nil, nil, nil, err
		}
		if errors.Is(err, errBusy) {
			busy = append(busy, r)
		}
		if err != nil {
			failures = append(failures, err)
			continue
		}
		found = append(found, c.info)
		k, stop := keep(c.info)
		if k {
			kept = append(kept, c)
		} else {
			c.Close()
		}
		if stop {
			break
		}
	}
	return kept, found, failures, busy, nil
}

// busyPoll is how often Open tries again a card another process holds.
// pcscd does not report a card's release to SCardGetStatusChange, so
// polling it is; one try is one round trip to pcscd, and 10 ms lets the
// runners of a signing station take turns at about 110 signatures per
// second against 28 with 50 ms (make bench, BenchmarkTunnelThroughput).
const busyPoll = 10 * time.Millisecond

// errBusy marks a reader whose card another PC/SC connection holds.
var errBusy = errors.New("the card is in use by another program")

// whileBusy calls connect until it does not report the card held by
// another program, and returns its error. With wait set, it tries again
// every busyPoll until ctx ends, or DefaultTimeout if ctx has no
// deadline; without, it tries once.
func whileBusy(ctx context.Context, wait bool, connect func() (busy bool, err error)) error {
	if _, ok := ctx.Deadline(); !ok && wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	for {
		busy, err := connect()
		if !busy || !wait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(busyPoll):
		}
	}
}

// identity says which identifiers openReader reads beyond the card's
// version.
type identity uint8

const (
	// withSerial: the serial number, on cards that have one.
	withSerial identity = 1 << iota
	// withGUID: the CHUID's GUID, on cards without a serial number.
	withGUID
	// withEveryGUID: the GUID of every card, to match a Selector that
	// names one.
	withEveryGUID
)

// openReader opens the card in reader, learns its kind and reads the
// identifiers want names.
//
// APDUs: SELECT `00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00`, GET
// VERSION `00 FD 00 00 00` (a YubiKey extension: a card that refuses it
// follows only SP 800-73-4), then as asked GET SERIAL `00 F8 00 00 00`
// (YubiKeys) and GET DATA of the CHUID `00 CB 3F FF 05 5C 03 5F C1 02 00`.
func openReader(ctx context.Context, sc *scard.Context, reader string, wait bool, want identity) (*Card, error) {
	op := fmt.Sprintf("open card in reader %q", reader)
	var (
		c     *Card
		start = time.Now()
		busy  atomic.Bool // the last try found the card held by another program
	)
	_, err := await(ctx, op, func() error {
		var oc *ownConn
		err := whileBusy(ctx, wait, func() (bool, error) {
			var err error
			oc, err = connect(sc, reader)
			busy.Store(isBusy(err))
			return isBusy(err), err
		})
		if busy.Load() {
			return fmt.Errorf("%w: %v", errBusy, err)
		}
		if err != nil {
			return err
		}
		c = &Card{info: CardInfo{Reader: reader}, sem: make(chan struct{}, 1), conn: oc}
		if err := c.identify(want); err != nil {
			oc.close(false)
			c = nil
			return err
		}
		return nil
	}, func() {
		if c != nil {
			c.conn.close(false)
		}
	})
	if err != nil {
		var timeout *TimeoutError
		switch {
		case wait && ctx.Err() != nil && busy.Load():
			// Whichever noticed the deadline first, the card was held
			// by another program until then.
			return nil, &TimeoutError{Op: op, Busy: true, After: time.Since(start)}
		case errors.As(err, &timeout):
			return nil, err
		case apdu.SW(err) != 0 && apdu.SW(err) != 0x6A82, errors.As(err, new(*apdu.ResponseError)):
			// A card is there but failed SELECT with an error status: a
			// broken card, not a missing one.
			return nil, cardError(op, err)
		case socketFailed(err):
			return nil, cardError(op, err) // pcscd's socket failed, not the card
		}
		return nil, fmt.Errorf("reader %q: %w", reader, err)
	}
	return c, nil
}

// trussedVersion is the firmware version trussed's PIV applet (Nitrokey 3,
// Solo 2) answers: it imitates a YubiKey without its management commands.
var trussedVersion = [3]byte{6, 6, 6}

// identify selects the PIV application, learns the card's kind and reads
// the identifiers want names (see openReader).
func (c *Card) identify(want identity) error {
	if _, err := apdu.Exchange(c.conn, selectPIV); err != nil {
		return err
	}
	v, err := apdu.Exchange(c.conn, apdu.Command{Name: "read the firmware version", Ins: 0xFD, WantsData: true})
	switch {
	case err == nil && len(v) == 3 && [3]byte(v) == trussedVersion:
		c.info.Kind = KindTrussed
	case err == nil && len(v) == 3:
		c.info.Kind = KindYubiKey
	case err == nil || notSupported(apdu.SW(err)):
		// An answer that is no version, or the command refused: a card
		// that follows only SP 800-73-4.
		c.info.Kind = KindPlain
	default:
		return err
	}
	if c.info.Kind != KindPlain {
		c.version = [3]byte(v)
		c.info.Version = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
	}
	if want&withSerial != 0 {
		if err := c.readSerial(); err != nil {
			return err
		}
	}
	if want&withEveryGUID != 0 || want&withGUID != 0 && c.info.Serial == 0 {
		if err := c.readGUID(); err != nil {
			return err
		}
	}
	return nil
}

// notSupported reports whether sw is how cards refuse a command they do
// not know: instruction or class not supported (6D00, 6E00), function not
// supported (6A81), wrong parameters (6A86).
func notSupported(sw uint16) bool {
	return sw == 0x6D00 || sw == 0x6E00 || sw == 0x6A81 || sw == 0x6A86
}

// selectPIV selects the PIV Card Application by its identifier (SP
// 800-73-4 part 1, §2.2), with its version.
var selectPIV = apdu.Command{Name: "select the PIV application", Ins: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}, WantsData: true}

// readSerial reads the serial number of a YubiKey; the caller holds the
// card. Other cards have none: a plain card is not asked, and trussed's
// applet answers the same number on every device, so it is not one.
// Without a serial number info.Serial stays 0.
func (c *Card) readSerial() error {
	if c.serialRead {
		return nil
	}
	if c.info.Kind == KindYubiKey {
		b, err := c.yubiKeySerial()
		switch {
		case err == nil && len(b) == 4:
			c.info.Serial = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		case err == nil:
			return fmt.Errorf("read the card's serial number: the card answered %d bytes, want 4", len(b))
		case !notSupported(apdu.SW(err)) && apdu.SW(err) != 0x6A82:
			// A card that does not know the command, or (before
			// firmware 5) has no OTP application to ask, has no serial
			// number; any other failure is the card's.
			return err
		}
	}
	c.serialRead = true
	return nil
}

// yubiKeySerial asks a YubiKey for its serial number: GET SERIAL `00 F8 00
// 00 00` from firmware 5; before, through the OTP application: SELECT
// `00 A4 04 00 08 A0 00 00 05 27 20 01 01`, `00 01 10 00 00`, and SELECT
// of the PIV application again.
func (c *Card) yubiKeySerial() ([]byte, error) {
	if c.version[0] >= 5 {
		return apdu.Exchange(c.conn, apdu.Command{Name: "read the card's serial number", Ins: 0xF8, WantsData: true})
	}
	const name = "read the card's serial number through its OTP application"
	if _, err := apdu.Exchange(c.conn, apdu.Command{Name: name, Ins: 0xA4, P1: 0x04, Data: otpAID, WantsData: true}); err != nil {
		return nil, err
	}
	b, err := apdu.Exchange(c.conn, apdu.Command{Name: name, Ins: 0x01, P1: 0x10, WantsData: true})
	if _, serr := apdu.Exchange(c.conn, selectPIV); serr != nil {
		return nil, serr
	}
	return b, err
}

// otpAID is the identifier of YubiKey's OTP application.
var otpAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}

// readGUID reads the GUID of the card's CHUID (object 5FC102); the caller
// holds the card. A card without a CHUID, or whose CHUID holds no GUID,
// has none: info.GUID stays "".
func (c *Card) readGUID() error {
	if c.guidRead {
		return nil
	}
	b, err := apdu.Exchange(c.conn, getData("read the card's CHUID", objectCHUID))
	switch sw := apdu.SW(err); {
	case err == nil:
		if guid, err := apdu.ParseCHUIDGUID(b); err == nil {
			c.info.GUID = hex.EncodeToString(guid[:])
		}
	case sw == 0:
		return err
	}
	c.guidRead = true
	return nil
}

// objectCHUID is the Card Holder Unique Identifier's object.
const objectCHUID = 0x5FC102

// getData is GET DATA of a data object: `00 CB 3F FF 05 5C 03 <object> 00`.
func getData(name string, object uint32) apdu.Command {
	return apdu.Command{Name: name, Ins: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, byte(object >> 16), byte(object >> 8), byte(object)}, WantsData: true}
}

// noCard returns ErrNoCard with the reason each reader gave no card, or
// the *CardError of a card that is there but failed to open.
func noCard(failures []error) error {
	if len(failures) == 0 {
		return ErrNoCard
	}
	reasons := make([]string, len(failures))
	for i, f := range failures {
		var ce *CardError
		if errors.As(f, &ce) {
			return f
		}
		reasons[i] = f.Error()
	}
	return fmt.Errorf("%w (%s)", ErrNoCard, strings.Join(reasons, "; "))
}
