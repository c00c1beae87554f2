//go:build unix

package inputfile

import (
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a file that someone other than the current user
// could read: group or others may access it, or another user owns it.
func checkPrivate(path string, fi fs.FileInfo) error {
	me := os.Geteuid()
	owner := me
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = int(st.Uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 || owner != me {
		return &NotPrivateError{Path: path, Mode: perm, Owner: owner, User: me}
	}
	return nil
}
