package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
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

// classify maps an error to its contract error code for toPluginError.
func classify(err error) *plugin.Error {
	if perr, ok := asPluginError(err); ok {
		return perr
	}
	var (
		pinErr       *piv.PINError
		selection    *piv.SelectionError
		unsupported  *piv.UnsupportedKeyError
		unsupported2 *envelope.UnsupportedKeyError
		timeout      *piv.TimeoutError
	)
	switch {
	case errors.As(err, &pinErr):
		perr := plugin.NewError(plugin.ErrorCodeAccessDenied, err.Error())
		if pinErr.RetriesLeft >= 0 {
			perr.Metadata = map[string]string{"retriesLeft": strconv.Itoa(pinErr.RetriesLeft)}
		}
		return perr
	case errors.Is(err, piv.ErrNoPIN), errors.Is(err, piv.ErrPINCancelled):
		return plugin.NewError(plugin.ErrorCodeAccessDenied, err.Error())
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return plugin.NewError(plugin.ErrorCodeTimeout, err.Error())
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection), errors.Is(err, piv.ErrSlotEmpty),
		errors.As(err, &unsupported), errors.As(err, &unsupported2), errors.Is(err, piv.ErrKeyMismatch):
		return plugin.NewValidationError(err.Error())
	}
	return plugin.NewGenericError(err.Error())
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
