// Package inputfile reads the files a command is given, so that no file
// can hang it or make it read without bound: only regular files are read,
// up to a limit. A directory, a FIFO, a socket or a device such as
// /dev/zero is refused before it is opened (stat follows symbolic links;
// opening some devices has effects, and opening a FIFO blocks until it has
// a writer), the open is non-blocking, and fstat checks again what was
// opened, so that a FIFO swapped in between cannot hang the open or the
// reads either. A file that holds a secret is read with ReadPrivate, which
// also refuses a file that someone else could read.
//
// Errors say what is wrong with the file, naming it; what to do about it
// is for the caller to say, who knows which setting named the file.
package inputfile

import (
	"errors"
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

// Error names the path and the type of file it names.
func (e *NotRegularError) Error() string {
	if e.Mode.IsDir() {
		return e.Path + " is a directory, not a file"
	}
	return fmt.Sprintf("%s is not a regular file (%s)", e.Path, Type(e.Mode))
}

// TooLargeError says that a file holds more than a limit.
type TooLargeError struct {
	// Path is the path as given.
	Path string
	// Size is the file's size as stat gave it; 0 if it was within Limit
	// then and grew beyond it while it was read.
	Size int64
	// Limit is the limit in bytes.
	Limit int64
}

// Error names the path, its size if known, and the limit.
func (e *TooLargeError) Error() string {
	if e.Size > 0 {
		return fmt.Sprintf("%s is %d bytes, more than the limit of %d bytes", e.Path, e.Size, e.Limit)
	}
	return fmt.Sprintf("%s is more than the limit of %d bytes", e.Path, e.Limit)
}

// NotPrivateError says that someone other than the current user could
// read a file that holds a secret: its mode lets group or others access
// it, or another user owns it (and so can read it, whatever its mode).
type NotPrivateError struct {
	// Path is the path as given.
	Path string
	// Mode is the file's permission bits.
	Mode fs.FileMode
	// Owner is the user ID of the file's owner, and User that of the
	// current (effective) user.
	Owner, User int
}

// Error names the path and who else can read it.
func (e *NotPrivateError) Error() string {
	if e.Owner != e.User {
		return fmt.Sprintf("%s belongs to user %d, who can read it", e.Path, e.Owner)
	}
	return fmt.Sprintf("%s is accessible to group or others (mode %04o)", e.Path, e.Mode)
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
	return read(path, limit, false)
}

// ReadPrivate reads, as ReadAll does, a file that holds a secret such as
// a PIN or a key. A file that someone other than the current user could
// read gives a *NotPrivateError before anything is read (checkPrivate says
// who; on Windows nothing is checked). Whatever it read is wiped when it
// fails; the caller wipes what it returns once done with it.
func ReadPrivate(path string, limit int64) ([]byte, error) {
	return read(path, limit, true)
}

// read reads the regular file at path, of at most limit bytes, checking
// with private that only the current user can read it. Every buffer it
// gives up, on growth or on failure, is wiped.
func read(path string, limit int64, private bool) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if private {
		if err := checkPrivate(path, fi); err != nil {
			return nil, err
		}
	}
	if fi.Size() > limit {
		return nil, &TooLargeError{Path: path, Size: fi.Size(), Limit: limit}
	}
	// The file may grow after fstat: read up to one byte more than
	// allowed, growing the buffer from what fstat said.
	b := make([]byte, 0, min(fi.Size(), limit)+1)
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				clear(b)
				return nil, &TooLargeError{Path: path, Limit: limit}
			}
			grown := make([]byte, len(b), min(2*int64(cap(b)), limit+1))
			copy(grown, b)
			clear(b)
			b = grown
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			clear(b)
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
}
