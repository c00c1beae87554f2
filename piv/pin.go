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
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
// "PIN of PIV card 12345678 for slot 9c (3 tries left)". With one try left
// it says plainly that this is the last try.
func (r PINRequest) String() string {
	var b strings.Builder
	b.WriteString("PIN of PIV card")
	if r.Serial != 0 {
		fmt.Fprintf(&b, " %d", r.Serial)
	}
	fmt.Fprintf(&b, " for slot %s", r.Slot)
	switch {
	case r.RetriesLeft == 1:
		b.WriteString(" (this is the LAST TRY: a wrong PIN blocks the PIN)")
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
// variable name. It is unavailable if the variable is unset or empty. One
// trailing newline is removed, and a PIN that CheckPIN refuses gives its
// *PINError.
func FromEnv(name string) PINSource {
	return func(PINRequest) ([]byte, error) {
		v := os.Getenv(name)
		if v == "" {
			return nil, fmt.Errorf("%w (%s is not set)", ErrNoPIN, name)
		}
		pin := TrimNewline([]byte(v))
		if err := CheckPIN(pin); err != nil {
			wipe(pin)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return pin, nil
	}
}

// FromFile returns a source that reads the PIN from the file at path; ""
// makes it unavailable. The file must be a regular file of at most 64
// bytes that neither group nor others may access (chmod 600); one
// trailing newline is removed, and a PIN that CheckPIN refuses gives its
// *PINError.
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
		defer wipe(b)
		pin := TrimNewline(b)
		if len(pin) == 0 {
			return nil, fmt.Errorf("PIN file %s is empty: write the PIN into it", path)
		}
		if err := CheckPIN(pin); err != nil {
			return nil, fmt.Errorf("PIN file %s: %w", path, err)
		}
		return bytes.Clone(pin), nil
	}
}

// TTY returns a source that prompts for the PIN on the process's
// controlling terminal, /dev/tty, and reads it without echo. Without a
// terminal it is unavailable. An empty answer gives ErrPINCancelled; a PIN
// that CheckPIN refuses gives its *PINError.
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
		if err := CheckPIN(pin); err != nil {
			wipe(pin)
			return nil, fmt.Errorf("PIN typed on the terminal: %w", err)
		}
		return pin, nil
	}
}

// pinentryWait is how long a pinentry program may take to exit after BYE.
const pinentryWait = 2 * time.Second

// maxAssuanData bounds the data of one Assuan answer, such as the PIN that
// GETPIN returns.
const maxAssuanData = 1024

// Pinentry returns a source that asks the pinentry program (a name looked
// up in PATH, or a path), such as pinentry-curses or pinentry-mac, over
// the Assuan protocol: SETDESC (card serial, slot, retries left),
// SETPROMPT, GETPIN. "" makes it unavailable. If GPG_TTY is set, the
// program is told to use that terminal (OPTION ttyname), as gpg-agent
// does. A cancelled prompt gives ErrPINCancelled. One trailing newline is
// removed from the answer, and a PIN that CheckPIN refuses gives its
// *PINError.
//
// Errors never repeat what the program said: a program that is not a
// pinentry might print the PIN. A failure is described by what went
// wrong, and an ERR answer by what its code means, for the few codes that
// say why no PIN was entered.
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

