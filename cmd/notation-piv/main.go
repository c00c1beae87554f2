// Command notation-piv is a Notation plugin (name "piv") that signs with a
// key held on a PIV smart card, such as a YubiKey, through PC/SC.
//
// Notation runs it with a contract command as the only argument and a JSON
// request on stdin: get-plugin-metadata, describe-key, generate-signature
// or generate-envelope. The answer is one JSON document on stdout and exit
// status 0, or a JSON error on stderr and exit status 1.
//
// The key is chosen by its PIV slot (keyId 9a, 9c, 9d, 9e or 82-95) and the
// card by pluginConfig; see README.md for every pluginConfig key and for the
// PIN sources.
//
// Any other argument runs a command for people, such as "notation-piv
// list" or "notation-piv envelope sign": "notation-piv --help" lists them.
//
// On Linux the process makes no core dump and cannot be traced by other
// processes of the user. SIGINT and SIGTERM end every command within a
// second, whatever it waits for, with exit status 1.
//
// This package holds main alone: it registers the envelope formats, sets
// up the signals, and runs internal/contract or internal/cli.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/internal/cli"
	"github.com/notation-piv/notation-piv/internal/contract"
)

// interruptGrace is how long main waits, after SIGINT or SIGTERM, for the
// command to give up what it waits for and return its own error, before it
// reports the interruption itself and exits.
const interruptGrace = 500 * time.Millisecond

func main() {
	args := os.Args[1:]
	if err := noCoreDumps(); err != nil {
		os.Exit(failEarly(args, os.Stderr, fmt.Sprintf("cannot keep secrets out of core dumps: %v", err)))
	}
	envelope.Register(jws.Format{})
	envelope.Register(cose.Format{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stderr := &stderrGate{w: os.Stderr}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdinReader{ctx: ctx, r: os.Stdin}, os.Stdout, stderr) }()
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		select {
		case code = <-done:
		case <-time.After(interruptGrace):
			// The command still waits on something that ignores ctx.
			// A card it holds is reset by pcscd when the process exits.
			code = 1
			if clean, ok := stderr.takeOver(); ok && (clean || !isContract(args)) {
				failEarly(args, os.Stderr, fmt.Sprintf("interrupted (%v)", context.Cause(ctx)))
			}
		}
	}
	stop()
	os.Exit(code)
}

// run runs the contract command or the command for people that args
// name and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if isContract(args) {
		return contract.Run(ctx, pluginVersion(), args, stdin, stdout, stderr)
	}
	return cli.Run(ctx, pluginVersion(), args, stdin, stdout, stderr)
}

// isContract reports whether args run a contract command, whose errors
// are JSON.
func isContract(args []string) bool {
	return len(args) > 0 && contract.IsCommand(args[0])
}

// failEarly reports msg on stderr as the command run by args reports
// errors, a JSON error for a contract command, and returns exit status 1.
func failEarly(args []string, stderr io.Writer, msg string) int {
	if isContract(args) {
		return contract.Fail(stderr, msg)
	}
	return cli.Fail(stderr, msg)
}

// stdinReader reads stdin only when asked, and gives up when ctx ends: a
// Read waiting for input that does not come (a pipe never closed, a
// terminal) then returns the cause of ctx, such as "terminated signal
// received". Each Read reads stdin in its own goroutine, into a buffer of
// its own, so that an abandoned read never writes into the caller's.
type stdinReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from stdin, or returns the cause of ctx once ctx has ended.
func (s *stdinReader) Read(p []byte) (int, error) {
	if s.ctx.Err() != nil {
		return 0, context.Cause(s.ctx)
	}
	type result struct {
		buf []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		buf := make([]byte, len(p))
		n, err := s.r.Read(buf)
		ch <- result{buf[:n], err}
	}()
	select {
	case r := <-ch:
		return copy(p, r.buf), r.err
	case <-s.ctx.Done():
		return 0, context.Cause(s.ctx)
	}
}

// stderrGate passes the command's writes to stderr until main takes it
// over to report an interruption; from then on the command's writes are
// dropped, so that stderr holds one error for notation to read.
type stderrGate struct {
	mu      sync.Mutex
	w       io.Writer
	written bool // the command wrote to stderr
	closed  bool // main took stderr over
}

// Write writes p to stderr unless main took it over.
func (g *stderrGate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	g.written = true
	return g.w.Write(p)
}

// takeOver stops the command's writes. ok is false if the command is
// writing at this moment; clean is true if it wrote nothing before.
func (g *stderrGate) takeOver() (clean, ok bool) {
	if !g.mu.TryLock() {
		return false, false
	}
	defer g.mu.Unlock()
	g.closed = true
	return !g.written, true
}
