package piv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ebfe/scard"
	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// The errors of this package say what happened, not what to do about it:
// the program that shows them knows which command, flag or setting would
// help, and adds it.

var (
	// ErrNoCard means that no reader holds a PIV card that could be
	// opened. Errors from Open and List wrap it with the reasons per reader.
	ErrNoCard = errors.New("no PIV card found")

	// ErrSlotEmpty means that a slot holds no certificate. Certificate wraps
	// it with the slot name.
	ErrSlotEmpty = errors.New("no certificate in the slot")

	// ErrNoPIN means that the card needs its PIN and no PIN source is
	// available. A PINSource also returns it, wrapped with the reason, when
	// it cannot be used here (an unset variable, no terminal); First then
	// tries the next source.
	ErrNoPIN = errors.New("the card needs its PIN but no PIN source is available")

	// ErrPINCancelled means that the user cancelled the PIN prompt or
	// entered nothing.
	ErrPINCancelled = errors.New("PIN entry was cancelled")

	// ErrKeyMismatch means that the card's signature does not verify with
	// the public key of the slot's certificate: the certificate belongs to
	// another key.
	ErrKeyMismatch = errors.New("the key in the slot does not match the slot's certificate")

	// ErrNoProtectedKey means that the card keeps no PIN-protected copy of
	// its management key.
	ErrNoProtectedKey = errors.New("the card keeps no PIN-protected management key")
)

// Secret names a secret the card checks.
type Secret int

// The secrets of a PIV card.
const (
	SecretPIN Secret = iota + 1
	SecretPUK
	SecretManagementKey
)

// String names the secret: "PIN", "PUK" or "management key".
func (s Secret) String() string {
	switch s {
	case SecretPIN:
		return "PIN"
	case SecretPUK:
		return "PUK"
	case SecretManagementKey:
		return "management key"
	}
	return fmt.Sprintf("secret %d", int(s))
}

// CredentialError reports a PIN, PUK or management key that the card did
// not accept, or a PIN or PUK that was not sent to the card at all
// (Malformed, LastTry). Nothing is retried automatically: each wrong PIN
// or PUK costs exactly one of the card's retries.
type CredentialError struct {
	// Secret is the secret concerned.
	Secret Secret
	// RetriesLeft is the number of retries the card has left for it; -1
	// if unknown, and always for the management key, which has none.
	RetriesLeft int
	// Blocked means that no retries are left. A blocked PIN must be
	// unblocked with the PUK before the card signs again; a blocked PUK
	// can no longer unblock the PIN, only a reset of the whole card helps.
	Blocked bool
	// Malformed means that the value was refused before it reached the
	// card (see CheckPIN); no retry was spent.
	Malformed bool
	// Problem says why a Malformed value was refused, as words that follow
	// "the PIN", such as "begins or ends with whitespace"; "" means "must
	// be 6 to 8 characters long".
	Problem string
	// LastTry means that the card has one try left and the value was not
	// sent (see SignerOptions.AllowLastPINTry); no retry was spent.
	LastTry bool
}

// Error says what happened, without the secret.
func (e *CredentialError) Error() string {
	s := e.Secret
	switch {
	case s == SecretManagementKey:
		return "the card refused the management key"
	case e.Blocked && s == SecretPUK:
		return "the PUK is blocked: the PIN can no longer be unblocked, only the whole card reset"
	case e.Blocked:
		return "the PIN is blocked: only the PUK can unblock it"
	case e.LastTry:
		consequence := "block it"
		if s == SecretPUK {
			consequence = "block the PUK for good"
		}
		return fmt.Sprintf("no %s was sent to the card: it has 1 %s try left, and a wrong %s would %s", s, s, s, consequence)
	case e.Malformed:
		return "the " + s.String() + " " + e.ProblemText() + "; it was not sent to the card"
	case e.RetriesLeft < 0:
		return "wrong " + s.String()
	}
	return fmt.Sprintf("wrong %s, %d %s left before the %s is blocked", s, e.RetriesLeft, plural(e.RetriesLeft, "try", "tries"), s)
}

