package piv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

// TestPCSCCode recognises the socket failures of pcsc-lite's client
// library in each form they reach this package, and nothing else.
func TestPCSCCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code uint32
		ok   bool
	}{
		{scard.ErrNoService, scardNoService, true},
		{fmt.Errorf("connect to pcscd: %w", scard.Error(scardSecurityViolation)), scardSecurityViolation, true},
		{scard.Error(scardCommError), scardCommError, true},
		{errors.New("connecting to smart card daemon: access was denied because of a security violation"), scardSecurityViolation, true},
		{errors.New("transmitting request: an internal communications error has been detected"), scardCommError, true},
		{errors.New("connecting to pcsc: the Smart card resource manager is not running"), scardNoService, true},
		{scard.ErrSharingViolation, uint32(scard.ErrSharingViolation), false},
		{errors.New("smart card error 6982: security status not satisfied"), 0, false},
		{nil, 0, false},
	} {
		code, ok := pcscCode(tc.err)
		if ok != tc.ok || ok && code != tc.code {
			t.Errorf("pcscCode(%v) = %#x, %v; want %#x, %v", tc.err, code, ok, tc.code, tc.ok)
		}
	}
}

// TestWithSocket checks that a socket failure names the socket that
// PCSCLITE_CSOCK_NAME names and what a client finds there, and that
// other errors, or any error without the variable, are left alone.
func TestWithSocket(t *testing.T) {
	dir := t.TempDir()
	live := listeningSocket(t, filepath.Join(dir, "live.sock"))
	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()

	pcscErr := fmt.Errorf("connecting to pcsc: %w", scard.ErrNoService)
	for _, tc := range []struct {
		path string
		want SocketProblem
	}{
		{filepath.Join(dir, "missing.sock"), SocketMissing},
		{stale, SocketRefused},
		{live, SocketDropped},
	} {
		t.Setenv(EnvSocket, tc.path)
		var se *SocketError
		if err := withSocket(pcscErr); !errors.As(err, &se) || se.Path != tc.path || se.Problem != tc.want || !errors.Is(err, scard.ErrNoService) {
			t.Errorf("%s: withSocket gave %v, want problem %d", tc.path, err, tc.want)
			continue
		}
		if again := withSocket(se); again != error(se) {
			t.Errorf("%s: a *SocketError was wrapped again: %v", tc.path, again)
		}
		t.Logf("%s", se)
	}
	other := errors.New("smart card error 6a82: data object or application not found")
	if err := withSocket(other); err != other {
		t.Errorf("withSocket(%v) = %v, want it unchanged", other, err)
	}
	t.Setenv(EnvSocket, "")
	if err := withSocket(pcscErr); err != pcscErr {
		t.Errorf("without %s: withSocket gave %v, want the error unchanged", EnvSocket, err)
	}
}

// TestRetryConnect tries again a connection that the other end dropped,
// and nothing else, and gives up when its time is up.
func TestRetryConnect(t *testing.T) {
	reset := scard.Error(scardSecurityViolation)
	calls := 0
	err := retryConnect(context.Background(), func() error {
		calls++
		if calls < 4 {
			return reset
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Errorf("three resets then success: %v after %d calls, want success after 4", err, calls)
	}

	// SCARD_E_NO_SERVICE is tried again only while the socket accepts
	// connections: a missing socket, or pcscd's own, fails at once.
	live := listeningSocket(t, filepath.Join(t.TempDir(), "live.sock"))
	for _, tc := range []struct {
		socket string
		calls  int
	}{
		{"", 1},
		{filepath.Join(t.TempDir(), "missing.sock"), 1},
		{live, 3},
	} {
		t.Setenv(EnvSocket, tc.socket)
		calls = 0
		err = retryConnect(context.Background(), func() error {
			if calls++; calls < 3 {
				return scard.ErrNoService
			}
			return nil
		})
		if calls != tc.calls || (tc.calls < 3) != errors.Is(err, scard.ErrNoService) {
			t.Errorf("no service with %s=%q: %v after %d calls, want %d calls", EnvSocket, tc.socket, err, calls, tc.calls)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	calls = 0
	err = retryConnect(ctx, func() error { calls++; return reset })
	if took := time.Since(start); !errors.Is(err, reset) || took > time.Second || calls < 2 {
		t.Errorf("always reset: %v after %d calls and %v, want the reset after a few calls within the context", err, calls, took)
	}
}

// listeningSocket makes path a Unix socket that accepts connections and
// closes them at once, until the test ends, and returns path.
func listeningSocket(t *testing.T, path string) string {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return path
}
