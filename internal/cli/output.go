package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/notation-piv/notation-piv/internal/inputfile"
)

// outputFile is a file that a user command writes, such as the
// certificate of "setup --cert-out" or "cert export --output". It is
// checked before the card is touched, and written after the card is
// closed, by an atomic rename of a temporary file in the same directory:
// the path then holds either its old content or the whole new one, and a
// symbolic link, a FIFO or a device there is refused rather than followed
// or opened, so that no write goes through a link onto its target and none
// blocks.
type outputFile struct {
	flag      string // the flag that named the file, such as "--cert-out"
	path      string
	exclusive bool     // the file must not exist (setup --csr)
	tmp       *os.File // the temporary file, in the same directory
}

// newOutput checks that path, named by flag, can take the output, and
// creates the temporary file that will replace it. With exclusive, path
// must not exist at all, not even as a dangling symbolic link. The caller
// calls discard when done, whether or not it wrote the file.
func newOutput(flag, path string, exclusive bool) (*outputFile, error) {
	o := &outputFile{flag: flag, path: path, exclusive: exclusive}
	if path == "" || strings.HasSuffix(path, string(filepath.Separator)) || strings.HasSuffix(path, "/") {
		return nil, failure(fmt.Sprintf("%s %q does not name a file", flag, path), "name the file to write")
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, failure(fmt.Sprintf("%s %s: cannot create a file in %s: %v", flag, path, filepath.Dir(path), unwrapPath(err)),
			"write to a directory that exists and that you can write to")
	}
	o.tmp = tmp
	return o, nil
}

// check refuses what the path must not be: anything but a regular file,
// and, with exclusive, anything at all. It never follows a symbolic link.
func (o *outputFile) check() error {
	fi, err := os.Lstat(o.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return failure(fmt.Sprintf("%s %s: %v", o.flag, o.path, unwrapPath(err)), "name a file in a directory you can write to")
	case !fi.Mode().IsRegular():
		return failure(notRegular(o.flag, o.path, fileKind(fi.Mode()))+": notation-piv writes only regular files and never through a link",
			newFileHint(o.flag, o.exclusive))
	case o.exclusive:
		return failure(fmt.Sprintf("%s %s already exists", o.flag, o.path), fmt.Sprintf("choose another %s file, or remove it", o.flag))
	}
	return nil
}

// newFileHint says what file a flag may name.
func newFileHint(flag string, exclusive bool) string {
	if exclusive {
		return "name a new file with " + flag
	}
	return fmt.Sprintf("name a regular file or a new one with %s", flag)
}

// fileKind names the type of a file that is not a regular file, for
// messages: as inputfile.Type does, but a FIFO is "a FIFO (named pipe)"
// and any device "a device".
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return inputfile.Type(m)
}

// notRegular says that path, which flag names ("" for an operand), is a
// file of kind and not a regular file, as every user command says it:
// "--artifact /dev/zero is a character device, not a regular file".
func notRegular(flag, path, kind string) string {
	if flag != "" {
		path = flag + " " + path
	}
	return fmt.Sprintf("%s is %s, not a regular file", path, kind)
}

// unwrapPath drops the operation and path that an *fs.PathError repeats,
// since messages name the path themselves.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// commit writes data (readable by all: certificates and requests are
// public) and puts it in place: by a rename that replaces a regular file,
// or, with exclusive, by a hard link that fails if the path exists. It
// returns the absolute path.
func (o *outputFile) commit(data []byte) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	tmp := o.tmp.Name()
	err := writeAndClose(o.tmp, data)
	if err == nil {
		if o.exclusive {
			if err = os.Link(tmp, o.path); err == nil {
				os.Remove(tmp)
			}
		} else {
			err = os.Rename(tmp, o.path)
		}
	}
	if err != nil {
		return "", fmt.Errorf("write %s %s: %w", o.flag, o.path, unwrapPath(err))
	}
	o.tmp = nil
	return filepath.Abs(o.path)
}

// writeAndClose writes data to f, makes it mode 0644 and closes it.
func writeAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard removes the temporary file unless commit put it in place.
func (o *outputFile) discard() {
	if o == nil || o.tmp == nil {
		return
	}
	o.tmp.Close()
	os.Remove(o.tmp.Name())
	o.tmp = nil
}
