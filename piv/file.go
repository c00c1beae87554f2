package piv

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// readSmallFile reads the regular file at path, of at most limit bytes;
// check, if not nil, may refuse the file based on its mode. A directory, a
// FIFO, a device such as /dev/zero and a file larger than limit (a sparse
// one included) are refused before anything is read: stat refuses them
// without opening them (opening some devices has effects), and fstat
// checks again what was opened, with O_NONBLOCK, so that a FIFO put in
// place in between cannot hang the open. The error names the file, says
// what is wrong with it and what to do.
func readSmallFile(path string, limit int64, check func(fs.FileInfo) error) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkSmallFile(path, fi, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkSmallFile(path, fi, limit); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, err
		}
	}
	// The file may grow after fstat: read one byte more than allowed.
	b := make([]byte, limit+1)
	n, err := io.ReadFull(f, b)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		wipe(b)
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(n) > limit {
		wipe(b)
		return nil, fmt.Errorf("%s is more than the limit of %d bytes: check that it names the right file", path, limit)
	}
	return b[:n], nil
}

// checkSmallFile refuses anything but a regular file of at most limit
// bytes.
func checkSmallFile(path string, fi fs.FileInfo, limit int64) error {
	switch {
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, not a file: give the path of the file itself", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): give the path of a regular file", path, fileType(fi.Mode()))
	case fi.Size() > limit:
		return fmt.Errorf("%s is %d bytes, more than the limit of %d: check that it names the right file", path, fi.Size(), limit)
	}
	return nil
}

// fileType names the type of a file that is not a regular file.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// wipe overwrites b with zeros.
func wipe(b []byte) {
	clear(b)
}
