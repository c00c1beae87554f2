package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ebfe/scard"
	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// Selector picks one card among those in the PC/SC readers. The zero
// Selector picks the only card present.
type Selector struct {
	// Serial is the card's serial number; 0 matches any card.
	Serial uint32
	// GUID is the GUID of the card's CHUID, 32 lowercase hex digits (see
	// ParseGUID), which names cards without a serial number; "" matches
	// any card.
	GUID string
	// Reader is a case-sensitive substring of the PC/SC reader name, such
	// as "Yubico YubiKey"; "" matches any reader.
	Reader string
}

// String describes the selector for messages, such as
// `serial 12345678 in a reader named "*Yubico*"`.
func (s Selector) String() string {
	var parts []string
	if s.Serial != 0 {
		parts = append(parts, fmt.Sprintf("serial %d", s.Serial))
	}
	if s.GUID != "" {
		parts = append(parts, "GUID "+s.GUID)
	}
	if s.Reader != "" {
		parts = append(parts, fmt.Sprintf("a reader named %q", "*"+s.Reader+"*"))
	}
	if len(parts) == 0 {
		return "any card"
	}
	return strings.Join(parts, " in ")
}

// matches reports whether the card info describes is one s picks, as far
// as the identifiers read tell.
func (s Selector) matches(info CardInfo) bool {
	return (s.Serial == 0 || info.Serial == s.Serial) && (s.GUID == "" || info.GUID == s.GUID)
}

// ParseGUID returns the card GUID that s writes, as 32 lowercase hex
// digits: s holds 32 hex digits, in either case, optionally grouped with
// hyphens as a UUID (8-4-4-4-12).
func ParseGUID(s string) (string, error) {
	digits := strings.ToLower(s)
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		digits = strings.ReplaceAll(digits, "-", "")
	}
	if len(digits) != 32 || strings.Trim(digits, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%q is not a card GUID: want 32 hex digits, as notation-piv list shows them", s)
	}
	return digits, nil
}

// Kind says how much of YubiKey's extensions to SP 800-73-4 a card
// offers.
type Kind int

const (
	// KindPlain is a card that follows only NIST SP 800-73-4: it refuses
	// GET VERSION, has no serial number, and no command to generate a key
	// with a known management key, attest or reset.
	KindPlain Kind = iota
	// KindYubiKey is a YubiKey, or a card that answers as one (CanoKey,
	// PivApplet): it has all of the extensions.
	KindYubiKey
	// KindTrussed is trussed's PIV applet (Nitrokey 3, Solo 2). It
	// answers GET VERSION with 6.6.6, GET SERIAL with the same number on
	// every device, and GET METADATA with nothing, and cannot attest:
	// notation-piv signs with it as with a plain card.
	KindTrussed
)

// String names the kind for people: "YubiKey", "trussed (Nitrokey 3,
// Solo 2)" or "SP 800-73-4".
func (k Kind) String() string {
	switch k {
	case KindYubiKey:
		return "YubiKey"
	case KindTrussed:
		return "trussed (Nitrokey 3, Solo 2)"
	}
	return "SP 800-73-4"
}

// CardInfo describes a PIV card found by List or Open.
type CardInfo struct {
	// Reader is the PC/SC name of the reader holding the card.
	Reader string
	// Kind says which extensions to SP 800-73-4 the card offers.
	Kind Kind
	// Serial is the card's serial number; 0 if the card has none (only
	// YubiKeys do), or if it was not read.
	Serial uint32
	// GUID is the GUID of the card's CHUID, 32 lowercase hex digits; ""
	// if the card has none, or if it was not read. It names cards without
	// a serial number.
	GUID string
	// Version is the PIV application's version, such as "5.7.1"; "" if
	// the card does not tell (KindPlain).
	Version string
}

// String describes the card for messages, such as
// `serial 12345678 (YubiKey 5.7.1) in reader "Yubico YubiKey OTP+FIDO+CCID 00 00"`,
// `GUID 0123… (SP 800-73-4) in reader "…"`, or `with no serial or GUID
// (SP 800-73-4) in reader "…"`.
func (c CardInfo) String() string {
	id := "with no serial or GUID"
	switch {
	case c.Serial != 0:
		id = fmt.Sprintf("serial %d", c.Serial)
	case c.GUID != "":
		id = "GUID " + c.GUID
	}
	kind := c.Kind.String()
	if c.Version != "" {
		kind += " " + c.Version
	}
	return fmt.Sprintf("%s (%s) in reader %q", id, kind, c.Reader)
}

