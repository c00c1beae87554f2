package piv

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// lease is the right to use a card's piv-go handle, from Card.lease to
// release.
type lease struct {
	c *Card
	// lost is set when a call timed out: its goroutine then owns the card
	// and releases it when it returns.
	lost bool
}

// lease waits until the card is free or ctx ends.
func (c *Card) lease(ctx context.Context, op string) (*lease, error) {
	start := time.Now()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxError(ctx, op, start)
	}
	if c.yk == nil {
		c.release()
		return nil, fmt.Errorf("%s: the card is closed; open it again", op)
	}
	return &lease{c: c}, nil
}

// run calls f with the card's handle and returns f's error, or a
// *TimeoutError if ctx ends first. f's errors must already be wrapped for
// the caller. After a timeout the lease is lost and run must not be called
// again.
func (l *lease) run(ctx context.Context, op string, f func(yk *piv.YubiKey) error) error {
	yk := l.c.yk
	abandoned, err := await(ctx, op, func() error { return f(yk) }, l.c.release)
	if abandoned {
		l.lost = true
	}
	return err
}

// release gives the card back, unless a timed-out call still uses it.
func (l *lease) release() {
	if !l.lost {
		l.c.release()
	}
}

func (c *Card) release() { <-c.sem }

// await calls f in a new goroutine and waits until f returns or ctx ends.
// If ctx ends first, await returns abandoned=true and a ctxError at once;
// the goroutine calls abandon (if not nil) when f returns.
func await(ctx context.Context, op string, f func() error, abandon func()) (abandoned bool, err error) {
	start := time.Now()
	if ctx.Err() != nil {
		// Not started: nothing runs in the background.
		if abandon != nil {
			abandon()
		}
		return true, ctxError(ctx, op, start)
	}
	var (
		mu               sync.Mutex
		finished, gaveUp bool
		done             = make(chan error, 1)
	)
	go func() {
		err := f()
		mu.Lock()
		finished = true
		cleanup := gaveUp
		mu.Unlock()
		if cleanup && abandon != nil {
			abandon()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return false, err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return false, <-done
		}
		gaveUp = true
		return true, ctxError(ctx, op, start)
	}
}
