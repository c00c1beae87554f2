//go:build unix

package debuglog

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openFlags never follow a symbolic link as the last element of the
// log's path, and never wait for the other end of a FIFO.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// checkOwner refuses a log file that someone else could read or write:
// a mode wider than 0600, another owner, or more than one link (another
// name of the file, maybe in a directory of someone else, who could then
// read or replace what the plugin logs).
func checkOwner(path string, fi fs.FileInfo) error {
	if m := fi.Mode(); m.Perm()&^0o600 != 0 || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return refusal(path, fmt.Sprintf("has mode %04o", m.Perm()), fmt.Sprintf("run \"chmod 600 %s\" if nobody else had access to it", path))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return refusal(path, fmt.Sprintf("belongs to user %d, not to you (user %d)", st.Uid, uid), "")
	}
	if st.Nlink != 1 {
		return refusal(path, fmt.Sprintf("has %d names (hard links), one of which could be in someone else's directory", st.Nlink), "")
	}
	return nil
}
