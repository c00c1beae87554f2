package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// debugLog writes the debug log named by NOTATION_PIV_LOG; notation cannot
// pass --debug to a plugin. Nothing secret is ever written to it: callers
// log commands, slots, serial numbers, timings and error codes, never a
// PIN, a PUK or a management key, and TSA URLs only as timestamp.Redact
// shows them.
type debugLog struct {
	f   *os.File // nil: logging is off
	err error    // why the log named by NOTATION_PIV_LOG was refused
}

// logEnv names the environment variable that names the debug log.
const logEnv = "NOTATION_PIV_LOG"

// openLog opens the debug log named by NOTATION_PIV_LOG, if set, for
// appending. The log is only written to a file of the current user that
// nobody else can read or write: a new file, created with mode 0600, or an
// existing regular file with one link, owned by the user, of mode 0600 or
// narrower. Anything else is refused without a byte written: a symbolic
// link is never followed, and a FIFO or a device is never opened, so it
// cannot block (should one replace the file between the check and the
// open, the open does not block either, and the file is closed again). A
// refused log is off, and Err says why.
func openLog() *debugLog {
	path := os.Getenv(logEnv)
	if path == "" {
		return &debugLog{}
	}
	f, err := openLogFile(path)
	if err != nil {
		return &debugLog{err: err}
	}
	return &debugLog{f: f}
}

// openLogFile opens the log at path as openLog describes: lstat refuses
// what is not a regular file before any open, and fstat checks again what
// was opened.
func openLogFile(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if err := checkLogFile(path, fi); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, logError(path, fmt.Sprintf("cannot be checked (%v)", unwrapPath(err)), "")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|logOpenFlags, 0o600)
	if err != nil {
		return nil, logError(path, fmt.Sprintf("cannot be opened (%v)", unwrapPath(err)), "")
	}
	if fi, err = f.Stat(); err == nil {
		err = checkLogFile(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkLogFile refuses a log file that is not a regular file or, where
// the system has owners and modes, that another user could read or
// write (checkLogOwner).
func checkLogFile(path string, fi fs.FileInfo) error {
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		return logError(path, "is a symbolic link", "")
	case !m.IsRegular():
		return logError(path, "is "+fileKind(m)+", not a regular file", "")
	}
	return checkLogOwner(path, fi)
}

// logError says why the log at path was refused, what is wrong with it
// (what), and what to do: fix, if not "", or a new file.
func logError(path, what, fix string) error {
	if fix != "" {
		fix += ", "
	}
	return fmt.Errorf("%s %q %s: the debug log is written only to a regular file of yours that nobody else can read or write, never through a link; %spoint %s at a file that does not exist yet (it is created with mode 0600), or unset it",
		logEnv, path, what, fix, logEnv)
}

// Err returns why the log named by NOTATION_PIV_LOG was refused, or nil.
func (l *debugLog) Err() error { return l.err }

// Printf writes one timestamped line.
func (l *debugLog) Printf(format string, args ...any) {
	if l.f == nil {
		return
	}
	fmt.Fprintf(l.f, "%s notation-piv[%d]: %s\n", time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), fmt.Sprintf(format, args...))
}

// Close closes the log file.
func (l *debugLog) Close() {
	if l.f != nil {
		l.f.Close()
	}
}
