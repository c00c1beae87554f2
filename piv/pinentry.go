package piv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

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
// *CredentialError.
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
			clear(pin)
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
	defer clear(a.data[:cap(a.data)])
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
	clear(a.data)
	a.data = a.data[:0]
	for {
		line, err := a.r.ReadSlice('\n')
		if err != nil {
			clear(line)
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
			clear(line)
			return a.data, nil
		case isAssuanWord(body, "D"):
			var ok bool
			a.data, ok = assuanUnescape(a.data, bytes.TrimPrefix(body, []byte("D ")))
			clear(line)
			if !ok {
				return nil, errAssuanData
			}
		case isAssuanWord(body, "ERR"):
			meaning := assuanMeaning(body[len("ERR"):])
			clear(line)
			return nil, &assuanError{meaning: meaning}
		case len(body) == 0, body[0] == '#', isAssuanWord(body, "S"):
			clear(line)
		default:
			clear(line)
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
