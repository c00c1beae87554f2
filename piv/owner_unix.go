//go:build unix

package piv

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a secret file that someone other than the current
// user could read: group or others may access it, or another user owns it
// (and so can read it, whatever its mode).
func checkPrivate(what, path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s is accessible to group or others (mode %04o): run \"chmod 600 %s\"", what, path, perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s %s belongs to user %d, who can read it: keep the file in your own name (chown it to user %d, or write it anew)", what, path, st.Uid, os.Geteuid())
	}
	return nil
}
