package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// resetOnClose says that this session may have left the card
	// authenticated: a verified PIN or management key. Close then resets
	// the card, so that the next program to connect finds it locked.
	// Guarded by sem.
	resetOnClose bool
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
// this session, Close first resets the card on the same connection, so
// that the card has forgotten them before any other program can connect
// (see disconnect). If an operation that timed out still runs, Close
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

// disconnect ends the session's connection to the card; the caller holds
// sem. A session that may have left the card authenticated (resetOnClose)
// disconnects with SCARD_RESET_CARD on its own handle: the card is locked
// before it is released. Never release first and reset afterwards: another
// program waiting for the card would get it in between, authenticated.
//
// If that reset fails, the connection is kept rather than released
// unlocked; pcscd resets the card when this process exits.
func (c *Card) disconnect() error {
	if c.yk == nil {
		return nil
	}
	yk := c.yk
	if !c.resetOnClose {
		c.yk = nil
		if err := yk.Close(); err != nil {
			return cardError("close card", err)
		}
		return nil
	}
	if err := c.handle.disconnectReset(); err != nil {
		return cardError("reset the card to make it forget the PIN", err)
	}
	c.yk, c.resetOnClose = nil, false
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

// lease is the right to use a card's piv-go handle, from Card.lease to
// release.
type lease struct {
	c *Card
	// lost is set when a call timed out: its goroutine then owns the card
	// and releases it when it returns.
	lost bool
}

// lease waits until the card is free or ctx ends.
func (c *Card) lease(ctx context.Context, op string) (*lease, error) {
	start := time.Now()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxError(ctx, op, start)
	}
	if c.yk == nil {
		c.release()
		return nil, fmt.Errorf("%s: the card is closed; open it again", op)
	}
	return &lease{c: c}, nil
}

// run calls f with the card's handle and returns f's error, or a
// *TimeoutError if ctx ends first. f's errors must already be wrapped for
// the caller. After a timeout the lease is lost and run must not be called
// again.
func (l *lease) run(ctx context.Context, op string, f func(yk *piv.YubiKey) error) error {
	yk := l.c.yk
	abandoned, err := await(ctx, op, func() error { return f(yk) }, l.c.release)
	if abandoned {
		l.lost = true
	}
	return err
}

// release gives the card back, unless a timed-out call still uses it.
func (l *lease) release() {
	if !l.lost {
		l.c.release()
	}
}

func (c *Card) release() { <-c.sem }

// await calls f in a new goroutine and waits until f returns or ctx ends.
// If ctx ends first, await returns abandoned=true and a ctxError at once;
// the goroutine calls abandon (if not nil) when f returns.
func await(ctx context.Context, op string, f func() error, abandon func()) (abandoned bool, err error) {
	start := time.Now()
	if ctx.Err() != nil {
		// Not started: nothing runs in the background.
		if abandon != nil {
			abandon()
		}
		return true, ctxError(ctx, op, start)
	}
	var (
		mu               sync.Mutex
		finished, gaveUp bool
		done             = make(chan error, 1)
	)
	go func() {
		err := f()
		mu.Lock()
		finished = true
		cleanup := gaveUp
		mu.Unlock()
		if cleanup && abandon != nil {
			abandon()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return false, err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return false, <-done
		}
		gaveUp = true
		return true, ctxError(ctx, op, start)
	}
}

// listReaders returns the PC/SC reader names, or ErrNoCard if there are
// none.
func listReaders(ctx context.Context) ([]string, error) {
	const op = "list smart card readers"
	var readers []string
	_, err := await(ctx, op, func() error {
		var err error
		readers, err = piv.Cards()
		return err
	}, nil)
	var timeout *TimeoutError
	switch {
	case errors.As(err, &timeout):
		return nil, err
	case err != nil:
		return nil, cardError(op, err)
	case len(readers) == 0:
		return nil, fmt.Errorf("%w (no smart card reader found)", ErrNoCard)
	}
	return readers, nil
}

