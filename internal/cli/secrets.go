package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/notation-piv/notation-piv/internal/prompt"
	"github.com/notation-piv/notation-piv/piv"
)

// envPUK names the environment variable that holds the PUK.
const envPUK = "NOTATION_PIV_PUK"

// secretKind is a PIN or PUK a command may need, with the environment
// variable that provides it without a prompt.
type secretKind struct {
	env   string // such as "NOTATION_PIV_PIN"
	name  string // such as "PIN" or "new PIN"
	isNew bool   // a value to set: checked, and typed twice at a prompt
}

// The secrets the commands ask for.
var (
	secretPIN    = secretKind{env: piv.EnvPIN, name: "PIN"}
	secretPUK    = secretKind{env: envPUK, name: "PUK"}
	secretNewPIN = secretKind{env: "NOTATION_PIV_NEW_PIN", name: "new PIN", isNew: true}
	secretNewPUK = secretKind{env: "NOTATION_PIV_NEW_PUK", name: "new PUK", isNew: true}
)

// secretRulesUsage documents, for the help texts, how PINs and PUKs are
// read and when the last try is sent.
const secretRulesUsage = `
A PIN or PUK from the environment loses one newline at its end (LF or
CRLF). A PIN or PUK with any other whitespace at either end, or with a
control character, is refused before it reaches the card. With 1 try
left, a PIN or PUK from the environment is not sent without
--allow-last-pin-try; a prompt on the terminal says that it is the last
try.
`

// secrets gets the PINs and PUKs of one command: from the environment, or
// else from a prompt on the terminal that reads without echo. Each secret
// is asked for at most once; wipe clears them all. Each value is checked
// before the card sees it, and a PIN or PUK from the environment is not
// sent when the card has 1 try left, unless allowLastTry.
type secrets struct {
	// card names the card at the prompts (see cardName).
	card         string
	allowLastTry bool
	got          map[secretKind][]byte
}

// newSecrets returns an empty secrets; allowLastTry is the value of
// --allow-last-pin-try.
func newSecrets(allowLastTry bool) *secrets {
	return &secrets{allowLastTry: allowLastTry, got: map[secretKind][]byte{}}
}

