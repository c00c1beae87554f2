package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/piv"
)

// toPluginError maps an error to the contract's error codes, in one place:
//   - VALIDATION_ERROR: the request, the config, the card selection, the
//     slot, the key or the certificate chain cannot sign;
//   - ACCESS_DENIED: the PIN is wrong, blocked, missing or was not given;
//   - TIMEOUT: the card did not answer in time;
//   - ERROR: anything else.
//
// A message is cut to take at most about maxMessage bytes on stderr:
// whatever a hostile request holds, stderr stays small.
func toPluginError(err error) *plugin.Error {
	perr := classify(err)
	perr.Message = clipMessage(perr.Message)
	return perr
}

// classify maps an error to its contract error code for toPluginError,
// and adds what to do (see advice) to its message.
func classify(err error) *plugin.Error {
	if perr, ok := asPluginError(err); ok {
		return perr
	}
	var (
		credential  *piv.CredentialError
		selection   *piv.SelectionError
		unsupported *keyspec.UnsupportedKeyError
		timeout     *piv.TimeoutError
	)
	msg := withAdvice(err)
	switch {
	case errors.As(err, &credential):
		perr := plugin.NewError(plugin.ErrorCodeAccessDenied, msg)
		if credential.RetriesLeft >= 0 {
			perr.Metadata = map[string]string{"retriesLeft": strconv.Itoa(credential.RetriesLeft)}
		}
		return perr
	case errors.Is(err, piv.ErrNoPIN), errors.Is(err, piv.ErrPINCancelled):
		return plugin.NewError(plugin.ErrorCodeAccessDenied, msg)
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return plugin.NewError(plugin.ErrorCodeTimeout, msg)
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection), errors.Is(err, piv.ErrSlotEmpty),
		errors.As(err, &unsupported), errors.Is(err, piv.ErrKeyMismatch):
		return plugin.NewValidationError(msg)
	}
	return plugin.NewGenericError(msg)
}

// withAdvice returns the message of err followed by what to do about it,
// if advice knows.
func withAdvice(err error) string {
	if a := advice(err); a != "" {
		return err.Error() + ": " + a
	}
	return err.Error()
}

// advice says what to do about an error of the libraries, which say only
// what happened: a file a setting names, the card, its PIN. The contract
// appends it to the message (withAdvice), the commands for people print
// it as a hint (explain). It returns "" for other errors.
func advice(err error) string {
	var (
		notRegular  *inputfile.NotRegularError
		tooLarge    *inputfile.TooLargeError
		notPrivate  *inputfile.NotPrivateError
		credential  *piv.CredentialError
		selection   *piv.SelectionError
		timeout     *piv.TimeoutError
		card        *piv.CardError
		unsupported *keyspec.UnsupportedKeyError
	)
	switch {
	case errors.As(err, &notRegular) && notRegular.Mode.IsDir():
		return "give the path of the file itself"
	case errors.As(err, &notRegular):
		return "give the path of a regular file"
	case errors.As(err, &tooLarge):
		return "check that it names the right file"
	case errors.As(err, &notPrivate) && notPrivate.Owner != notPrivate.User:
		return fmt.Sprintf("keep the file in your own name (chown it to user %d, or write it anew)", notPrivate.User)
	case errors.As(err, &notPrivate):
		return fmt.Sprintf(`run "chmod 600 %s"`, notPrivate.Path)
	case errors.As(err, &credential):
		return credentialAdvice(credential)
	case errors.Is(err, piv.ErrNoPIN):
		return "set " + piv.EnvPIN + ", configure a pin_file or a pinentry program, or run from a terminal"
	case errors.Is(err, piv.ErrPINCancelled):
		return "sign again and enter the PIN"
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection) && len(selection.Cards) == 0:
		return `insert a card and run "notation-piv list"`
	case errors.Is(err, piv.ErrSlotEmpty):
		return "generate a key in it and store the key's certificate there"
	case errors.Is(err, piv.ErrKeyMismatch):
		return "store the certificate issued for this key, or generate a new key and certificate"
	case errors.As(err, &timeout) && timeout.Busy:
		return "close that program or wait for it to finish, then try again"
	case errors.As(err, &timeout):
		return "if it is waiting for a touch, touch it; otherwise remove and reinsert it and try again"
	case errors.As(err, &card):
		return cardAdvice(card)
	case errors.As(err, &unsupported):
		return "generate a key of one of these types"
	}
	return ""
}

// credentialAdvice says what to do about a PIN, PUK or management key the
// card refused or that was not sent.
func credentialAdvice(e *piv.CredentialError) string {
	switch {
	case e.Secret == piv.SecretManagementKey:
		return "give the card's management key with --management-key-file FILE (the key in hex, in a file only you can read)"
	case e.Secret == piv.SecretPUK:
		return ""
	case e.Blocked:
		return `set a new PIN with the PUK ("notation-piv pin unblock") and sign again`
	case e.LastTry:
		return "check the PIN source, then allow the last try for one signature (pluginConfig allow_last_pin_try=true, or --allow-last-pin-try); a correct PIN restores all the tries"
	case e.Malformed:
		return "fix the PIN source and sign again"
	}
	return "check the PIN source and sign again"
}

// cardAdvice says what to do after a card command failed.
func cardAdvice(e *piv.CardError) string {
	switch {
	case e.Gone():
		return "reinsert the card and try again"
	case e.SW == 0:
		return "check that pcscd runs, that the card is inserted and that no other program uses it, then try again"
	case e.SW == 0x6982:
		return "check the slot's PIN policy"
	case e.SW == 0x6d00 || e.SW == 0x6e00:
		return "use a PIV card such as a YubiKey 5"
	}
	return `run "notation-piv list" to check the card, then try again`
}

// Bounds of what error messages repeat.
const (
	maxMessage = 4096 // a whole message
	maxQuoted  = 64   // a request value quoted in a message
)

// quote quotes a request value for a message, cut to maxQuoted bytes.
func quote(s string) string {
	return fmt.Sprintf("%q", clip(s, maxQuoted))
}

// clipMessage cuts a message so that its JSON encoding, escapes
// included, takes at most maxMessage bytes and a mark of the cut.
func clipMessage(s string) string {
	for n := maxMessage; ; n = n * 3 / 4 {
		c := clip(s, n)
		if b, _ := json.Marshal(c); len(b) <= maxMessage+32 || n == 0 {
			return c
		}
	}
}

// clip returns s cut to at most n bytes at a character boundary, marked
// with its full length when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
