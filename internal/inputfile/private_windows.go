package inputfile

import "io/fs"

// checkPrivate does nothing on Windows: NTFS access control lists, not
// mode bits, decide who reads a file there, and Go does not expose them.
func checkPrivate(path string, fi fs.FileInfo) error { return nil }