// Card is an open PIV card, held exclusively: no other program can use
// the card until Close. A Card is safe for concurrent use; its operations
// run one at a time.
type Card struct {
	info CardInfo // Serial and GUID are "" until read, see serialRead
	// version is the firmware version GET VERSION answered, if it did.
	version [3]byte
	// serialRead and guidRead say that info.Serial and info.GUID were
	// read from the card, so that a card without them is asked only once.
	serialRead, guidRead bool
	// verified is what this session may have left verified on the card:
	// Close makes the card forget it (see disconnect), so that the next
	// program to connect finds the card locked. Guarded by sem.
	verified credentials
	// sem holds a token while an operation uses conn, including an
	// operation that timed out and still runs in the background.
	sem chan struct{}
	// conn is the connection to the card, guarded by sem; nil once
	// closed. It is piv-go's once card management needs piv-go (see
	// manage).
	conn conn
	// pcsc is the PC/SC context that conn was opened in, if the Card
	// owns it; released by disconnect.
	pcsc *scard.Context
}

// List returns the PIV cards in all PC/SC readers, with the serial number
// of each YubiKey and the GUID of every other card. It opens each card
// briefly; readers without a card, and cards that cannot be opened (in
// use by another program, not a PIV card), are left out. With no card at
// all the error wraps ErrNoCard and gives the reason for each reader.
func List(ctx context.Context) ([]CardInfo, error) {
	sc, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	defer sc.Release()
	readers, err := listReaders(ctx, sc)
	if err != nil {
		return nil, err
	}
	_, found, failures, _, err := probe(ctx, sc, readers, false, withSerial|withGUID, func(CardInfo) (keep, stop bool) { return false, false })
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
//     if sel picks no card in particular and there are several;
//   - a *TimeoutError if ctx ends first;
//   - a *CardError if PC/SC fails, for example when pcscd does not run.
//
// A card another program holds (a concurrent signature, say) is waited
// for, until ctx ends, but only when no free card matches sel.
//
// Open looks only at readers whose name matches sel.Reader, opens each
// card there, and closes those it does not return. It reads the serial
// numbers and GUIDs only when sel names one, or to list the cards in an
// error: opening the only card costs two APDUs (see openReader), and
// Card.ReadSerial and Card.ReadGUID read them later if needed. Only when
// no card matches does it also look at the other readers, to list them in
// the error.
func Open(ctx context.Context, sel Selector) (*Card, error) {
	return inContext(ctx, func(sc *scard.Context) (*Card, error) { return open(ctx, sc, sel) })
}

// inContext opens a PC/SC context and a card in it with open; the card
// returned owns the context, which is released otherwise.
func inContext(ctx context.Context, open func(sc *scard.Context) (*Card, error)) (*Card, error) {
	sc, err := establish(ctx)
	if err != nil {
		return nil, err
	}
	c, err := open(sc)
	var timeout *TimeoutError
	switch {
	case errors.As(err, &timeout):
		// A command abandoned at the deadline may still run in the
		// context, and pcsc-lite's release waits for it.
		go sc.Release()
		return nil, err
	case err != nil:
		sc.Release()
		return nil, err
	}
	c.pcsc = sc
	return c, nil
}

// open is Open in the PC/SC context sc.
func open(ctx context.Context, sc *scard.Context, sel Selector) (*Card, error) {
	readers, err := listReaders(ctx, sc)
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
	var want identity
	if sel.Serial != 0 {
		want |= withSerial
	}
	if sel.GUID != "" {
		want |= withSerial | withEveryGUID
	}
	keep := func(c CardInfo) (keep, stop bool) {
		picked := sel.Serial != 0 || sel.GUID != ""
		return sel.matches(c), picked && sel.matches(c)
	}
	kept, found, failures, busy, err := probe(ctx, sc, matching, false, want, keep)
	if err != nil {
		return nil, err
	}
	if len(kept) == 0 && len(busy) > 0 {
		// Nothing free matches, but cards another program holds may: wait
		// for them, as a concurrent notation sign would want.
		var (
			waited         []CardInfo
			waitedFailures []error
		)
		kept, waited, waitedFailures, _, err = probe(ctx, sc, busy, true, want, keep)
		if err != nil {
			return nil, err
		}
		found = append(found, waited...)
		// The busy readers' new reasons replace their old ones.
		failures = slices.DeleteFunc(failures, func(err error) bool { return errors.Is(err, errBusy) })
		failures = append(failures, waitedFailures...)
	}
	if len(kept) == 1 {
		return kept[0], nil
	}
	if len(kept) > 1 {
		// Several cards and none picked: list them with their serial
		// numbers or GUIDs so that the user can pick one.
		cards := make([]CardInfo, len(kept))
		for i, c := range kept {
			// On error the card is listed without them.
			if serial, _ := c.ReadSerial(ctx); serial == 0 {
				c.ReadGUID(ctx)
			}
			cards[i] = c.info
			c.Close()
		}
		return nil, &SelectionError{Selector: sel, Cards: cards}
	}
	_, more, moreFailures, _, err := probe(ctx, sc, others, false, withSerial|withGUID, func(CardInfo) (keep, stop bool) { return false, false })
	if err != nil {
		return nil, err
	}
	found = append(found, more...)
	if len(found) == 0 {
		return nil, noCard(append(failures, moreFailures...))
	}
	return nil, &SelectionError{Selector: sel, Cards: found}
}

// Info describes the card as far as it is known: Serial and GUID may not
// have been read (see ReadSerial and ReadGUID).
func (c *Card) Info() CardInfo { return c.info }

// Serial returns the card's serial number as far as it is known: 0 if the
// card reports none, or if it has not been read. Open reads it only when
// the Selector names a serial number; ReadSerial reads it otherwise.
func (c *Card) Serial() uint32 { return c.info.Serial }

// ReadSerial returns the card's serial number, reading it from the card if
// Open did not: GET SERIAL `00 F8 00 00 00` on a YubiKey 5, through the
// OTP application on older YubiKeys (see yubiKeySerial). Cards without a
// serial number, including older YubiKeys without an OTP application and
// trussed's applet (which answers the same number on every device), give
// 0 and no error.
func (c *Card) ReadSerial(ctx context.Context) (uint32, error) {
	if c.serialRead {
		return c.info.Serial, nil
	}
	const op = "read the card's serial number"
	err := c.do(ctx, op, func(conn) error {
		if err := c.readSerial(); err != nil {
			return cardError(op, err)
		}
		return nil
	})
	return c.info.Serial, err
}

// ReadGUID returns the GUID of the card's CHUID as 32 lowercase hex
// digits, reading it from the card if Open did not: GET DATA of object
// 5FC102, plus GET RESPONSE when the CHUID holds a signature. A card
// without a CHUID, or whose CHUID holds no GUID, gives "" and no error.
func (c *Card) ReadGUID(ctx context.Context) (string, error) {
	if c.guidRead {
		return c.info.GUID, nil
	}
	const op = "read the card's GUID"
	err := c.do(ctx, op, func(conn) error {
		if err := c.readGUID(); err != nil {
			return cardError(op, err)
		}
		return nil
	})
	return c.info.GUID, err
}

// Reader returns the PC/SC name of the card's reader.
func (c *Card) Reader() string { return c.info.Reader }

// Close releases the card. If a PIN or the management key was verified in
// this session, Close first makes the card forget them on the same
// connection, before any other program can connect (see disconnect). If
// an operation that timed out still runs, Close returns at once and the
// card is released when that operation ends. Closing a closed Card does
// nothing.
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
// connection, so that no other program can connect in between and find
// it authenticated:
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
	if c.conn == nil {
		return nil
	}
	reset := c.verified != 0 && !(c.verified == verifiedPIN && forgetPIN(c.conn))
	if err := c.conn.close(reset); err != nil && reset {
		return cardError("reset the card to make it forget the PIN", err)
	}
	c.conn, c.verified = nil, 0
	if c.pcsc != nil {
		c.pcsc.Release()
		c.pcsc = nil
	}
	return nil
}

