package main

import (
	"context"
	"errors"
	"strconv"

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
func toPluginError(err error) *plugin.Error {
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
