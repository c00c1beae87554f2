package piv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ebfe/scard"
)

// Where pcscd is: pcsc-lite's client library talks to pcscd over a Unix
// socket, /run/pcscd/pcscd.comm unless the environment variable
// PCSCLITE_CSOCK_NAME names another. A signing station's card is reached
// that way from a CI runner: the runner's end of an SSH tunnel
// (ssh -N -L runner.sock:/run/pcscd/pcscd.comm station) is named by
// PCSCLITE_CSOCK_NAME. Errors through such a socket say so (*SocketError),
// and connections the tunnel drops are made again (see retryConnect).

// EnvSocket names the environment variable that points pcsc-lite's client
// library at another pcscd socket than its default.
const EnvSocket = "PCSCLITE_CSOCK_NAME"

// Socket returns the pcscd socket named by PCSCLITE_CSOCK_NAME, or "" if
// it is unset or this platform's PC/SC is not pcsc-lite (Windows, macOS),
// which then ignores it.
func Socket() string {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return ""
	}
	return os.Getenv(EnvSocket)
}

// SocketProblem is what went wrong with the socket PCSCLITE_CSOCK_NAME
// names.
type SocketProblem int

// The problems of a socket, as a client finds it.
const (
	// SocketMissing: no file at the path.
	SocketMissing SocketProblem = iota + 1
	// SocketRefused: nothing listens on it (for example, the file a
	// stopped ssh left behind).
	SocketRefused
	// SocketDropped: it accepts connections, but the connection was
	// closed from the other end before pcscd answered, or in the middle of
	// a command.
	SocketDropped
)

// SocketError means that pcscd could not be reached, or stopped answering,
// through the socket that PCSCLITE_CSOCK_NAME names.
type SocketError struct {
	// Path is the socket.
	Path string
	// Problem is what a client finds there now.
	Problem SocketProblem
	// Err is the PC/SC error.
	Err error
}

// Error names the socket and what is wrong with it.
func (e *SocketError) Error() string {
	at := fmt.Sprintf("the pcscd socket %s (%s)", e.Path, EnvSocket)
	switch e.Problem {
	case SocketMissing:
		return fmt.Sprintf("%s does not exist (%v)", at, e.Err)
	case SocketRefused:
		return fmt.Sprintf("%s refuses connections: nothing listens on it (%v)", at, e.Err)
	}
	return fmt.Sprintf("the connection to pcscd through %s was closed from the other end (%v)", at, e.Err)
}

// Unwrap returns Err.
func (e *SocketError) Unwrap() error { return e.Err }

// PC/SC return codes that pcsc-lite's client library gives when its
// socket fails, rather than pcscd or the card.
const (
	scardNoService         = 0x8010001D // SCARD_E_NO_SERVICE: no socket, connection refused, or a write failed
	scardServiceStopped    = 0x8010001E // SCARD_E_SERVICE_STOPPED
	scardCommError         = 0x80100013 // SCARD_F_COMM_ERROR: the other end closed the connection
	scardSecurityViolation = 0x8010006A // SCARD_W_SECURITY_VIOLATION: the other end reset the connection
)

// pcscMessages are piv-go's texts for those codes: it exports neither the
// codes nor a type.
var pcscMessages = map[uint32]string{
	scardNoService:         "the Smart card resource manager is not running",
	scardServiceStopped:    "the Smart card resource manager has shut down",
	scardCommError:         "an internal communications error has been detected",
	scardSecurityViolation: "access was denied because of a security violation",
}

// pcscCode returns the PC/SC return code of err, if it is one of
// pcscMessages' codes: from github.com/ebfe/scard (whose type this
// package's own PC/SC calls return too) or piv-go's message.
func pcscCode(err error) (uint32, bool) {
	var se scard.Error
	switch {
	case err == nil:
		return 0, false
	case errors.As(err, &se):
		_, ok := pcscMessages[uint32(se)]
		return uint32(se), ok
	}
	msg := err.Error()
	for code, text := range pcscMessages {
		if strings.Contains(msg, text) {
			return code, true
		}
	}
	return 0, false
}

// socketFailed reports whether PCSCLITE_CSOCK_NAME names pcscd's socket
// and err is a failure of that socket rather than of pcscd or the card.
func socketFailed(err error) bool {
	_, ok := pcscCode(err)
	return ok && Socket() != ""
}

// withSocket returns err as a *SocketError if socketFailed, and err
// unchanged otherwise. It looks at the socket to tell what is wrong with
// it.
func withSocket(err error) error {
	var se *SocketError
	if !socketFailed(err) || errors.As(err, &se) {
		return err
	}
	// The PC/SC code alone: the operation is named by the caller.
	var code scard.Error
	if errors.As(err, &code) {
		err = code
	}
	return &SocketError{Path: Socket(), Problem: probeSocket(Socket()), Err: err}
}

// probeSocket says what a client finds at path now.
func probeSocket(path string) SocketProblem {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return SocketMissing
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
			return SocketRefused
		}
		return SocketDropped
	}
	c.Close()
	return SocketDropped
}

// connectRetryFor bounds how long retryConnect tries again.
const connectRetryFor = 3 * time.Second

// retryConnect calls connect, which establishes a PC/SC context (and may
// connect to a card), again while it fails as a connection to pcscd that
// the other end dropped (see dropped), for up to connectRetryFor or until
// ctx ends; it returns connect's last error. Nothing retried sends a PIN.
//
// Through an SSH tunnel that is what happens when several runners connect
// at once: pcscd listens with a backlog of one, sshd connects to it
// without blocking and gives up at once when the backlog is full (EAGAIN),
// and ssh then closes the runner's connection. Its first request still
// unread, the close resets the connection, which pcsc-lite's client
// library reports as SCARD_W_SECURITY_VIOLATION; a client that writes the
// request after the close gets SCARD_E_NO_SERVICE instead.
func retryConnect(ctx context.Context, connect func() error) error {
	ctx, cancel := context.WithTimeout(ctx, connectRetryFor)
	defer cancel()
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		err := connect()
		if !dropped(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// dropped reports whether err is a connection to pcscd that the other end
// reset (SCARD_W_SECURITY_VIOLATION), or closed or never read
// (SCARD_F_COMM_ERROR, SCARD_E_NO_SERVICE) while the socket that
// PCSCLITE_CSOCK_NAME names accepts connections: not a missing or a dead
// pcscd, which fail at once.
func dropped(err error) bool {
	code, ok := pcscCode(err)
	switch {
	case !ok:
		return false
	case code == scardSecurityViolation:
		return true
	case code == scardNoService, code == scardCommError:
		return Socket() != "" && probeSocket(Socket()) == SocketDropped
	}
	return false
}
