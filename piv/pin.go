package piv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/prompt"
)

// EnvPIN is the environment variable that DefaultPINSource reads the PIN
// from.
const EnvPIN = "NOTATION_PIV_PIN"

// maxPINFileSize bounds a PIN file: a PIV PIN has at most 8 bytes.
const maxPINFileSize = 64

// PINRequest says which PIN is wanted, for prompts.
type PINRequest struct {
	// Serial is the card's serial number; 0 if unknown.
	Serial uint32
	// GUID is the GUID of the card's CHUID, which names a card without a
	// serial number; "" if unknown.
	GUID string
	// Slot is the slot whose key needs the PIN.
	Slot Slot
	// RetriesLeft is how many wrong PINs the card still accepts before it
	// blocks the PIN; -1 if unknown.
	RetriesLeft int
}

// String describes the request for a prompt, such as
// "PIN of PIV card 12345678 for slot 9c (3 tries left)". With one try left
// it says plainly that this is the last try.
func (r PINRequest) String() string {
	var b strings.Builder
	b.WriteString("PIN of PIV card")
	switch {
	case r.Serial != 0:
		fmt.Fprintf(&b, " %d", r.Serial)
	case r.GUID != "":
		fmt.Fprintf(&b, " with GUID %s", r.GUID)
	}
	fmt.Fprintf(&b, " for slot %s", r.Slot)
	switch {
	case r.RetriesLeft == 1:
		b.WriteString(" (this is the LAST TRY: a wrong PIN blocks the PIN)")
	case r.RetriesLeft >= 0:
		fmt.Fprintf(&b, " (%d tries left)", r.RetriesLeft)
	}
	return b.String()
}

// PINSource returns the PIN for a request. Signers call it only when the
// card needs the PIN, at most once per signature, and wipe the returned
// slice after use. A source that cannot be used here (an unset variable,
// no terminal) returns an error wrapping ErrNoPIN, so that First tries the
// next source; any other error stops the signature. Errors never contain
// the PIN.
type PINSource func(req PINRequest) ([]byte, error)

// DefaultPINSource returns the sources in the order notation-piv uses
// them: the environment variable NOTATION_PIV_PIN, the file pinFile, the
// pinentry program, and a prompt on the terminal. pinFile and pinentry
// may be "" for "not configured".
func DefaultPINSource(pinFile, pinentry string) PINSource {
	return First(FromEnv(EnvPIN), FromFile(pinFile), Pinentry(pinentry), TTY())
}

// First returns a source that asks the given sources in order and returns
// the answer of the first one that is available (whose error does not
// wrap ErrNoPIN). If none is, it returns ErrNoPIN. nil sources are
// skipped.
func First(sources ...PINSource) PINSource {
	return func(req PINRequest) ([]byte, error) {
		for _, src := range sources {
			if src == nil {
				continue
			}
			pin, err := src(req)
			if errors.Is(err, ErrNoPIN) {
				clear(pin)
				continue
			}
			return pin, err
		}
		return nil, ErrNoPIN
	}
}

// FromEnv returns a source that reads the PIN from the environment
// variable name. It is unavailable if the variable is unset or empty. One
// trailing newline is removed, and a PIN that CheckPIN refuses gives its
// *CredentialError.
func FromEnv(name string) PINSource {
	return func(PINRequest) ([]byte, error) {
		v := os.Getenv(name)
		if v == "" {
			return nil, fmt.Errorf("%w (%s is not set)", ErrNoPIN, name)
		}
		pin := TrimNewline([]byte(v))
		if err := CheckPIN(pin); err != nil {
			clear(pin)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return pin, nil
	}
}

// FromFile returns a source that reads the PIN from the file at path; ""
// makes it unavailable. The file must be a regular file of at most 64
// bytes that neither group nor others may access (chmod 600); one
// trailing newline is removed, and a PIN that CheckPIN refuses gives its
// *CredentialError.
func FromFile(path string) PINSource {
	return func(PINRequest) ([]byte, error) {
		if path == "" {
			return nil, fmt.Errorf("%w (no PIN file configured)", ErrNoPIN)
		}
		b, err := inputfile.ReadPrivate(path, maxPINFileSize)
		if err != nil {
			return nil, fmt.Errorf("PIN file: %w", err)
		}
		defer clear(b)
		pin := TrimNewline(b)
		if len(pin) == 0 {
			return nil, fmt.Errorf("PIN file %s is empty: write the PIN into it", path)
		}
		if err := CheckPIN(pin); err != nil {
			return nil, fmt.Errorf("PIN file %s: %w", path, err)
		}
		return bytes.Clone(pin), nil
	}
}

// TTY returns a source that prompts for the PIN on the process's
// controlling terminal, /dev/tty, and reads it without echo. Without a
// terminal it is unavailable. An empty answer gives ErrPINCancelled; a PIN
// that CheckPIN refuses gives its *CredentialError.
func TTY() PINSource {
	return func(req PINRequest) ([]byte, error) {
		pin, err := prompt.Secret(fmt.Sprintf("Enter the %s: ", req))
		switch {
		case errors.Is(err, prompt.ErrNoTerminal):
			return nil, fmt.Errorf("%w (%v)", ErrNoPIN, err)
		case errors.Is(err, prompt.ErrNothingEntered):
			return nil, ErrPINCancelled
		case err != nil:
			return nil, fmt.Errorf("PIN: %w", err)
		}
		if err := CheckPIN(pin); err != nil {
			clear(pin)
			return nil, fmt.Errorf("PIN typed on the terminal: %w", err)
		}
		return pin, nil
	}
}
