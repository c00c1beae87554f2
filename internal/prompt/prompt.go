// Package prompt talks to the user on the controlling terminal, /dev/tty,
// and never on stdin, stdout or stderr, which may belong to another
// program (notation reads the plugin's stdout and stderr): a secret read
// without echo, a confirmation, a request to touch the card.
package prompt

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// ttyPath is the process's controlling terminal.
const ttyPath = "/dev/tty"

var (
	// ErrNoTerminal means that the process has no terminal to ask on.
	ErrNoTerminal = errors.New("there is no terminal to ask on")
	// ErrNothingEntered means that the user typed an empty line.
	ErrNothingEntered = errors.New("nothing was entered")
	// ErrNotConfirmed means that the user did not type the word asked for.
	ErrNotConfirmed = errors.New("not confirmed")
)

// openTTY opens the terminal to ask on. Without one, it returns an error
// that wraps ErrNoTerminal and says why.
func openTTY() (*os.File, error) {
	tty, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTerminal, err)
	}
	if !term.IsTerminal(int(tty.Fd())) {
		tty.Close()
		return nil, fmt.Errorf("%w: %s is not a terminal", ErrNoTerminal, ttyPath)
	}
	return tty, nil
}

// Available reports whether the process has a terminal to ask on.
func Available() bool {
	tty, err := openTTY()
	if err != nil {
		return false
	}
	tty.Close()
	return true
}

// Secret shows question on the terminal and reads a line without echo.
// It returns an error wrapping ErrNoTerminal without a terminal, and
// ErrNothingEntered for an empty line. The caller wipes the secret after
// use.
func Secret(question string) ([]byte, error) {
	tty, err := openTTY()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	fmt.Fprint(tty, question)
	v, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		clear(v)
		return nil, fmt.Errorf("read from the terminal: %w", err)
	}
	if len(v) == 0 {
		return nil, ErrNothingEntered
	}
	return v, nil
}

// Confirm shows question on the terminal and asks to type word. It
// returns nil if the user does, ErrNotConfirmed if not, and an error
// wrapping ErrNoTerminal without a terminal.
func Confirm(question, word string) error {
	tty, err := openTTY()
	if err != nil {
		return err
	}
	defer tty.Close()
	fmt.Fprintf(tty, "%s\nType %q to continue: ", question, word)
	line, err := bufio.NewReader(tty).ReadString('\n')
	if strings.TrimSpace(line) != word {
		if err != nil {
			return fmt.Errorf("read from the terminal: %w", err)
		}
		return ErrNotConfirmed
	}
	return nil
}

// TouchCard asks the user to touch the card, which waits for a touch
// before it signs. It is meant for piv.SignerOptions.TouchNotice.
func TouchCard() { notice("notation-piv: touch the PIV card to sign") }

// notice writes one line to the terminal, if there is one.
func notice(line string) {
	tty, err := os.OpenFile(ttyPath, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintln(tty, line)
}