// probe opens the card in each reader in turn and, with withSerial,
// reads its serial number. keep decides for each card whether to return it open (else it is closed)
// and whether to stop probing. found describes every card opened;
// failures says why each other reader gave no card.
func probe(ctx context.Context, readers []string, wait, withSerial bool, keep func(CardInfo) (keep, stop bool)) (kept []*Card, found []CardInfo, failures []error, busy []string, err error) {
	for _, r := range readers {
		c, err := openReader(ctx, r, wait, withSerial)
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
const busyPoll = 50 * time.Millisecond

// errBusy marks a reader whose card another PC/SC connection holds.
var errBusy = errors.New("the card is in use by another program")

// isBusy reports whether a piv-go error is PC/SC's SCARD_E_SHARING_VIOLATION.
// piv-go does not export the code, only its message.
func isBusy(err error) bool {
	return err != nil && strings.Contains(err.Error(), "other connections outstanding")
}

// openWhenFree opens the card in reader with piv-go, which holds it
// exclusively until Close. With wait set, while another connection holds
// the card (for example a concurrent notation sign) it tries again every
// busyPoll until ctx ends, or DefaultTimeout if ctx has no deadline, so
// that concurrent signatures take turns instead of failing. The sharing
// violation comes from SCardConnect, before piv-go's SELECT, so retrying
// leaks no handle.
func openWhenFree(ctx context.Context, reader string, wait bool, busy *atomic.Bool) (*piv.YubiKey, error) {
	if _, ok := ctx.Deadline(); !ok && wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	for {
		yk, err := piv.Open(reader)
		busy.Store(isBusy(err))
		if !isBusy(err) {
			return yk, err
		}
		if !wait {
			return nil, fmt.Errorf("%w: %v", errBusy, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", errBusy, err)
		case <-time.After(busyPoll):
		}
	}
}

// openReader opens the card in reader and, with withSerial, reads its
// serial number.
//
// APDUs: SELECT `00 A4 04 00 05 A0 00 00 03 08` and GET VERSION `00 FD 00
// 00 00`, from piv-go; with withSerial, GET SERIAL `00 F8 00 00 00`
// (YubiKey 5; older YubiKeys go through the OTP application).
func openReader(ctx context.Context, reader string, wait, withSerial bool) (*Card, error) {
	op := fmt.Sprintf("open card in reader %q", reader)
	var (
		yk     *piv.YubiKey
		serial uint32
		busy   atomic.Bool // the last try found the card held by another program
	)
	start := time.Now()
	_, err := await(ctx, op, func() error {
		k, err := openWhenFree(ctx, reader, wait, &busy)
		if err != nil || !withSerial {
			yk = k
			return err
		}
		s, err := k.Serial()
		var se statusError
		if err != nil && !errors.As(err, &se) {
			// The card did not answer; one that answers with an error
			// status just has no serial number.
			k.Close()
			return err
		}
		yk, serial = k, s
		return nil
	}, func() {
		if yk != nil {
			yk.Close()
		}
	})
	if err != nil {
		var (
			timeout *TimeoutError
			se      statusError
		)
		switch {
		case wait && ctx.Err() != nil && busy.Load():
			// Whichever noticed the deadline first, the card was held
			// by another program until then.
			return nil, &BusyError{Reader: reader, After: time.Since(start)}
		case errors.As(err, &timeout):
			return nil, err
		case errors.As(err, &se) && !errors.Is(err, piv.ErrNotFound):
			// A card is there but failed SELECT or GET VERSION with an
			// error status: a broken card, not a missing one.
			return nil, cardError(op, err)
		}
		return nil, fmt.Errorf("reader %q: %w", reader, err)
	}
	handle, err := pcscHandleOf(yk)
	if err != nil {
		yk.Close()
		return nil, err
	}
	v := yk.Version()
	return &Card{
		info:       CardInfo{Reader: reader, Serial: serial, Version: fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)},
		serialRead: withSerial,
		sem:        make(chan struct{}, 1),
		yk:         yk,
		handle:     handle,
	}, nil
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
