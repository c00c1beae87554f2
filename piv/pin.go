package piv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/term"
)

// EnvPIN is the environment variable that DefaultPINSource reads the PIN
// from.
const EnvPIN = "NOTATION_PIV_PIN"

// maxPINFileSize bounds a PIN file: a PIV PIN has at most 8 bytes.
const maxPINFileSize = 64

// PINRequest says which PIN is wanted, for prompts.
type PINRequest struct {
	// Serial is the card's serial number; 0 if unknown.
	Serial uint32
	// Slot is the slot whose key needs the PIN.
	Slot Slot
	// RetriesLeft is how many wrong PINs the card still accepts before it
	// blocks the PIN; -1 if unknown.
	RetriesLeft int
}

// String describes the request for a prompt, such as
// "PIN of PIV card 12345678 for slot 9c (3 tries left)".
func (r PINRequest) String() string {
	var b strings.Builder
	b.WriteString("PIN of PIV card")
	if r.Serial != 0 {
		fmt.Fprintf(&b, " %d", r.Serial)
	}
	fmt.Fprintf(&b, " for slot %s", r.Slot)
	switch {
	case r.RetriesLeft == 1:
		b.WriteString(" (1 try left: a wrong PIN blocks the card)")
	case r.RetriesLeft >= 0:
		fmt.Fprintf(&b, " (%d tries left)", r.RetriesLeft)
	}
	return b.String()
}

// PINSource returns the PIN for a request. Signers call it only when the
// card needs the PIN, at most once per signature, and wipe the returned
// slice after use. A source that cannot be used here (an unset variable,
// no terminal) returns an error wrapping ErrNoPIN, so that First tries the
// next source; any other error stops the signature. Errors never contain
// the PIN.
type PINSource func(req PINRequest) ([]byte, error)

// DefaultPINSource returns the sources in the order notation-piv uses
// them: the environment variable NOTATION_PIV_PIN, the file pinFile, the
// pinentry program, and a prompt on the terminal. pinFile and pinentry
// may be "" for "not configured".
func DefaultPINSource(pinFile, pinentry string) PINSource {
	return First(FromEnv(EnvPIN), FromFile(pinFile), Pinentry(pinentry), TTY())
}

// First returns a source that asks the given sources in order and returns
// the answer of the first one that is available (whose error does not
// wrap ErrNoPIN). If none is, it returns ErrNoPIN. nil sources are
// skipped.
func First(sources ...PINSource) PINSource {
	return func(req PINRequest) ([]byte, error) {
		for _, src := range sources {
			if src == nil {
				continue
			}
			pin, err := src(req)
			if errors.Is(err, ErrNoPIN) {
				wipe(pin)
				continue
			}
			return pin, err
		}
		return nil, ErrNoPIN
	}
}

// FromEnv returns a source that reads the PIN from the environment
// variable name. It is unavailable if the variable is unset or empty.
func FromEnv(name string) PINSource {
	return func(PINRequest) ([]byte, error) {
		v := os.Getenv(name)
		if v == "" {
			return nil, fmt.Errorf("%w (%s is not set)", ErrNoPIN, name)
		}
		return []byte(v), nil
	}
}

// FromFile returns a source that reads the PIN from the file at path; ""
// makes it unavailable. The file must be a regular file of at most 64
// bytes that neither group nor others may access (chmod 600); one
// trailing newline is removed.
func FromFile(path string) PINSource {
	return func(PINRequest) ([]byte, error) {
		if path == "" {
			return nil, fmt.Errorf("%w (no PIN file configured)", ErrNoPIN)
		}
		b, err := readSmallFile(path, maxPINFileSize, func(fi fs.FileInfo) error {
			return checkPrivate("PIN file", path, fi)
		})
		if err != nil {
			return nil, fmt.Errorf("PIN file: %w", err)
		}
		pin := b
		switch {
		case bytes.HasSuffix(pin, []byte("\r\n")):
			pin = pin[:len(pin)-2]
		case bytes.HasSuffix(pin, []byte("\n")):
			pin = pin[:len(pin)-1]
		}
		if len(pin) == 0 {
			wipe(b)
			return nil, fmt.Errorf("PIN file %s is empty: write the PIN into it", path)
		}
		out := bytes.Clone(pin)
		wipe(b)
		return out, nil
	}
}

// TTY returns a source that prompts for the PIN on the process's
// controlling terminal, /dev/tty, and reads it without echo. Without a
// terminal it is unavailable. An empty answer gives ErrPINCancelled.
func TTY() PINSource {
	return func(req PINRequest) ([]byte, error) {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("%w (no terminal: %v)", ErrNoPIN, err)
		}
		defer tty.Close()
		fd := int(tty.Fd())
		if !term.IsTerminal(fd) {
			return nil, fmt.Errorf("%w (/dev/tty is not a terminal)", ErrNoPIN)
		}
		fmt.Fprintf(tty, "Enter the %s: ", req)
		pin, err := term.ReadPassword(fd)
		fmt.Fprintln(tty)
		if err != nil {
			wipe(pin)
			return nil, fmt.Errorf("read PIN from terminal: %w", err)
		}
		if len(pin) == 0 {
			return nil, ErrPINCancelled
		}
		return pin, nil
	}
}

// pinentryWait is how long a pinentry program may take to exit after BYE.
const pinentryWait = 2 * time.Second