// ProblemText returns Problem, or the length rule if it is empty.
func (e *CredentialError) ProblemText() string {
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

// Error lists the cards found.
func (e *SelectionError) Error() string {
	var b strings.Builder
	if e.Selector == (Selector{}) {
		fmt.Fprintf(&b, "found %d PIV cards", len(e.Cards))
	} else {
		fmt.Fprintf(&b, "no PIV card matches %s", e.Selector)
	}
	if len(e.Cards) == 0 {
		b.WriteString("; no PIV card found")
		return b.String()
	}
	b.WriteString(": ")
	for i, c := range e.Cards {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.String())
	}
	b.WriteString("; choose one by serial number, GUID or reader name")
	return b.String()
}

// TimeoutError means that the card did not answer in time, or, with
// Busy, that another program held it until the deadline. A card call that
// timed out goes on in the background; see the package documentation. It
// unwraps to context.DeadlineExceeded.
type TimeoutError struct {
	// Op is the operation that timed out, for example "sign with slot 9c"
	// or `open card in reader "Yubico YubiKey"`.
	Op string
	// Busy means that another program held the card the whole time: the
	// operation never reached the card.
	Busy bool
	// After is how long the operation waited.
	After time.Duration
}

// Error names the operation and what it waited for.
func (e *TimeoutError) Error() string {
	after := e.After.Round(time.Millisecond)
	if e.Busy {
		return fmt.Sprintf("%s: the card is in use by another program, which did not let it go within %v", e.Op, after)
	}
	return fmt.Sprintf("%s: the card did not answer within %v", e.Op, after)
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
	// Err is the error from the command or from PC/SC.
	Err error
}

// Error names the operation and the card's answer.
func (e *CardError) Error() string {
	// A command named after the operation says it once.
	err := strings.TrimPrefix(e.Err.Error(), e.Op+": ")
	switch {
	case e.Gone():
		return fmt.Sprintf("%s: the card was removed, or lost contact with the reader, in the middle of the command (%v)", e.Op, err)
	case e.SW == 0x6982:
		return fmt.Sprintf("%s: %v: the card refused the operation without authentication", e.Op, err)
	case e.SW == 0x6d00 || e.SW == 0x6e00:
		return fmt.Sprintf("%s: %v: the card does not support this command", e.Op, err)
	}
	return fmt.Sprintf("%s: %v", e.Op, err)
}

// Unwrap returns Err.
func (e *CardError) Unwrap() error { return e.Err }

// Gone reports whether the card left the reader, or lost power, in the
// middle of the command.
func (e *CardError) Gone() bool {
	if e.SW != 0 {
		return false
	}
	if errors.Is(e.Err, apdu.ErrNoAnswer) {
		return true
	}
	var code scard.Error
	if errors.As(e.Err, &code) {
		switch code {
		case scard.ErrRemovedCard, scard.ErrNoSmartcard, scard.ErrUnpoweredCard, scard.ErrResetCard, scard.ErrReaderUnavailable:
			return true
		}
		return false
	}
	// piv-go, which card management uses, exports neither the PC/SC codes
	// nor a type, only their messages.
	msg := e.Err.Error()
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

// statusError is implemented by the errors of package apdu and piv-go
// that carry a status word.
type statusError interface{ Status() uint16 }

// cardError wraps an error from a card command in a *CardError with its
// status word, if any.
func cardError(op string, err error) *CardError {
	err = withSocket(err)
	ce := &CardError{Op: op, Err: err}
	var se statusError
	if errors.As(err, &se) {
		ce.SW = se.Status()
	}
	return ce
}

// credentialError maps the failure of an operation op that sent secret
// to the card: an authentication failure (63Cx, 6983) to a
// *CredentialError with the retries left, a refused management key (6982)
// to one for the management key, anything else to a *CardError. The
// credential errors are wrapped with op.
func credentialError(op string, secret Secret, err error) error {
	var auth piv.AuthErr
	if errors.As(err, &auth) {
		return fmt.Errorf("%s: %w", op, &CredentialError{Secret: secret, RetriesLeft: auth.Retries, Blocked: auth.Retries == 0})
	}
	ce := cardError(op, err)
	if ce.SW == 0x6982 {
		return fmt.Errorf("%s: %w", op, &CredentialError{Secret: SecretManagementKey, RetriesLeft: -1})
	}
	return ce
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
