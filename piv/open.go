package piv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// listReaders returns the PC/SC reader names, or ErrNoCard if there are
// none.
func listReaders(ctx context.Context) ([]string, error) {
	const op = "list smart card readers"
	var readers []string
	_, err := await(ctx, op, func() error {
		return retryConnect(ctx, func() (err error) { readers, err = piv.Cards(); return err })
	}, nil)
	var timeout *TimeoutError
	switch {
	case errors.As(err, &timeout):
		return nil, err
	case err != nil:
		return nil, cardError(op, err)
	case len(readers) == 0:
		return nil, fmt.Errorf("%w (no smart card reader found)", ErrNoCard)
	}
	return readers, nil
}

// probe opens the card in each reader in turn and, with withSerial,
// reads its serial number. keep decides for each card whether to return it open (else it is closed)
// and whether to stop probing. found describes every card opened;
// failures says why each other reader gave no card.
func probe(ctx context.Context, readers []string, wait, withSerial bool, keep func(CardInfo) (keep, stop bool)) (kept []*Card, found []CardInfo, failures []error, busy []string, err error) {
	for _, r := range readers {
		c, err := openReader(ctx, r, wait, withSerial)
		var timeout *TimeoutError
		if errors.As(err, &timeout) || (err != nil && ctx.Err() != nil) {
			for _, c := range kept {
				c.Close()
			}
			return nil, nil, nil, nil, err
		}
		if errors.Is(err, errBusy) {
			busy = append(busy, r)
		}
		if err != nil {
			failures = append(failures, err)
			continue
		}
		found = append(found, c.info)
		k, stop := keep(c.info)
		if k {
			kept = append(kept, c)
		} else {
			c.Close()
		}
		if stop {
			break
		}
	}
	return kept, found, failures, busy, nil
}

// busyPoll is how often Open tries again a card another process holds.
const busyPoll = 50 * time.Millisecond

// errBusy marks a reader whose card another PC/SC connection holds.
var errBusy = errors.New("the card is in use by another program")

// isBusy reports whether a piv-go error is PC/SC's SCARD_E_SHARING_VIOLATION.
// piv-go does not export the code, only its message.
func isBusy(err error) bool {
	return err != nil && strings.Contains(err.Error(), "other connections outstanding")
}

// openWhenFree opens the card in reader with piv-go, which holds it
// exclusively until Close. With wait set, while another connection holds
// the card (for example a concurrent notation sign) it tries again every
// busyPoll until ctx ends, or DefaultTimeout if ctx has no deadline, so
// that concurrent signatures take turns instead of failing. The sharing
// violation comes from SCardConnect, before piv-go's SELECT, so retrying
// leaks no handle.
func openWhenFree(ctx context.Context, reader string, wait bool, busy *atomic.Bool) (*piv.YubiKey, error) {
	var yk *piv.YubiKey
	err := whileBusy(ctx, wait, func() (bool, error) {
		err := retryConnect(ctx, func() (err error) { yk, err = piv.Open(reader); return err })
		busy.Store(isBusy(err))
		return isBusy(err), err
	})
	if busy.Load() {
		return nil, fmt.Errorf("%w: %v", errBusy, err)
	}
	return yk, err
}

// whileBusy calls connect until it does not report the card held by
// another program, and returns its error. With wait set, it tries again
// every busyPoll until ctx ends, or DefaultTimeout if ctx has no
// deadline; without, it tries once.
func whileBusy(ctx context.Context, wait bool, connect func() (busy bool, err error)) error {
	if _, ok := ctx.Deadline(); !ok && wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	for {
		busy, err := connect()
		if !busy || !wait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(busyPoll):
		}
	}
}

// openReader opens the card in reader and, with withSerial, reads its
// serial number.
//
// APDUs: SELECT `00 A4 04 00 05 A0 00 00 03 08` and GET VERSION `00 FD 00
// 00 00`, from piv-go; with withSerial, GET SERIAL `00 F8 00 00 00`
// (YubiKey 5; older YubiKeys go through the OTP application).
func openReader(ctx context.Context, reader string, wait, withSerial bool) (*Card, error) {
	op := fmt.Sprintf("open card in reader %q", reader)
	var (
		yk     *piv.YubiKey
		serial uint32
		busy   atomic.Bool // the last try found the card held by another program
	)
	start := time.Now()
	_, err := await(ctx, op, func() error {
		k, err := openWhenFree(ctx, reader, wait, &busy)
		if err != nil || !withSerial {
			yk = k
			return err
		}
		s, err := k.Serial()
		var se statusError
		if err != nil && !errors.As(err, &se) {
			// The card did not answer; one that answers with an error
			// status just has no serial number.
			k.Close()
			return err
		}
		yk, serial = k, s
		return nil
	}, func() {
		if yk != nil {
			yk.Close()
		}
	})
	if err != nil {
		var (
			timeout *TimeoutError
			se      statusError
		)
		switch {
		case wait && ctx.Err() != nil && busy.Load():
			// Whichever noticed the deadline first, the card was held
			// by another program until then.
			return nil, &TimeoutError{Op: op, Busy: true, After: time.Since(start)}
		case errors.As(err, &timeout):
			return nil, err
		case errors.As(err, &se) && !errors.Is(err, piv.ErrNotFound):
			// A card is there but failed SELECT or GET VERSION with an
			// error status: a broken card, not a missing one.
			return nil, cardError(op, err)
		case socketFailed(err):
			return nil, cardError(op, err) // pcscd's socket failed, not the card
		}
		return nil, fmt.Errorf("reader %q: %w", reader, err)
	}
	handle, err := pcscHandleOf(yk)
	if err != nil {
		yk.Close()
		return nil, err
	}
	v := yk.Version()
	return &Card{
		info:       CardInfo{Reader: reader, Serial: serial, Version: fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)},
		serialRead: withSerial,
		sem:        make(chan struct{}, 1),
		yk:         yk,
		handle:     handle,
	}, nil
}

// noCard returns ErrNoCard with the reason each reader gave no card, or
// the *CardError of a card that is there but failed to open.
func noCard(failures []error) error {
	if len(failures) == 0 {
		return ErrNoCard
	}
	reasons := make([]string, len(failures))
	for i, f := range failures {
		var ce *CardError
		if errors.As(f, &ce) {
			return f
		}
		reasons[i] = f.Error()
	}
	return fmt.Errorf("%w (%s)", ErrNoCard, strings.Join(reasons, "; "))
}
