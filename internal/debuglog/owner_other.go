//go:build !unix

package debuglog

import "io/fs"

// openFlags: Windows has no FIFOs in the file system, and Lstat
// refuses a symbolic link before the open.
const openFlags = 0

// checkOwner does nothing where there are no Unix modes and owners:
// NTFS access control lists decide who reads a file there, and Go does
// not expose them.
func checkOwner(path string, fi fs.FileInfo) error { return nil }
