package piv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

var (
	// ErrNoCard means that no reader holds a PIV card that could be
	// opened. Errors from Open and List wrap it with the reasons per reader.
	ErrNoCard = errors.New(`no PIV card found: insert a card and run "notation-piv list"`)

	// ErrSlotEmpty means that a slot holds no certificate. Certificate wraps
	// it with the slot name.
	ErrSlotEmpty = errors.New("no certificate in the slot: generate a key in it and store the key's certificate there")

	// ErrNoPIN means that the card needs its PIN and no PIN source is
	// available. A PINSource also returns it, wrapped with the reason, when
	// it cannot be used here (an unset variable, no terminal); First then
	// tries the next source.
	ErrNoPIN = errors.New("the card needs its PIN but no PIN source is available: set NOTATION_PIV_PIN, configure a pin_file or a pinentry program, or run from a terminal")

	// ErrPINCancelled means that the user cancelled the PIN prompt or
	// entered nothing.
	ErrPINCancelled = errors.New("PIN entry was cancelled: sign again and enter the PIN")

	// ErrKeyMismatch means that the card's signature does not verify with
	// the public key of the slot's certificate: the certificate belongs to
	// another key.
	ErrKeyMismatch = errors.New("the key in the slot does not match the slot's certificate: store the certificate issued for this key, or generate a new key and certificate")
)

// PINError reports a PIN the card did not accept, or a PIN that was not
// sent to the card at all (Malformed, LastTry). The PIN is never retried
// automatically: each wrong PIN costs exactly one of the card's retries.
type PINError struct {
	// RetriesLeft is the number of PIN retries the card has left; -1 if
	// unknown.
	RetriesLeft int
	// Blocked means that no retries are left: the PIN must be unblocked
	// with the PUK before the card signs again.
	Blocked bool
	// Malformed means that the PIN was refused before it reached the card
	// (see CheckPIN); no retry was spent.
	Malformed bool
	// Problem says why a Malformed PIN was refused, as words that follow
	// "the PIN", such as "begins or ends with whitespace"; "" means "must
	// be 6 to 8 characters long".
	Problem string
	// LastTry means that the card has one try left and the PIN was not
	// sent (see SignerOptions.AllowLastPINTry); no retry was spent.
	LastTry bool
}

// Error says what happened and what to do, without the PIN.
func (e *PINError) Error() string {
	switch {
	case e.Blocked:
		return "the PIN is blocked: set a new PIN with the PUK (\"notation-piv pin unblock\") and sign again"
	case e.LastTry:
		return "no PIN was sent to the card: it has 1 PIN try left, and a wrong PIN would block it: check the PIN source, then allow the last try for one signature (pluginConfig allow_last_pin_try=true, or --allow-last-pin-try); a correct PIN restores all the tries"
	case e.Malformed:
		return "the PIN " + e.problem() + "; it was not sent to the card: fix the PIN source and sign again"
	case e.RetriesLeft < 0:
		return "wrong PIN: check the PIN source and sign again"
	}
	return fmt.Sprintf("wrong PIN, %d %s left before the PIN is blocked: check the PIN source and sign again", e.RetriesLeft, plural(e.RetriesLeft, "try", "tries"))
}

// problem returns Problem, or the length rule if it is empty.
func (e *PINError) problem() string {
	if e.Problem == "" {
		return "must be 6 to 8 characters long"
	}
	return e.Problem
}

// SelectionError means that a Selector did not pick exactly one card: no
// card matches it, or it is empty and several cards are present.
type SelectionError struct {
	// Selector is the selector given to Open.
	Selector Selector
	// Cards are the PIV cards found in the readers Open looked at.
	Cards []CardInfo
}

// Error lists the cards found and says how to choose one.
func (e *SelectionError) Error() string {
	var b strings.Builder
	if e.Selector == (Selector{}) {
		fmt.Fprintf(&b, "found %d PIV cards", len(e.Cards))
	} else {
		fmt.Fprintf(&b, "no PIV card matches %s", e.Selector)
	}
	if len(e.Cards) == 0 {
		b.WriteString("; no PIV card found: insert a card and run \"notation-piv list\"")
		return b.String()
	}
	b.WriteString(": ")
	for i, c := range e.Cards {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.String())
	}
	b.WriteString("; choose one by serial number or reader name")
	return b.String()
}

// UnsupportedKeyError means that a key cannot sign Notary Project
// signatures.
type UnsupportedKeyError struct {
	// Key describes the key, for example "RSA-1024" or "Ed25519".
	Key string
}

