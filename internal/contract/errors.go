package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/advice"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// toPluginError maps an error to the contract's error codes, in one place:
//   - VALIDATION_ERROR: the request, the config, the card selection, the
//     slot, the key, its attestation, its certificate or the certificate
//     chain cannot sign;
//   - ACCESS_DENIED: the PIN is wrong, blocked, missing or was not given;
//   - TIMEOUT: the card did not answer in time;
//   - ERROR: anything else.
//
// A setting is named as notation's user knows it, with what to do about
// it. A message is cut to take at most about MaxMessage bytes on stderr:
// whatever a hostile request holds, stderr stays small.
func toPluginError(err error) *plugin.Error {
	perr := classify(err)
	perr.Message = clipMessage(perr.Message)
	return perr
}

// classify maps an error to its contract error code for toPluginError,
// and adds to its message what to do about it (see withAdvice).
func classify(err error) *plugin.Error {
	var (
		perr        *plugin.Error
		setting     *signing.SettingError
		missing     *signing.MissingSettingError
		chain       *signing.ChainError
		certificate *signing.CertificateError
		credential  *piv.CredentialError
		selection   *piv.SelectionError
		unsupported *keyspec.UnsupportedKeyError
		cardLacks   *piv.UnsupportedError
		timeout     *piv.TimeoutError
	)
	switch {
	case errors.As(err, &perr):
		return perr
	case errors.As(err, &setting):
		return plugin.NewValidationError(settingMessage(setting))
	case errors.As(err, &missing):
		return plugin.NewValidationError(missingMessage(missing))
	}
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
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection), errors.Is(err, piv.ErrSlotEmpty), errors.As(err, &chain), errors.As(err, &certificate),
		errors.As(err, &unsupported), errors.As(err, &cardLacks), errors.Is(err, piv.ErrKeyMismatch), errors.Is(err, piv.ErrKeyImported), errors.Is(err, piv.ErrNoAttestation):
		return plugin.NewValidationError(msg)
	}
	return plugin.NewGenericError(msg)
}

// withAdvice returns the message of err followed by what to do about it:
// the advice for the PIN that names the contract's PIN sources and
// pluginConfig keys, or else the edges' common advice.
func withAdvice(err error) string {
	var credential *piv.CredentialError
	switch {
	case errors.As(err, &credential) && credential.Secret == piv.SecretPIN:
		return err.Error() + ": " + pinAdvice(credential)
	case errors.Is(err, piv.ErrNoPIN):
		return err.Error() + ": set " + piv.EnvPIN + ", configure a pin_file or a pinentry program, or run from a terminal"
	}
	var selection *piv.SelectionError
	switch {
	case errors.Is(err, piv.ErrKeyImported), errors.Is(err, piv.ErrNoAttestation):
		return advice.Append(err) + ", or sign without pluginConfig attest=true"
	case errors.As(err, &selection) && len(selection.Cards) > 0:
		return err.Error() + ": " + adviceSelection
	}
	return advice.Append(err)
}

// pinAdvice says what to do about a PIN the card refused or that was not
// sent.
func pinAdvice(e *piv.CredentialError) string {
	switch {
	case e.Blocked:
		return `set a new PIN with the PUK ("notation-piv pin unblock") and sign again`
	case e.LastTry:
		return "check the PIN source, then allow the last try for one signature (pluginConfig allow_last_pin_try=true); a correct PIN restores all the tries"
	case e.Malformed:
		return "fix the PIN source and sign again"
	}
	return "check the PIN source and sign again"
}

// What to do about a setting, for the messages that name it.
const (
	adviceSelection   = `name the card in the key's pluginConfig with serial=N (YubiKeys), guid=GUID (cards without a serial number) or reader=TEXT, as "notation-piv list" shows them`
	adviceSerial      = `run "notation-piv list" to see the serial numbers of the cards present`
	adviceGUID        = `run "notation-piv list" to see the GUIDs of the cards present that have no serial number`
	adviceCardTimeout = "it bounds how long the plugin waits for the card, including a touch"
)

// settingAdvice says what to do about a setting that cannot be used.
var settingAdvice = map[signing.Setting]string{
	signing.SettingSerial:      adviceSerial,
	signing.SettingGUID:        adviceGUID,
	signing.SettingCardTimeout: "give a duration such as 30s: " + adviceCardTimeout,
	signing.SettingTSATimeout:  "give a duration such as 15s",
	signing.SettingPinentry:    "install a pinentry program or name its full path",
	signing.SettingExpiry:      "choose a shorter notation sign --expiry",
}

// requestFields name the settings that come from a request's fields.
var requestFields = map[signing.Setting]string{
	signing.SettingSlot:   "keyId",
	signing.SettingFormat: "signatureEnvelopeType",
	signing.SettingExpiry: "expiryDurationInSeconds",
}

// settingName names a setting as notation's user knows it: a field of the
// request, or a pluginConfig key.
func settingName(s signing.Setting) string {
	if field, ok := requestFields[s]; ok {
		return field
	}
	return "pluginConfig " + string(s) // the settings are named as pluginConfig keys
}

// settingMessage says what is wrong with a setting and what to do.
func settingMessage(e *signing.SettingError) string {
	var format *envelope.UnsupportedFormatError
	if errors.As(e.Err, &format) {
		return fmt.Sprintf("signatureEnvelopeType %s is not supported: use one of %s", quote(format.MediaType), strings.Join(format.Supported, ", "))
	}
	msg := settingName(e.Setting) + ": " + withAdvice(e.Err)
	if a := settingAdvice[e.Setting]; a != "" {
		msg += "; " + a
	}
	return msg
}

// missingMessage says which setting is missing and what it is for.
func missingMessage(e *signing.MissingSettingError) string {
	names := make([]string, len(e.Settings))
	for i, s := range e.Settings {
		names[i] = string(s)
	}
	msg := fmt.Sprintf("pluginConfig %s need %s", strings.Join(names, " and "), e.Needed)
	if len(names) == 1 {
		msg = fmt.Sprintf("pluginConfig %s needs %s", names[0], e.Needed)
	}
	switch e.Needed {
	case signing.SettingTSARoot:
		msg += ", the PEM file of the timestamp authority's root certificate, so that the timestamp can be verified before it is embedded"
	case signing.SettingTSAURL:
		msg += ": add tsa_url, the timestamp authority's http or https URL, or remove them"
	}
	return msg
}

// Bounds of what error messages repeat.
const (
	// MaxMessage bounds a whole error message, which stays near this
	// size on stderr whatever a request holds.
	MaxMessage = 4096
	// maxQuoted bounds a request value quoted in a message.
	maxQuoted = 64
)

// quote quotes a request value for a message, cut to maxQuoted bytes.
func quote(s string) string {
	return fmt.Sprintf("%q", clip(s, maxQuoted))
}

// clipMessage cuts a message so that its JSON encoding, escapes
// included, takes at most MaxMessage bytes and a mark of the cut.
func clipMessage(s string) string {
	for n := MaxMessage; ; n = n * 3 / 4 {
		c := clip(s, n)
		if b, _ := json.Marshal(c); len(b) <= MaxMessage+32 || n == 0 {
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
