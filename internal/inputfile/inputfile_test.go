//go:build unix

package inputfile

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRefused gives Open and ReadAll every kind of file that is not a
// regular one: each is refused at once with a *NotRegularError that names
// its type. A FIFO without a writer would block an ordinary open, and
// /dev/zero an ordinary read.
func TestRefused(t *testing.T) {
	dir, err := os.MkdirTemp("", "inputfile") // short: a socket's path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "socket")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct{ path, kind string }{
		{fifo, "a FIFO"},
		{link, "a FIFO"},
		{socket, "a socket"},
		{dir, "a directory"},
		{"/dev/zero", "a character device"},
		{"/dev/null", "a character device"},
	} {
		start := time.Now()
		_, _, openErr := Open(tc.path)
		_, readErr := ReadAll(tc.path, 1<<20)
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: refused after %v", tc.path, took)
		}
		for _, err := range []error{openErr, readErr} {
			var nr *NotRegularError
			want := tc.path + " is not a regular file (" + tc.kind + ")"
			if tc.kind == "a directory" {
				want = tc.path + " is a directory, not a file"
			}
			if !errors.As(err, &nr) || Type(nr.Mode) != tc.kind || err.Error() != want {
				t.Errorf("%s: %v, want a *NotRegularError for %s", tc.path, err, tc.kind)
			}
		}
	}
}

// TestRead reads regular files within and beyond the limit.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadAll(path, 5); err != nil || string(b) != "12345" {
		t.Errorf("ReadAll at the limit: %q, %v", b, err)
	}
	var large *TooLargeError
	if _, err := ReadAll(path, 4); !errors.As(err, &large) || large.Limit != 4 || !strings.Contains(err.Error(), "more than the limit of 4 bytes") {
		t.Errorf("ReadAll beyond the limit: %v, want a *TooLargeError", err)
	}
	f, fi, err := Open(path)
	if err != nil || fi.Size() != 5 {
		t.Fatalf("Open: %v, %v", fi, err)
	}
	f.Close()
	if _, _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
	for mode, want := range map[fs.FileMode]string{0: "a regular file", fs.ModeSymlink: "a symbolic link", fs.ModeDevice: "a device"} {
		if got := Type(mode); got != want {
			t.Errorf("Type(%v) = %q, want %q", mode, got, want)
		}
	}
}

// TestReadGrowing reads files of /proc, which stat shows empty but which
// hold more: the buffer grows from what stat said up to the limit, and a
// file that outgrows the limit gives a *TooLargeError without a size.
func TestReadGrowing(t *testing.T) {
	const path = "/proc/self/maps"
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	b, err := ReadAll(path, 1<<20)
	if err != nil || len(b) == 0 {
		t.Fatalf("ReadAll(%s): %d bytes, %v", path, len(b), err)
	}
	var large *TooLargeError
	if _, err := ReadAll(path, 16); !errors.As(err, &large) || large.Size != 0 || err.Error() != path+" is more than the limit of 16 bytes" {
		t.Errorf("ReadAll(%s, 16): %v, want a *TooLargeError without a size", path, err)
	}
}

// TestReadPrivate reads a secret file only when nobody else can read it:
// a file group or others may access gives a *NotPrivateError naming its
// mode, before its content is read.
func TestReadPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadPrivate(path, 64); err != nil || string(b) != "123456\n" {
		t.Errorf("ReadPrivate of a 0600 file: %q, %v", b, err)
	}
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPrivate(path, 64)
		var np *NotPrivateError
		if !errors.As(err, &np) || np.Mode != mode || err.Error() != fmt.Sprintf("%s is accessible to group or others (mode %04o)", path, mode) {
			t.Errorf("ReadPrivate of a %04o file: %v, want a *NotPrivateError", mode, err)
		}
		if b, err := ReadAll(path, 64); err != nil || string(b) != "123456\n" {
			t.Errorf("ReadAll of a %04o file: %q, %v", mode, b, err)
		}
	}
	if err := (&NotPrivateError{Path: path, Mode: 0o600, Owner: 65534, User: 0}).Error(); err != path+" belongs to user 65534, who can read it" {
		t.Errorf("NotPrivateError of another owner: %q", err)
	}
}