// Error names the key and the supported key specs.
func (e *UnsupportedKeyError) Error() string {
	specs := make([]string, len(supportedKeySpecs))
	for i, s := range supportedKeySpecs {
		specs[i] = string(s)
	}
	return fmt.Sprintf("unsupported key %s: Notary Project signatures need one of %s; generate a key of one of these types",
		e.Key, strings.Join(specs, ", "))
}

// TimeoutError means that the card did not answer in time. The card call
// goes on in the background; see the package documentation.
type TimeoutError struct {
	// Op is the operation that timed out, for example "sign with slot 9c".
	Op string
	// After is how long the call waited.
	After time.Duration
}

// Error names the operation and says what to do.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s: the card did not answer within %v: if it is waiting for a touch, touch it; otherwise remove and reinsert it and try again",
		e.Op, e.After.Round(time.Millisecond))
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// CardError is a card command or PC/SC call that failed.
type CardError struct {
	// Op is the operation, for example "read certificate from slot 9c".
	Op string
	// SW is the card's status word, for example 0x6982; 0 if the card did
	// not answer (a PC/SC error).
	SW uint16
	// Err is the error from piv-go or PC/SC.
	Err error
}

// Error names the operation and the card's answer and says what to do.
func (e *CardError) Error() string {
	var hint string
	switch {
	case e.SW == 0 && cardGone(e.Err):
		return fmt.Sprintf("%s: the card was removed, or lost contact with the reader, in the middle of the command (%v): reinsert the card and try again", e.Op, e.Err)
	case e.SW == 0:
		hint = "check that pcscd runs, that the card is inserted and that no other program uses it, then try again"
	case e.SW == 0x6982:
		hint = "the card refused the operation without authentication; check the slot's PIN policy"
	case e.SW == 0x6d00 || e.SW == 0x6e00:
		hint = "the card does not support this command; use a PIV card such as a YubiKey 5"
	default:
		hint = `run "notation-piv list" to check the card, then try again`
	}
	return fmt.Sprintf("%s: %v: %s", e.Op, e.Err, hint)
}

// Unwrap returns Err.
func (e *CardError) Unwrap() error { return e.Err }

// cardGone reports whether a PC/SC error means that the card left the
// reader, or lost power, in the middle of a command. piv-go exports
// neither the PC/SC codes nor a type, only their messages.
func cardGone(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"smart card has been removed",                // SCARD_W_REMOVED_CARD
		"no Smart Card is currently in the device",   // SCARD_E_NO_SMARTCARD
		"power has been removed from the smart card", // SCARD_W_UNPOWERED_CARD
		"smart card has been reset",                  // SCARD_W_RESET_CARD
		"reader is not currently available",          // SCARD_E_READER_UNAVAILABLE
		"scard response too short: 0",                // the reader driver answered nothing
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// BusyError means that another program held the card exclusively until
// the deadline. It unwraps to context.DeadlineExceeded: the plugin maps it
// to TIMEOUT.
type BusyError struct {
	// Reader is the PC/SC name of the card's reader.
	Reader string
	// After is how long Open waited for the card.
	After time.Duration
}

// Error names the reader and says what to do.
func (e *BusyError) Error() string {
	return fmt.Sprintf("the card in reader %q is in use by another program, which did not let it go within %v: close that program or wait for it to finish, then try again",
		e.Reader, e.After.Round(time.Millisecond))
}

// Unwrap returns context.DeadlineExceeded.
func (e *BusyError) Unwrap() error { return context.DeadlineExceeded }

// statusError is implemented by piv-go's APDU errors.
type statusError interface{ Status() uint16 }

// cardError wraps an error from piv-go in a *CardError with its status
// word, if any.
func cardError(op string, err error) *CardError {
	ce := &CardError{Op: op, Err: err}
	var se statusError
	if errors.As(err, &se) {
		ce.SW = se.Status()
	}
	return ce
}

// pinError turns a failed VERIFY into a *PINError, or a *CardError if the
// card did not judge the PIN.
func pinError(err error) error {
	var auth piv.AuthErr
	if !errors.As(err, &auth) {
		return cardError("verify PIN", err)
	}
	return &PINError{RetriesLeft: auth.Retries, Blocked: auth.Retries == 0}
}

// ctxError returns the error for a call that ctx ended after it had waited
// since start.
func ctxError(ctx context.Context, op string, start time.Time) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{Op: op, After: time.Since(start)}
	}
	return fmt.Errorf("%s: %w", op, ctx.Err())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