// Pinentry returns a source that asks the pinentry program (a name looked
// up in PATH, or a path), such as pinentry-curses or pinentry-mac, over
// the Assuan protocol: SETDESC (card serial, slot, retries left),
// SETPROMPT, GETPIN. "" makes it unavailable. If GPG_TTY is set, the
// program is told to use that terminal (OPTION ttyname), as gpg-agent
// does. A cancelled prompt gives ErrPINCancelled.
func Pinentry(program string) PINSource {
	return func(req PINRequest) ([]byte, error) {
		if program == "" {
			return nil, fmt.Errorf("%w (no pinentry program configured)", ErrNoPIN)
		}
		pin, err := runPinentry(program, req)
		if err != nil {
			wipe(pin)
			return nil, fmt.Errorf("pinentry %q: %w", program, err)
		}
		return pin, nil
	}
}

func runPinentry(program string, req PINRequest) ([]byte, error) {
	cmd := exec.Command(program)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// cmd.Stderr stays nil: the program's messages go to /dev/null, never
	// to notation's stderr.
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: install it or configure another pinentry program", err)
	}
	defer stopPinentry(cmd, stdin)

	a := &assuan{r: bufio.NewReader(stdout), w: stdin}
	if _, err := a.read(); err != nil {
		return nil, fmt.Errorf("no greeting: %w", err)
	}
	if tty := os.Getenv("GPG_TTY"); tty != "" {
		if _, err := a.call("OPTION ttyname=" + tty); err != nil {
			return nil, err
		}
		if t := os.Getenv("TERM"); t != "" {
			if _, err := a.call("OPTION ttytype=" + t); err != nil {
				return nil, err
			}
		}
	}
	if _, err := a.call("SETDESC " + assuanEscape("Enter the "+req.String()+".")); err != nil {
		return nil, err
	}
	if _, err := a.call("SETPROMPT PIN:"); err != nil {
		return nil, err
	}
	pin, err := a.call("GETPIN")
	var ae *assuanError
	if errors.As(err, &ae) {
		return nil, fmt.Errorf("%w (pinentry: %s)", ErrPINCancelled, ae.msg)
	}
	if err != nil {
		return nil, err
	}
	if len(pin) == 0 {
		return nil, ErrPINCancelled
	}
	return pin, nil
}

// stopPinentry says goodbye and waits for the program, killing it if it
// lingers.
func stopPinentry(cmd *exec.Cmd, stdin io.WriteCloser) {
	io.WriteString(stdin, "BYE\n")
	stdin.Close()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(pinentryWait):
		cmd.Process.Kill()
		<-done
	}
}

// assuan is the client side of an Assuan connection
// (https://www.gnupg.org/documentation/manuals/assuan/).
type assuan struct {
	r *bufio.Reader
	w io.Writer
	// cmd is the command being answered, for errors.
	cmd string
}

// assuanError is an ERR answer.
type assuanError struct {
	cmd, msg string
}

func (e *assuanError) Error() string {
	return fmt.Sprintf("%s failed: %s", e.cmd, e.msg)
}

// call sends a command line and returns the data of its answer.
func (a *assuan) call(line string) ([]byte, error) {
	a.cmd, _, _ = strings.Cut(line, " ")
	if _, err := io.WriteString(a.w, line+"\n"); err != nil {
		return nil, fmt.Errorf("send %s: %w", a.cmd, err)
	}
	return a.read()
}

// read reads an answer: D lines (percent-decoded data), S and comment
// lines (ignored), then OK or ERR.
func (a *assuan) read() ([]byte, error) {
	var data []byte
	for {
		line, err := a.r.ReadSlice('\n')
		if err != nil {
			wipe(data)
			if err == io.EOF {
				err = errors.New("the program exited")
			}
			return nil, fmt.Errorf("answer to %s: %w", a.cmdName(), err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case bytes.Equal(line, []byte("OK")) || bytes.HasPrefix(line, []byte("OK ")):
			return data, nil
		case bytes.HasPrefix(line, []byte("D ")):
			var ok bool
			data, ok = assuanUnescape(data, line[2:])
			wipe(line)
			if !ok {
				wipe(data)
				return nil, fmt.Errorf("answer to %s: malformed data line", a.cmdName())
			}
		case bytes.HasPrefix(line, []byte("ERR")):
			_, msg, _ := strings.Cut(string(line), " ")
			return nil, &assuanError{cmd: a.cmdName(), msg: msg}
		case len(line) == 0, line[0] == '#', bytes.HasPrefix(line, []byte("S ")):
		default:
			wipe(data)
			return nil, fmt.Errorf("answer to %s: unexpected line %q", a.cmdName(), firstWord(line))
		}
	}
}

func (a *assuan) cmdName() string {
	if a.cmd == "" {
		return "connect"
	}
	return a.cmd
}

func firstWord(line []byte) string {
	w, _, _ := bytes.Cut(line, []byte(" "))
	if len(w) > 16 {
		w = w[:16]
	}
	return string(w)
}

// assuanEscape percent-encodes %, CR, LF and other control characters, as
// Assuan requires in command parameters.
func assuanEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c < 0x20 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// assuanUnescape appends the percent-decoded src to dst.
func assuanUnescape(dst, src []byte) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		if src[i] != '%' {
			dst = append(dst, src[i])
			continue
		}
		if i+2 >= len(src) {
			return dst, false
		}
		hi, ok1 := unhex(src[i+1])
		lo, ok2 := unhex(src[i+2])
		if !ok1 || !ok2 {
			return dst, false
		}
		dst = append(dst, hi<<4|lo)
		i += 2
	}
	return dst, true
}

// CheckPINFile reports whether path can serve as a PIN file (a regular,
// non-empty file of at most 64 bytes that only its owner can read),
// without keeping the PIN. Callers check their configuration with it
// before they touch the card.
func CheckPINFile(path string) error {
	pin, err := FromFile(path)(PINRequest{})
	wipe(pin)
	return err
}
