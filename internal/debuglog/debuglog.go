// Package debuglog writes the debug log of notation-piv, named by the
// environment variable NOTATION_PIV_LOG: notation cannot pass --debug to a
// plugin, so both the contract commands and the commands for people log
// here.
//
// Nothing secret is ever written to it: callers log commands, slots,
// serial numbers, timings and error codes, never a PIN, a PUK or a
// management key, and TSA URLs only as timestamp.Redact shows them.
//
// The log is only written to a file of the current user that nobody else
// can read or write: a new file, created with mode 0600, or an existing
// regular file with one link, owned by the user, of mode 0600 or
// narrower. Anything else is refused without a byte written: a symbolic
// link is never followed, and a FIFO or a device is never opened, so it
// cannot block (should one replace the file between the check and the
// open, the open does not block either, and the file is closed again).
package debuglog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Env names the environment variable that names the debug log.
const Env = "NOTATION_PIV_LOG"

// Log is the debug log of one command. Its methods do nothing when
// logging is off.
type Log struct {
	f   *os.File // nil: logging is off
	err error    // why the log named by Env was refused
}

// Open opens the debug log named by NOTATION_PIV_LOG, if set, for
// appending. A refused log is off, and Err says why.
func Open() *Log {
	path := os.Getenv(Env)
	if path == "" {
		return &Log{}
	}
	f, err := openFile(path)
	if err != nil {
		return &Log{err: err}
	}
	return &Log{f: f}
}

// Err returns why the log named by NOTATION_PIV_LOG was refused, or nil.
func (l *Log) Err() error { return l.err }

// Printf writes one timestamped line.
func (l *Log) Printf(format string, args ...any) {
	if l.f == nil {
		return
	}
	fmt.Fprintf(l.f, "%s notation-piv[%d]: %s\n", time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), fmt.Sprintf(format, args...))
}

// Close closes the log file.
func (l *Log) Close() {
	if l.f != nil {
		l.f.Close()
	}
}

// openFile opens the log at path as the package documentation describes:
// lstat refuses what is not a regular file before any open, and fstat
// checks again what was opened.
func openFile(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if err := checkFile(path, fi); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, refusal(path, fmt.Sprintf("cannot be checked (%v)", pathCause(err)), "")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|openFlags, 0o600)
	if err != nil {
		return nil, refusal(path, fmt.Sprintf("cannot be opened (%v)", pathCause(err)), "")
	}
	if fi, err = f.Stat(); err == nil {
		err = checkFile(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkFile refuses a log file that is not a regular file or, where the
// system has owners and modes, that another user could read or write
// (checkOwner).
func checkFile(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return refusal(path, "is a symbolic link", "")
	case m.IsDir():
		return refusal(path, "is a directory, not a regular file", "")
	case m&fs.ModeNamedPipe != 0:
		return refusal(path, "is a FIFO (named pipe), not a regular file", "")
	case m&fs.ModeSocket != 0:
		return refusal(path, "is a socket, not a regular file", "")
	case m&fs.ModeDevice != 0:
		return refusal(path, "is a device, not a regular file", "")
	case !m.IsRegular():
		return refusal(path, "is a special file, not a regular file", "")
	}
	return checkOwner(path, fi)
}

// refusal says why the log at path was refused, what is wrong with it
// (what), and what to do: fix, if not "", or a new file.
func refusal(path, what, fix string) error {
	if fix != "" {
		fix += ", "
	}
	return fmt.Errorf("%s %q %s: the debug log is written only to a regular file of yours that nobody else can read or write, never through a link; %spoint %s at a file that does not exist yet (it is created with mode 0600), or unset it",
		Env, path, what, fix, Env)
}

// pathCause drops the operation and path that an *fs.PathError repeats,
// since the messages name the path themselves.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
