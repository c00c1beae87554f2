//go:build !unix

package main

import "io/fs"

// logOpenFlags: Windows has no FIFOs in the file system, and Lstat
// refuses a symbolic link before the open.
const logOpenFlags = 0

// checkLogOwner does nothing where there are no Unix modes and owners:
// NTFS access control lists decide who reads a file there, and Go does
// not expose them.
func checkLogOwner(path string, fi fs.FileInfo) error { return nil }
