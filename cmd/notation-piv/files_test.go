package main

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/pemcert"
)

// The files the tests give the plugin: written, read back, and of every
// type a path can name.

// write writes b to path, mode 0644.
func write(t testing.TB, path string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(path, b, 0o644))
}

// writeFile writes b to a new file in dir, mode 0644, and returns its
// path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	write(t, path, b)
	return path
}

// writeMode writes content to path with exactly mode, whatever the
// umask, and returns path.
func writeMode(t testing.TB, path, content string, mode os.FileMode) string {
	t.Helper()
	must(t, os.WriteFile(path, []byte(content), mode))
	must(t, os.Chmod(path, mode))
	return path
}

// writePEM writes certificates to a PEM file and returns its path.
func writePEM(t testing.TB, path string, certs ...*x509.Certificate) string {
	t.Helper()
	write(t, path, fixtures.PEM(certs...))
	return path
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// readCert reads a PEM file that holds one certificate.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := pemcert.Load(path, 1)
	must(t, err)
	return certs[0]
}

// sparseFile creates a file of size bytes at path, mode 0600, that takes
// no room on disk: zeros all the way. ok is false where the file system
// cannot hold a file that large.
func sparseFile(t testing.TB, path string, size int64) (ok bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	must(t, err)
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Logf("no sparse file of %d bytes here: %v", size, err)
		return false
	}
	return true
}

// specialFiles are files of every type but regular: a FIFO, a symbolic
// link to it, a directory, a Unix socket and a character device, a copy of
// /dev/null, where writing is safe: an --out that replaced it would not
// break the machine's /dev/null. Without the right to make a device node,
// device is /dev/zero, to read only. huge is a regular file too large for
// any setting: a sparse file of 64 MiB.
type specialFiles struct {
	fifo, link, dir, socket, device, huge string
}

// newSpecialFiles makes specialFiles in a new directory.
func newSpecialFiles(t *testing.T) specialFiles {
	t.Helper()
	// A short directory: a socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "ft")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ft := specialFiles{fifo: filepath.Join(dir, "fifo"), link: filepath.Join(dir, "link"), dir: filepath.Join(dir, "d"),
		socket: filepath.Join(dir, "s"), device: filepath.Join(dir, "null"), huge: filepath.Join(dir, "huge")}
	if err := syscall.Mknod(ft.device, syscall.S_IFCHR|0o666, 1<<8|3); err != nil { // major 1, minor 3: null
		ft.device = "/dev/zero"
	}
	must(t, syscall.Mkfifo(ft.fifo, 0o600))
	must(t, os.Symlink(ft.fifo, ft.link))
	must(t, os.Mkdir(ft.dir, 0o700))
	if !sparseFile(t, ft.huge, 64<<20) {
		t.FailNow()
	}
	l, err := net.Listen("unix", ft.socket)
	must(t, err)
	t.Cleanup(func() { l.Close() })
	return ft
}