func runPinentry(program string, req PINRequest) (pin []byte, err error) {
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
	defer func() {
		// A program that broke the protocol is stopped at once; a
		// pinentry that answered, even with ERR, is let go politely so
		// that it can restore the terminal.
		var ae *assuanError
		stopPinentry(cmd, stdin, err == nil || errors.As(err, &ae) || errors.Is(err, ErrPINCancelled))
	}()

	a := &assuan{r: bufio.NewReader(stdout), w: stdin, data: make([]byte, 0, maxAssuanData)}
	defer wipe(a.data[:cap(a.data)])
	if _, err := a.read(); err != nil {
		return nil, fmt.Errorf("it did not greet with OK (%v): is it an Assuan pinentry program, such as pinentry-curses or pinentry-mac?", err)
	}
	if tty := os.Getenv("GPG_TTY"); tty != "" {
		if _, err := a.call("OPTION ttyname=" + assuanEscape(tty)); err != nil {
			return nil, err
		}
		if t := os.Getenv("TERM"); t != "" {
			if _, err := a.call("OPTION ttytype=" + assuanEscape(t)); err != nil {
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
	answer, err := a.call("GETPIN")
	var ae *assuanError
	if errors.As(err, &ae) {
		return nil, fmt.Errorf("%w (pinentry: %v)", ErrPINCancelled, ae)
	}
	if err != nil {
		return nil, err
	}
	answer = TrimNewline(answer)
	if len(answer) == 0 {
		return nil, ErrPINCancelled
	}
	if err := CheckPIN(answer); err != nil {
		return nil, err
	}
	return bytes.Clone(answer), nil
}

// stopPinentry ends the program: politely says goodbye and waits for it,
// killing it if it lingers; otherwise kills it at once.
func stopPinentry(cmd *exec.Cmd, stdin io.WriteCloser, polite bool) {
	if polite {
		io.WriteString(stdin, "BYE\n")
	} else {
		cmd.Process.Kill()
	}
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
	// data holds the data of the answer being read; its capacity,
	// maxAssuanData, is never outgrown, so that no copy of a PIN is left
	// behind unwiped.
	data []byte
}

// Why an answer could not be read. None of them repeats what the program
// said.
var (
	errAssuanExited  = errors.New("the program exited")
	errAssuanLong    = errors.New("it sent a line longer than 4096 bytes")
	errAssuanData    = fmt.Errorf("it sent malformed data, or more than %d bytes", maxAssuanData)
	errAssuanUnknown = errors.New("it sent a line that is not an Assuan answer")
)

// assuanError is an ERR answer. It keeps only what a few well-known error
// codes mean: the rest of the line comes from the program and is never
// shown, not even the code, which a program that echoes the PIN could
// have filled with a numeric PIN.
type assuanError struct {
	// meaning is "cancelled", "timed out", "not confirmed" or "".
	meaning string
}

// Error says what the program answered.
func (e *assuanError) Error() string {
	if e.meaning == "" {
		return "it answered with an error"
	}
	return "it answered that the entry was " + e.meaning
}

// call sends a command line and returns the data of its answer, which is
// valid until the next call.
func (a *assuan) call(line string) ([]byte, error) {
	name, _, _ := strings.Cut(line, " ")
	if _, err := io.WriteString(a.w, line+"\n"); err != nil {
		return nil, fmt.Errorf("send %s: %w", name, err)
	}
	data, err := a.read()
	if err != nil {
		return nil, fmt.Errorf("%s failed: %w", name, err)
	}
	return data, nil
}

// read reads an answer: D lines (percent-decoded data), S and comment
// lines (ignored), then OK or ERR. Every line is wiped once read.
func (a *assuan) read() ([]byte, error) {
	wipe(a.data)
	a.data = a.data[:0]
	for {
		line, err := a.r.ReadSlice('\n')
		if err != nil {
			wipe(line)
			switch {
			case errors.Is(err, bufio.ErrBufferFull):
				return nil, errAssuanLong
			case errors.Is(err, io.EOF):
				return nil, errAssuanExited
			}
			return nil, fmt.Errorf("read the answer: %w", err)
		}
		body := line[:len(line)-1]
		switch {
		case isAssuanWord(body, "OK"):
			wipe(line)
			return a.data, nil
		case isAssuanWord(body, "D"):
			var ok bool
			a.data, ok = assuanUnescape(a.data, bytes.TrimPrefix(body, []byte("D ")))
			wipe(line)
			if !ok {
				return nil, errAssuanData
			}
		case isAssuanWord(body, "ERR"):
			meaning := assuanMeaning(body[len("ERR"):])
			wipe(line)
			return nil, &assuanError{meaning: meaning}
		case len(body) == 0, body[0] == '#', isAssuanWord(body, "S"):
			wipe(line)
		default:
			wipe(line)
			return nil, errAssuanUnknown
		}
	}
}

// isAssuanWord reports whether line is word alone or word and a space.
func isAssuanWord(line []byte, word string) bool {
	return string(line) == word || bytes.HasPrefix(line, []byte(word+" "))
}

// assuanMeaning reads the error code of an ERR line, given what follows
// ERR: a space and up to 10 digits, then a space or the end, the
// libgpg-error source in the high byte and the error in the low 16 bits.
// It returns what the code means for the codes a pinentry sends when no
// PIN was entered, and "" for anything else.
func assuanMeaning(rest []byte) string {
	digits, _, _ := bytes.Cut(bytes.TrimPrefix(rest, []byte(" ")), []byte(" "))
	code, err := strconv.ParseUint(string(digits), 10, 32)
	if err != nil {
		return ""
	}
	switch code & 0xFFFF {
	case 99: // GPG_ERR_CANCELED
		return "cancelled"
	case 62: // GPG_ERR_TIMEOUT
		return "timed out"
	case 114: // GPG_ERR_NOT_CONFIRMED
		return "not confirmed"
	}
	return ""
}

// assuanEscape percent-encodes %, CR, LF and other control characters, as
// Assuan requires in command parameters.
func assuanEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c < 0x20 || c == 0x7F {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// assuanUnescape appends the percent-decoded src to dst, within dst's
// capacity: it reports false for malformed escapes and for data that
// would outgrow dst.
func assuanUnescape(dst, src []byte) ([]byte, bool) {
	for i := 0; i < len(src); i++ {
		if len(dst) == cap(dst) {
			return dst, false
		}
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

// TrimNewline returns b without one trailing newline, LF or CRLF, as a
// line read from a file, a program or the environment ends. Only one is
// removed: "123456\n\n" keeps a newline, which CheckPIN refuses.
func TrimNewline(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n")):
		return b[:len(b)-1]
	}
	return b
}

// CheckPIN returns a *PINError with Malformed set if pin cannot be a PIN,
// before it costs a retry: see secretProblem. The error never contains
// the PIN.
func CheckPIN(pin []byte) error {
	if p := secretProblem(pin); p != "" {
		return &PINError{RetriesLeft: -1, Malformed: true, Problem: p}
	}
	return nil
}

// CheckPUK returns a *PUKError with Malformed set if puk cannot be a PUK,
// before it costs a retry: see secretProblem.
func CheckPUK(puk []byte) error {
	if p := secretProblem(puk); p != "" {
		return &PUKError{RetriesLeft: -1, Malformed: true, Problem: p}
	}
	return nil
}

// secretProblem says why b cannot be a PIN or PUK, as words that follow
// "the PIN", or returns "" if it can be one: it is 6 to 8 bytes long, holds
// no control character, and neither begins nor ends with whitespace. Such
// a value is a mistake in a file or a variable, such as a second newline
// or a trailing space, and would only cost a retry. The answer never
// repeats any of b.
func secretProblem(b []byte) string {
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return "holds a control character, such as a second newline, a carriage return or a tab (only one newline at its end is removed)"
		}
	}
	first, _ := utf8.DecodeRune(b)
	last, _ := utf8.DecodeLastRune(b)
	if len(b) > 0 && (unicode.IsSpace(first) || unicode.IsSpace(last)) {
		return "begins or ends with whitespace"
	}
	if len(b) < 6 || len(b) > 8 {
		return "must be 6 to 8 characters long"
	}
	return ""
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
