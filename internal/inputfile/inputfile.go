// Package inputfile opens the files a command reads so that no file can
// hang it: only regular files are read. A directory, a FIFO, a socket or a
// device such as /dev/zero is refused before it is opened (stat follows
// symbolic links; opening some devices has effects, and opening a FIFO
// blocks until it has a writer), the open is non-blocking, and fstat
// checks again what was opened, so that a FIFO swapped in between cannot
// hang the open or the reads either.
package inputfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// NotRegularError says that a path names something other than a regular
// file.
type NotRegularError struct {
	// Path is the path as given.
	Path string
	// Mode is the file's mode; Type(Mode) names it.
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Type(e.Mode))
}

// TooLargeError says that a file holds more than a limit.
type TooLargeError struct {
	// Path is the path as given.
	Path string
	// Limit is the limit in bytes.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is more than %d bytes", e.Path, e.Limit)
}

// Type names the type of a file for messages: "a regular file", "a
// directory", "a FIFO", "a socket", "a character device", "a device" or
// "a symbolic link".
func Type(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a file of type " + m.Type().String()
}

// Open opens the regular file at path for reading, and returns what fstat
// says of what it opened. Anything but a regular file gives a
// *NotRegularError; a missing or unreadable file gives the error of stat
// or open.
func Open(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// ReadAll reads the regular file at path, of at most limit bytes, as Open
// opens it. A larger file gives a *TooLargeError; one that stat already
// shows larger is not read at all.
func ReadAll(path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	// The file may grow after fstat: read one byte more than allowed.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return b, nil
}