// check returns an error before anything is sent to the card if one of
// kinds has neither its environment variable nor a terminal to ask on.
func (s *secrets) check(command string, kinds ...secretKind) error {
	if prompt.Available() {
		return nil
	}
	var missing, names []string
	for _, k := range kinds {
		if os.Getenv(k.env) == "" {
			missing = append(missing, k.env)
			names = append(names, "the "+k.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return failure(fmt.Sprintf("notation-piv %s needs %s, but %s not set and there is no terminal to ask on", command, strings.Join(names, " and "), isAre(missing)),
		fmt.Sprintf("run it in a terminal, or set %s", strings.Join(missing, " and ")))
}

// isAre says "X is" or "X and Y are".
func isAre(names []string) string {
	if len(names) == 1 {
		return names[0] + " is"
	}
	return strings.Join(names, " and ") + " are"
}

// pinFor returns a PIN callback for piv.Card.ManagementKey, which wipes
// what the callback returns: each call gives a fresh copy of the PIN, so
// that the PIN stays available to later steps. retries is shown at the
// prompt.
func (s *secrets) pinFor(retries int) func() ([]byte, error) {
	return func() ([]byte, error) {
		pin, err := s.get(secretPIN, retries)
		return bytes.Clone(pin), err
	}
}

// pinSource serves the command's PIN to a card signer, so that a command
// asks for the PIN at most once however many signatures it makes.
func (s *secrets) pinSource() piv.PINSource {
	return func(req piv.PINRequest) ([]byte, error) {
		pin, err := s.get(secretPIN, req.RetriesLeft)
		return bytes.Clone(pin), err
	}
}

// wipe clears every secret got.
func (s *secrets) wipe() {
	for k, v := range s.got {
		clear(v)
		delete(s.got, k)
	}
}

// get returns the secret of kind k. retries, if not negative, is how many
// tries the card has left for it: with 1 left, a value from the
// environment is refused unless allowLastTry, and a prompt says that it is
// the last try. A value that no card accepts is refused (see
// piv.CheckPIN), after one newline at its end is removed from a value
// from the environment.
func (s *secrets) get(k secretKind, retries int) ([]byte, error) {
	if v, ok := s.got[k]; ok {
		return v, nil
	}
	var v []byte
	env := os.Getenv(k.env)
	if env != "" {
		if retries == 1 && !k.isNew && !s.allowLastTry {
			return nil, lastTry(k)
		}
		v = piv.TrimNewline([]byte(env))
	} else {
		var err error
		if v, err = s.prompt(k, retries); err != nil {
			return nil, err
		}
	}
	if err := k.check(v); err != nil {
		clear(v)
		if !k.isNew {
			return nil, err
		}
		hint := "type a new value of 6 to 8 characters, without spaces at either end"
		if env != "" {
			hint = "fix " + k.env
		}
		return nil, failure(err.Error(), hint)
	}
	s.got[k] = v
	return v, nil
}

// check returns an error if v cannot be a secret of kind k: a
// *piv.CredentialError for the current PIN or PUK.
func (k secretKind) check(v []byte) error {
	switch {
	case k.isNew:
		return piv.CheckNewSecret("the "+k.name, v)
	case k == secretPUK:
		return piv.CheckPUK(v)
	}
	return piv.CheckPIN(v)
}

// lastTry is the error for a PIN or PUK not sent because the card has 1
// try left.
func lastTry(k secretKind) error {
	if k == secretPUK {
		return &piv.CredentialError{Secret: piv.SecretPUK, RetriesLeft: 1, LastTry: true}
	}
	return &piv.CredentialError{Secret: piv.SecretPIN, RetriesLeft: 1, LastTry: true}
}

// prompt asks for the secret on the terminal, twice for a new value.
func (s *secrets) prompt(k secretKind, retries int) ([]byte, error) {
	text := fmt.Sprintf("Enter the %s of PIV %s", k.name, s.card)
	switch {
	case k.isNew:
		text += " (6 to 8 characters)"
	case retries == 1 && k == secretPUK:
		text += " (this is the LAST TRY: a wrong PUK blocks the PUK for good)"
	case retries == 1:
		text += fmt.Sprintf(" (this is the LAST TRY: a wrong %s blocks the %s)", k.name, k.name)
	case retries >= 0:
		text += fmt.Sprintf(" (%d tries left)", retries)
	}
	v, err := prompt.Secret(text + ": ")
	if err != nil || !k.isNew {
		return v, promptFailure(k, err)
	}
	again, err := prompt.Secret(fmt.Sprintf("Enter the %s again: ", k.name))
	defer clear(again)
	if err != nil {
		clear(v)
		return nil, promptFailure(k, err)
	}
	if !bytes.Equal(v, again) {
		clear(v)
		return nil, failure(fmt.Sprintf("the two %ss differ; nothing was changed", k.name), "run the command again and type the same value twice")
	}
	return v, nil
}

// promptFailure explains why the prompt for k gave no value; nil stays
// nil.
func promptFailure(k secretKind, err error) error {
	switch {
	case errors.Is(err, prompt.ErrNoTerminal):
		return failure(fmt.Sprintf("the %s is needed, but %s is not set and there is no terminal to ask on", k.name, k.env), "run the command in a terminal, or set "+k.env)
	case errors.Is(err, prompt.ErrNothingEntered):
		return failure("nothing was entered; nothing was changed", "run the command again and type the value")
	}
	return err
}

// confirm asks on the terminal to type word and returns an error unless
// the user does.
func confirm(question, word string) error {
	switch err := prompt.Confirm(question, word); {
	case errors.Is(err, prompt.ErrNoTerminal):
		return failure("this needs confirmation, but there is no terminal to ask on", "run it in a terminal, or pass --yes")
	case errors.Is(err, prompt.ErrNotConfirmed):
		return failure("not confirmed; nothing was changed")
	default:
		return err
	}
}
