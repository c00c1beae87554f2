package main

import (
	"fmt"
	"os"
	"time"
)

// debugLog writes the debug log named by NOTATION_PIV_LOG; notation cannot
// pass --debug to a plugin. Nothing secret is ever written to it: callers
// log commands, slots, serial numbers, timings and error codes, never a
// PIN, a PUK or a management key.
type debugLog struct {
	f *os.File // nil: logging is off
}

// openLog opens the log file for appending, creating it with mode 0600. A
// log that cannot be opened is off; logging never fails a signature.
func openLog() *debugLog {
	path := os.Getenv("NOTATION_PIV_LOG")
	if path == "" {
		return &debugLog{}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &debugLog{}
	}
	return &debugLog{f: f}
}

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