// Certificate returns the certificate stored in slot, decompressed if
// the card stores it compressed. The error wraps ErrSlotEmpty if there is
// none.
//
// APDUs: GET DATA `00 CB 3F FF 05 5C 03 <object> 00`, plus a GET RESPONSE
// `00 C0 00 00 00` per further 256 bytes of answer (one for a typical
// EC certificate).
func (c *Card) Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	op := "read certificate from slot " + slot.String()
	var cert *x509.Certificate
	err := c.do(ctx, op, func(conn conn) error {
		var certErr, err error
		cert, certErr, err = readCertificate(conn, op, slot.object())
		switch {
		case err != nil:
			return cardError(op, err)
		case certErr != nil:
			return fmt.Errorf("%s: %w", op, certErr)
		case cert == nil:
			return fmt.Errorf("slot %s: %w", slot, ErrSlotEmpty)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// InvalidCertificateError means that a slot's certificate object holds no
// certificate notation-piv can read.
type InvalidCertificateError struct {
	// Problem says what is wrong, such as "not a valid X.509
	// certificate: …".
	Problem string
}

// Error says what is wrong with the stored certificate.
func (e *InvalidCertificateError) Error() string {
	return "the stored certificate is unusable: " + e.Problem
}

// readCertificate reads a certificate object, under name: `53 L {70 L
// DER, 71 01 info, FE 00}`. A missing object gives three nils; an object
// that holds no usable certificate gives an *InvalidCertificateError as
// certErr; err is a failed command.
func readCertificate(conn conn, name string, object uint32) (cert *x509.Certificate, certErr, err error) {
	b, err := apdu.Exchange(conn, getData(name, object))
	if sw := apdu.SW(err); sw == 0x6A82 || sw == 0x6A88 {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	obj, err := apdu.ParseCertificateObject(b)
	if err != nil {
		return nil, &InvalidCertificateError{Problem: err.Error()}, nil
	}
	if obj.DER == nil {
		return nil, nil, nil
	}
	cert, err = x509.ParseCertificate(obj.DER)
	if err != nil {
		return nil, &InvalidCertificateError{Problem: "not a valid X.509 certificate: " + err.Error()}, nil
	}
	return cert, nil, nil
}
