package piv

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// lease is the right to use a card's connection, from Card.lease to
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
	if c.conn == nil {
		c.release()
		return nil, fmt.Errorf("%s: the card is closed; open it again", op)
	}
	return &lease{c: c}, nil
}

// run calls f with the card's connection and returns f's error, or a
// *TimeoutError if ctx ends first. f's errors must already be wrapped for
// the caller. After a timeout the lease is lost and run must not be called
// again.
func (l *lease) run(ctx context.Context, op string, f func(conn conn) error) error {
	conn := l.c.conn
	abandoned, err := await(ctx, op, func() error { return f(conn) }, l.c.release)
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

// do runs f on the card's connection under op: one lease, one run.
func (c *Card) do(ctx context.Context, op string, f func(conn conn) error) error {
	l, err := c.lease(ctx, op)
	if err != nil {
		return err
	}
	defer l.release()
	return l.run(ctx, op, f)
}

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
