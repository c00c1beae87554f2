package vcardtest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeRun points the pcscd socket and PID file into a temporary directory.
func fakeRun(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	oldSocket, oldPID := socketPath, pidPath
	socketPath, pidPath = filepath.Join(dir, "pcscd.comm"), filepath.Join(dir, "pcscd.pid")
	t.Cleanup(func() { socketPath, pidPath = oldSocket, oldPID })
}

// staleSocket leaves a socket file behind that nobody listens on, as a
// pcscd killed with SIGKILL does.
func staleSocket(t *testing.T) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

func writePID(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(pid)+"\n\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestPCSCDRunning(t *testing.T) {
	t.Run("no socket", func(t *testing.T) {
		fakeRun(t)
		if running, err := pcscdRunning(); running || err != nil {
			t.Errorf("pcscdRunning = %v, %v; want false, nil", running, err)
		}
	})
	t.Run("listening", func(t *testing.T) {
		fakeRun(t)
		ln, err := net.Listen("unix", socketPath)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if running, err := pcscdRunning(); !running || err != nil {
			t.Errorf("pcscdRunning = %v, %v; want true, nil", running, err)
		}
	})
	t.Run("stale", func(t *testing.T) {
		fakeRun(t)
		staleSocket(t)
		writePID(t, deadPID(t))
		if running, err := pcscdRunning(); running || err != nil {
			t.Errorf("pcscdRunning = %v, %v; want false, nil", running, err)
		}
		if exists(socketPath) || exists(pidPath) {
			t.Error("stale socket or PID file left behind")
		}
	})
	t.Run("stale without PID file", func(t *testing.T) {
		fakeRun(t)
		staleSocket(t)
		if running, err := pcscdRunning(); running || err != nil {
			t.Errorf("pcscdRunning = %v, %v; want false, nil", running, err)
		}
		if exists(socketPath) {
			t.Error("stale socket left behind")
		}
	})
	t.Run("live process, dead socket", func(t *testing.T) {
		fakeRun(t)
		staleSocket(t)
		writePID(t, os.Getpid())
		_, err := pcscdRunning()
		if err == nil || !strings.Contains(err.Error(), "does not answer") {
			t.Errorf("pcscdRunning error = %v, want one saying pcscd does not answer", err)
		}
		if !exists(socketPath) {
			t.Error("socket of a live pcscd was deleted")
		}
	})
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func TestSkipOrFail(t *testing.T) {
	skip := &SkipError{Reason: "pcscd is not installed"}
	for _, tc := range []struct {
		ci   string
		err  error
		want int
	}{
		{"", skip, 0},
		{"false", skip, 0},
		{"true", skip, 1},
		{"", errors.New("pcscd did not start"), 1},
		{"", errors.Join(errors.New("context"), skip), 0},
	} {
		t.Setenv("CI", tc.ci)
		if got := SkipOrFail(tc.err); got != tc.want {
			t.Errorf("CI=%q: SkipOrFail(%v) = %d, want %d", tc.ci, tc.err, got, tc.want)
		}
	}
}
