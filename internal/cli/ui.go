package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/notation-piv/notation-piv/internal/advice"
	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// ui is the terminal side of one command: its name for messages, the
// version of notation-piv, and its streams.
type ui struct {
	name           string // such as "pin change"
	version        string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// userError is a failure with the hints that tell the user what to do.
type userError struct {
	msg   string
	hints []string
}

func (e *userError) Error() string { return e.msg }

// failure returns a *userError.
func failure(msg string, hints ...string) error {
	return &userError{msg: msg, hints: hints}
}

// fail prints err as "notation-piv: error: ..." with its hints on stderr
// and returns exit status 1. errSilent prints nothing.
func (u *ui) fail(err error) int {
	if errors.Is(err, errSilent) {
		return 1
	}
	msg, hints := explain(err)
	return Fail(u.stderr, msg, hints...)
}

// warn prints a warning on stderr.
func (u *ui) warn(format string, args ...any) {
	fmt.Fprintf(u.stderr, "notation-piv: warning: %s\n", fmt.Sprintf(format, args...))
}

// writeJSON prints v as indented JSON.
func (u *ui) writeJSON(v any) error {
	enc := json.NewEncoder(u.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// explain turns an error into a message and hints for people: the one
// place where the commands add advice to what failed.
func explain(err error) (string, []string) {
	var (
		ue         *userError
		setting    *signing.SettingError
		missing    *signing.MissingSettingError
		credential *piv.CredentialError
		selection  *piv.SelectionError
	)
	switch {
	case errors.As(err, &ue):
		return ue.msg, ue.hints
	case errors.As(err, &setting):
		hints := settingHints[setting.Setting]
		if a := advice.For(setting.Err); a != "" {
			hints = append([]string{a}, hints...)
		}
		return settingFlag(setting.Setting) + ": " + setting.Err.Error(), hints
	case errors.As(err, &missing):
		return missingMessage(missing)
	case errors.As(err, &credential) && credential.Secret == piv.SecretPIN:
		return explainPIN(credential)
	case errors.As(err, &credential) && credential.Secret == piv.SecretPUK:
		return explainPUK(credential)
	case errors.As(err, &credential), errors.Is(err, piv.ErrNoProtectedKey):
		// The management key.
		return err.Error(), []string{"give the card's management key with --management-key-file FILE (the key in hex, in a file only you can read)"}
	case errors.Is(err, piv.ErrNoPIN):
		return err.Error(), []string{"set " + piv.EnvPIN + ", give --pin-file or --pinentry, or run from a terminal"}
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection):
		hints := []string{`run "notation-piv list" to see the cards; choose one with --serial, --guid (cards without a serial number) or --reader`}
		if a := advice.For(err); a != "" {
			hints = append([]string{a}, hints...)
		}
		return err.Error(), hints
	case errors.Is(err, piv.ErrKeyImported), errors.Is(err, piv.ErrNoAttestation):
		return err.Error(), []string{advice.For(err) + ", or sign without --attest"}
	}
	if a := advice.For(err); a != "" {
		return err.Error(), []string{a}
	}
	return err.Error(), nil
}

// explainPIN explains a PIN the card did not take, or that was not sent.
func explainPIN(e *piv.CredentialError) (string, []string) {
	switch {
	case e.Blocked:
		return "the PIN is blocked", []string{`set a new PIN with the PUK: "notation-piv pin unblock"`}
	case e.LastTry:
		return "no PIN was sent: the card has 1 PIN try left, and a wrong PIN would block it",
			[]string{"check the PIN in " + piv.EnvPIN + ", then run the command again with --allow-last-pin-try; a correct PIN restores all the tries",
				"or unset " + piv.EnvPIN + " and type the PIN at the prompt on the terminal",
				`if you do not know the PIN, set a new one with the PUK: "notation-piv pin unblock"`}
	case e.Malformed:
		return e.Error(), []string{malformedHint(piv.EnvPIN, "PIN")}
	case e.RetriesLeft < 0:
		return "wrong PIN", []string{"check the PIN and run the command again"}
	}
	return fmt.Sprintf("wrong PIN: %s left before the PIN is blocked", tries(e.RetriesLeft)),
		[]string{"check the PIN and run the command again", `if you forgot it, set a new one with the PUK: "notation-piv pin unblock"`}
}

// explainPUK explains a PUK the card did not take, or that was not sent.
func explainPUK(e *piv.CredentialError) (string, []string) {
	switch {
	case e.Blocked:
		return "the PUK is blocked", []string{`the PIN can no longer be unblocked; if it is blocked too, only "notation-piv reset" (which erases every key) makes the card usable again`}
	case e.LastTry:
		return "no PUK was sent: the card has 1 PUK try left, and a wrong PUK would block it for good",
			[]string{"check the PUK in " + envPUK + ", then run the command again with --allow-last-pin-try; a correct PUK restores all the tries",
				"or unset " + envPUK + " and type the PUK at the prompt on the terminal"}
	case e.Malformed:
		return e.Error(), []string{malformedHint(envPUK, "PUK")}
	}
	return fmt.Sprintf("wrong PUK: %s left before the PUK is blocked", tries(e.RetriesLeft)),
		[]string{"check the PUK and run the command again; a new card's PUK is 12345678"}
}

// malformedHint says how to fix a PIN or PUK that was refused before it
// reached the card.
func malformedHint(env, what string) string {
	return fmt.Sprintf("check %s, or type the %s again: a %s is 6 to 8 characters; one newline at its end is removed, but no other whitespace or control character", env, what, what)
}

// tries says "1 try" or "n tries".
func tries(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}
