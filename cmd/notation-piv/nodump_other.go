//go:build !linux

package main

// noCoreDumps does nothing outside Linux: macOS writes no core files
// unless the user asks for them (ulimit -c), and Windows writes crash
// dumps only where Windows Error Reporting is set up to keep them.
func noCoreDumps() error { return nil }
