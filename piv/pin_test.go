package piv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var testRequest = PINRequest{Serial: 13572468, Slot: Slot{key: 0x9c}, RetriesLeft: 2}

// writePINFile writes a PIN file with the given content and mode.
func writePINFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// callWithin calls src and fails the test if it does not return within 5 s
// (a FIFO must not hang the read).
func callWithin(t *testing.T, src PINSource) ([]byte, error) {
	t.Helper()
	type result struct {
		pin []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pin, err := src(testRequest)
		done <- result{pin, err}
	}()
	select {
	case r := <-done:
		return r.pin, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("PIN source hangs")
		return nil, nil
	}
}

func TestFromFile(t *testing.T) {
	const secret = "864213"
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		want    string
		wantErr string
	}{
		{"owner only", func(t *testing.T) string { return writePINFile(t, secret, 0o600) }, secret, ""},
		{"read-only", func(t *testing.T) string { return writePINFile(t, secret, 0o400) }, secret, ""},
		{"one newline trimmed", func(t *testing.T) string { return writePINFile(t, secret+"\n", 0o600) }, secret, ""},
		{"CRLF trimmed", func(t *testing.T) string { return writePINFile(t, secret+"\r\n", 0o600) }, secret, ""},
		{"space inside", func(t *testing.T) string { return writePINFile(t, "864 213\n", 0o600) }, "864 213", ""},
		{"two newlines", func(t *testing.T) string { return writePINFile(t, secret+"\n\n", 0o600) }, "", "holds a control character"},
		{"trailing space", func(t *testing.T) string { return writePINFile(t, secret+" \n", 0o600) }, "", "begins or ends with whitespace"},
		{"leading space", func(t *testing.T) string { return writePINFile(t, " "+secret, 0o600) }, "", "begins or ends with whitespace"},
		{"trailing no-break space", func(t *testing.T) string { return writePINFile(t, secret+"\u00a0", 0o600) }, "", "begins or ends with whitespace"},
		{"tab", func(t *testing.T) string { return writePINFile(t, "864\t213", 0o600) }, "", "holds a control character"},
		{"CR before CRLF", func(t *testing.T) string { return writePINFile(t, secret+"\r\r\n", 0o600) }, "", "holds a control character"},
		{"NUL", func(t *testing.T) string { return writePINFile(t, secret+"\x00", 0o600) }, "", "holds a control character"},
		{"64 bytes", func(t *testing.T) string { return writePINFile(t, strings.Repeat("1", 64), 0o600) }, "", "must be 6 to 8 characters long"},
		{"5 characters", func(t *testing.T) string { return writePINFile(t, "86421\n", 0o600) }, "", "must be 6 to 8 characters long"},
		{"symlink to a private file", func(t *testing.T) string {
			p := writePINFile(t, secret, 0o600)
			l := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(p, l); err != nil {
				t.Fatal(err)
			}
			return l
		}, secret, ""},
		{"world-readable", func(t *testing.T) string { return writePINFile(t, secret, 0o644) }, "", "accessible to group or others (mode 0644)"},
		{"group-readable", func(t *testing.T) string { return writePINFile(t, secret, 0o640) }, "", "accessible to group or others (mode 0640)"},
		{"group-writable", func(t *testing.T) string { return writePINFile(t, secret, 0o620) }, "", "accessible to group or others (mode 0620)"},
		{"world-executable", func(t *testing.T) string { return writePINFile(t, secret, 0o601) }, "", "accessible to group or others (mode 0601)"},
		{"65 bytes", func(t *testing.T) string { return writePINFile(t, strings.Repeat("1", 65), 0o600) }, "", "more than the limit of 64"},
		{"empty", func(t *testing.T) string { return writePINFile(t, "", 0o600) }, "", "is empty"},
		{"only a newline", func(t *testing.T) string { return writePINFile(t, "\n", 0o600) }, "", "is empty"},
		{"directory", func(t *testing.T) string {
			d := filepath.Join(t.TempDir(), "dir")
			os.Mkdir(d, 0o700)
			return d
		}, "", "is a directory"},
		{"FIFO", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "", "not a regular file (a FIFO)"},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			pin, err := callWithin(t, FromFile(path))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("FromFile: %v", err)
				}
				if string(pin) != tt.want {
					t.Errorf("PIN %q, want %q", pin, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("FromFile returned a PIN, want error containing %q", tt.wantErr)
			}
			if errors.Is(err, ErrNoPIN) {
				t.Errorf("error %q wraps ErrNoPIN: a configured file must not be skipped", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
			// The path, random digits included, may be named.
			msg := strings.ReplaceAll(err.Error(), path, "FILE")
			if strings.Contains(msg, "864") || strings.Contains(msg, "1111") || strings.Contains(msg, "213") {
				t.Errorf("error %q contains the PIN", err)
			}
			var pe *CredentialError
			if strings.Contains(tt.wantErr, "character") || strings.Contains(tt.wantErr, "whitespace") {
				if !errors.As(err, &pe) || !pe.Malformed || !strings.Contains(err.Error(), "it was not sent to the card") {
					t.Errorf("error %q is not a malformed *CredentialError saying that it was not sent", err)
				}
			}
		})
	}
	if _, err := FromFile("")(testRequest); !errors.Is(err, ErrNoPIN) {
		t.Errorf(`FromFile(""): %v, want ErrNoPIN`, err)
	}
}

func TestFromEnv(t *testing.T) {
	const name = "NOTATION_PIV_TEST_PIN"
	t.Setenv(name, "")
	if _, err := FromEnv(name)(testRequest); !errors.Is(err, ErrNoPIN) {
		t.Errorf("empty variable: %v, want ErrNoPIN", err)
	}
	os.Unsetenv(name)
	if _, err := FromEnv(name)(testRequest); !errors.Is(err, ErrNoPIN) {
		t.Errorf("unset variable: %v, want ErrNoPIN", err)
	}
	for _, v := range []string{"24680135", "24680135\n", "24680135\r\n"} {
		t.Setenv(name, v)
		if pin, err := FromEnv(name)(testRequest); err != nil || string(pin) != "24680135" {
			t.Errorf("%s=%q: FromEnv = %q, %v", name, v, pin, err)
		}
	}
	for v, want := range map[string]string{
		"24680135\n\n": "holds a control character",
		"24680135 ":    "begins or ends with whitespace",
		"\t24680135":   "holds a control character",
		" 24680135\n":  "begins or ends with whitespace",
		"\n":           "must be 6 to 8 characters long",
		"2468013":      "",
	} {
		t.Setenv(name, v)
		pin, err := FromEnv(name)(testRequest)
		if want == "" {
			if err != nil || string(pin) != v {
				t.Errorf("%s=%q: FromEnv = %q, %v", name, v, pin, err)
			}
			continue
		}
		var pe *CredentialError
		if !errors.As(err, &pe) || !pe.Malformed || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: FromEnv = %q, %v; want a *CredentialError naming %s: %s", name, v, pin, err, name, want)
		}
		if err != nil && strings.Contains(err.Error(), "2468013") {
			t.Errorf("error %q contains the PIN", err)
		}
	}
}

// TestCheckSecrets checks the one check that PINs, PUKs and new values
// pass before they reach the card.
func TestCheckSecrets(t *testing.T) {
	for v, want := range map[string]string{
		"123456":       "",
		"12345678":     "",
		"12 34 56":     "",
		"Pässwd":       "",
		"12345":        "must be 6 to 8 characters long",
		"123456789":    "must be 6 to 8 characters long",
		"":             "must be 6 to 8 characters long",
		"123456 ":      "begins or ends with whitespace",
		" 123456":      "begins or ends with whitespace",
		"123456\u2003": "begins or ends with whitespace",
		"123456\n":     "holds a control character",
		"123\r456":     "holds a control character",
		"123456\x7f":   "holds a control character",
		"123456\u0085": "holds a control character",
	} {
		var pe, ue *CredentialError
		pinErr, pukErr, newErr := CheckPIN([]byte(v)), CheckPUK([]byte(v)), CheckNewSecret("the new PIN", []byte(v))
		if want == "" {
			if pinErr != nil || pukErr != nil || newErr != nil {
				t.Errorf("%q refused: %v, %v, %v", v, pinErr, pukErr, newErr)
			}
			continue
		}
		if !errors.As(pinErr, &pe) || pe.Secret != SecretPIN || !pe.Malformed || pe.RetriesLeft != -1 || !strings.HasPrefix(pe.Problem, want) ||
			!strings.HasPrefix(pinErr.Error(), "the PIN "+want) || !strings.HasSuffix(pinErr.Error(), "; it was not sent to the card") {
			t.Errorf("CheckPIN(%q) = %v, want a malformed *CredentialError: %s", v, pinErr, want)
		}
		problem := secretProblem([]byte(v))
		if !errors.As(pukErr, &ue) || ue.Secret != SecretPUK || !ue.Malformed || pukErr.Error() != "the PUK "+problem+"; it was not sent to the card" {
			t.Errorf("CheckPUK(%q) = %v, want a malformed *CredentialError: %s", v, pukErr, want)
		}
		if newErr == nil || newErr.Error() != "the new PIN "+problem {
			t.Errorf("CheckNewSecret(%q) = %v, want %q", v, newErr, "the new PIN "+want)
		}
	}
	if err := CheckNewSecret("the new PUK", []byte("1234\xff\xff")); err == nil || !strings.Contains(err.Error(), "byte FF") {
		t.Errorf("CheckNewSecret with FF: %v", err)
	}
}

// TestCredentialErrorMessages checks that the errors of PINs that were
// not sent say so, and that no credential error says what to do: the
// program that shows it knows its commands and settings, and adds them.
func TestCredentialErrorMessages(t *testing.T) {
	last := (&CredentialError{Secret: SecretPIN, RetriesLeft: 1, LastTry: true}).Error()
	if !strings.HasPrefix(last, "no PIN was sent to the card") || !strings.Contains(last, "1 PIN try left") ||
		strings.Contains(last, "allow_last_pin_try") || strings.Contains(last, "wrong PIN,") || strings.Contains(last, "wrong PIN:") {
		t.Errorf("last-try error %q", last)
	}
	if m := (&CredentialError{Secret: SecretPIN, RetriesLeft: 2, Malformed: true}).Error(); !strings.HasSuffix(m, "must be 6 to 8 characters long; it was not sent to the card") {
		t.Errorf("malformed PIN error %q", m)
	}
	if m := (&CredentialError{Secret: SecretPUK, RetriesLeft: 1, LastTry: true}).Error(); !strings.HasPrefix(m, "no PUK was sent to the card") || !strings.Contains(m, "1 PUK try left") {
		t.Errorf("last-try PUK error %q", m)
	}
	for _, tc := range []struct {
		err  CredentialError
		want string
	}{
		{CredentialError{Secret: SecretPIN, RetriesLeft: 2}, "wrong PIN, 2 tries left before the PIN is blocked"},
		{CredentialError{Secret: SecretPUK, RetriesLeft: 1}, "wrong PUK, 1 try left before the PUK is blocked"},
		{CredentialError{Secret: SecretPIN, RetriesLeft: -1}, "wrong PIN"},
		{CredentialError{Secret: SecretPIN, Blocked: true}, "the PIN is blocked: only the PUK can unblock it"},
		{CredentialError{Secret: SecretPUK, Blocked: true}, "the PUK is blocked: the PIN can no longer be unblocked, only the whole card reset"},
		{CredentialError{Secret: SecretManagementKey, RetriesLeft: -1}, "the card refused the management key"},
		{CredentialError{Secret: SecretPUK, RetriesLeft: 1, LastTry: true}, "no PUK was sent to the card: it has 1 PUK try left, and a wrong PUK would block the PUK for good"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestFirst(t *testing.T) {
	var calls []string
	src := func(name string, pin string, err error) PINSource {
		return func(PINRequest) ([]byte, error) {
			calls = append(calls, name)
			if err != nil {
				return nil, err
			}
			return []byte(pin), nil
		}
	}
	unavailable := fmt.Errorf("%w (test)", ErrNoPIN)
	failing := errors.New("broken source")

	tests := []struct {
		name      string
		sources   []PINSource
		want      string
		wantErr   error
		wantCalls string
	}{
		{"first available wins", []PINSource{src("a", "111111", nil), src("b", "222222", nil)}, "111111", nil, "a"},
		{"unavailable skipped", []PINSource{src("a", "", unavailable), nil, src("b", "222222", nil)}, "222222", nil, "a b"},
		{"failure stops", []PINSource{src("a", "", unavailable), src("b", "", failing), src("c", "333333", nil)}, "", failing, "a b"},
		{"none available", []PINSource{src("a", "", unavailable), src("b", "", unavailable)}, "", ErrNoPIN, "a b"},
		{"no sources", nil, "", ErrNoPIN, ""},
		{"nested", []PINSource{First(src("a", "", unavailable)), src("b", "222222", nil)}, "222222", nil, "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			pin, err := First(tt.sources...)(testRequest)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if string(pin) != tt.want {
				t.Errorf("PIN %q, want %q", pin, tt.want)
			}
			if got := strings.Join(calls, " "); got != tt.wantCalls {
				t.Errorf("sources called: %q, want %q", got, tt.wantCalls)
			}
		})
	}
	// The PIN sources to configure are for the program to list, in the
	// names of its settings (TestAdvice in cmd/notation-piv).
	if msg := ErrNoPIN.Error(); msg != "the card needs its PIN but no PIN source is available" {
		t.Errorf("ErrNoPIN %q", msg)
	}
}

func TestDefaultPINSourceOrder(t *testing.T) {
	file := writePINFile(t, "222222\n", 0o600)
	entry := fakePinentry(t, "GETPIN) printf 'D 333333\\nOK\\n' ;;")

	t.Setenv(EnvPIN, "111111")
	if pin, err := DefaultPINSource(file, entry.program)(testRequest); err != nil || string(pin) != "111111" {
		t.Errorf("with %s set: %q, %v; want the variable's PIN", EnvPIN, pin, err)
	}
	t.Setenv(EnvPIN, "")
	if pin, err := DefaultPINSource(file, entry.program)(testRequest); err != nil || string(pin) != "222222" {
		t.Errorf("with a PIN file: %q, %v; want the file's PIN", pin, err)
	}
	if entry.log() != "" {
		t.Errorf("pinentry ran although an earlier source was available: %q", entry.log())
	}
	if pin, err := DefaultPINSource("", entry.program)(testRequest); err != nil || string(pin) != "333333" {
		t.Errorf("with pinentry: %q, %v; want pinentry's PIN", pin, err)
	}
	// A configured but unusable file is an error, not a reason to fall
	// through to pinentry.
	bad := writePINFile(t, "222222", 0o644)
	if _, err := DefaultPINSource(bad, entry.program)(testRequest); err == nil || errors.Is(err, ErrNoPIN) {
		t.Errorf("with a world-readable PIN file: %v; want a permission error", err)
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		tty.Close()
		t.Log("a terminal is attached: not checking the no-source case")
		return
	}
	if _, err := DefaultPINSource("", "")(testRequest); !errors.Is(err, ErrNoPIN) {
		t.Errorf("without any source: %v, want ErrNoPIN", err)
	}
}

// pinentryScript is a fake pinentry: it greets, logs every command it gets
// and answers OK, except where the test's case lines say otherwise.
const pinentryScript = `#!/bin/sh
echo "OK Pleased to meet you"
while IFS= read -r line; do
	printf '%%s\n' "$line" >> '%s'
	case "$line" in
	%s
	BYE) echo "OK closing connection"; exit 0 ;;
	*) echo OK ;;
	esac
done
`

type fakeEntry struct {
	program, logPath string
}

// fakePinentry writes a fake pinentry whose case statement also holds
// cases (shell case items such as `GETPIN) ... ;;`).
func fakePinentry(t *testing.T, cases string) fakeEntry {
	t.Helper()
	dir := t.TempDir()
	f := fakeEntry{program: filepath.Join(dir, "pinentry-fake"), logPath: filepath.Join(dir, "log")}
	if err := os.WriteFile(f.program, fmt.Appendf(nil, pinentryScript, f.logPath, cases), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fakeEntry) log() string {
	b, _ := os.ReadFile(f.logPath)
	return string(b)
}

func TestPinentry(t *testing.T) {
	t.Setenv("GPG_TTY", "")
	tests := []struct {
		name    string
		cases   string
		want    string
		wantErr error  // errors.Is target
		errText string // substring of the error
	}{
		{"plain", `GETPIN) echo "D 123456"; echo OK ;;`, "123456", nil, ""},
		{"percent-encoded", `GETPIN) echo "D 12%2534%41"; echo OK ;;`, "12%34A", nil, ""},
		{"several data lines and status lines", `GETPIN) echo "S PASSWORD_FROM_CACHE"; echo "# comment"; echo "D 123"; echo "D 456"; echo OK ;;`, "123456", nil, ""},
		{"newline at the end", `GETPIN) echo "D 123456%0A"; echo OK ;;`, "123456", nil, ""},
		{"CRLF at the end", `GETPIN) echo "D 123456%0D%0A"; echo OK ;;`, "123456", nil, ""},
		{"cancelled", `GETPIN) echo "ERR 83886179 Operation cancelled <Pinentry>" ;;`, "", ErrPINCancelled, "pinentry: it answered that the entry was cancelled"},
		{"timed out", `GETPIN) echo "ERR 83886142 Timeout" ;;`, "", ErrPINCancelled, "the entry was timed out"},
		{"empty PIN", `GETPIN) echo OK ;;`, "", ErrPINCancelled, ""},
		{"only a newline", `GETPIN) echo "D %0A"; echo OK ;;`, "", ErrPINCancelled, ""},
		{"SETDESC refused", `SETDESC*) echo "ERR 275 unknown command" ;;`, "", nil, "SETDESC failed: it answered with an error"},
		{"malformed data", `GETPIN) echo "D 12%zz"; echo OK ;;`, "", nil, "GETPIN failed: it sent malformed data, or more than 1024 bytes"},
		{"exits during GETPIN", `GETPIN) exit 0 ;;`, "", nil, "GETPIN failed: the program exited"},
		{"garbage answer", `GETPIN) echo "HELLO there" ;;`, "", nil, "GETPIN failed: it sent a line that is not an Assuan answer"},
		{"trailing space", `GETPIN) echo "D 123456 "; echo OK ;;`, "", nil, "the PIN begins or ends with whitespace; it was not sent to the card"},
		{"two newlines", `GETPIN) echo "D 123456%0A%0A"; echo OK ;;`, "", nil, "the PIN holds a control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakePinentry(t, tt.cases)
			pin, err := callWithin(t, Pinentry(f.program))
			if tt.wantErr == nil && tt.errText == "" {
				if err != nil {
					t.Fatalf("Pinentry: %v", err)
				}
				if string(pin) != tt.want {
					t.Errorf("PIN %q, want %q", pin, tt.want)
				}
				log := f.log()
				wantLog := "SETDESC Enter the PIN of PIV card 13572468 for slot 9c (2 tries left).\nSETPROMPT PIN:\nGETPIN\nBYE\n"
				if log != wantLog {
					t.Errorf("pinentry got\n%s\nwant\n%s", log, wantLog)
				}
				return
			}
			if err == nil {
				t.Fatalf("Pinentry returned %q, want an error", pin)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.errText)
			}
			if errors.Is(err, ErrNoPIN) {
				t.Errorf("error %q wraps ErrNoPIN: a configured pinentry must not be skipped", err)
			}
		})
	}

	t.Run("GPG_TTY", func(t *testing.T) {
		t.Setenv("GPG_TTY", "/dev/pts/7")
		t.Setenv("TERM", "xterm-256color")
		f := fakePinentry(t, `GETPIN) echo "D 123456"; echo OK ;;`)
		if _, err := callWithin(t, Pinentry(f.program)); err != nil {
			t.Fatal(err)
		}
		if log := f.log(); !strings.HasPrefix(log, "OPTION ttyname=/dev/pts/7\nOPTION ttytype=xterm-256color\nSETDESC ") {
			t.Errorf("pinentry got\n%s\nwant the tty options first", log)
		}
	})
	t.Run("escaping and unknown retries", func(t *testing.T) {
		f := fakePinentry(t, `GETPIN) echo "D 123456"; echo OK ;;`)
		req := PINRequest{Slot: Slot{key: 0x82}, RetriesLeft: -1}
		if _, err := Pinentry(f.program)(req); err != nil {
			t.Fatal(err)
		}
		if log := f.log(); !strings.HasPrefix(log, "SETDESC Enter the PIN of PIV card for slot 82.\n") {
			t.Errorf("pinentry got\n%s", log)
		}
		if got := assuanEscape("50% done\r\nnext"); got != "50%25 done%0D%0Anext" {
			t.Errorf("assuanEscape = %q", got)
		}
	})
	t.Run("missing program", func(t *testing.T) {
		_, err := Pinentry(filepath.Join(t.TempDir(), "no-pinentry"))(testRequest)
		if err == nil || errors.Is(err, ErrNoPIN) || !strings.Contains(err.Error(), "install it") {
			t.Errorf("error %v; want a non-ErrNoPIN error saying to install it", err)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		if _, err := Pinentry("")(testRequest); !errors.Is(err, ErrNoPIN) {
			t.Errorf("error %v, want ErrNoPIN", err)
		}
	})
}

func TestPINRequestString(t *testing.T) {
	tests := []struct {
		req  PINRequest
		want string
	}{
		{testRequest, "PIN of PIV card 13572468 for slot 9c (2 tries left)"},
		{PINRequest{Serial: 5, Slot: Slot{key: 0x9a}, RetriesLeft: 1}, "PIN of PIV card 5 for slot 9a (this is the LAST TRY: a wrong PIN blocks the PIN)"},
		{PINRequest{Slot: Slot{key: 0x95}, RetriesLeft: -1}, "PIN of PIV card for slot 95"},
	}
	for _, tt := range tests {
		if got := tt.req.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.req, got, tt.want)
		}
	}
}

// TestPinentryNeverQuotes runs programs that are not well-behaved
// pinentries and say the PIN in every place a line can hold it: no error
// repeats it, and each run ends within 5 s.
func TestPinentryNeverQuotes(t *testing.T) {
	const canary = "918273"
	t.Setenv("GPG_TTY", "")
	tests := []struct {
		name, script string
		errText      string
	}{
		{"prints the PIN", "echo " + canary, "did not greet with OK (it sent a line that is not an Assuan answer): is it an Assuan pinentry program"},
		{"prints the PIN and waits", "echo " + canary + "; cat >/dev/null", "did not greet with OK"},
		{"prints the PIN without a newline", "printf " + canary, "did not greet with OK (the program exited)"},
		{"greets with ERR", "echo 'ERR " + canary + " " + canary + "'", "did not greet with OK (it answered with an error)"},
		{"greets with the PIN as data", "echo 'D " + canary + "'; echo 'OK " + canary + "'; read l; echo '" + canary + "'", "SETDESC failed: it sent a line that is not an Assuan answer"},
		{"ERR with the PIN as code and text", "echo OK; read l; echo 'ERR " + canary + " " + canary + "'", "SETDESC failed: it answered with an error"},
		{"ERR with an 8-digit PIN as code", "echo OK; read l; echo 'ERR 83886179" + "'", "SETDESC failed: it answered that the entry was cancelled"},
		{"answers GETPIN with the bare PIN", "echo OK; read l; echo OK; read l; echo OK; read l; echo " + canary, "GETPIN failed: it sent a line that is not an Assuan answer"},
		{"answers GETPIN with ERR and the PIN", "echo OK; read l; echo OK; read l; echo OK; read l; echo 'ERR 83886179 " + canary + "'", "the entry was cancelled"},
		{"answers GETPIN with a bad escape after the PIN", "echo OK; read l; echo OK; read l; echo OK; read l; echo 'D " + canary + "%x'", "GETPIN failed: it sent malformed data"},
		{"garbage", "head -c 3000 /dev/urandom | tr -d '\\n'; echo; echo " + canary, "did not greet with OK"},
		{"endless line", "while :; do printf '" + canary + "'; done", "did not greet with OK (it sent a line longer than 4096 bytes)"},
		{"endless data", "echo OK; read l; echo OK; read l; echo OK; read l; while :; do echo 'D " + canary + "'; done", "GETPIN failed: it sent malformed data, or more than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			program := filepath.Join(t.TempDir(), "not-a-pinentry")
			if err := os.WriteFile(program, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			pin, err := callWithin(t, Pinentry(program))
			if err == nil {
				t.Fatalf("got PIN %q, want an error", pin)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(err.Error(), "83886179") {
				t.Errorf("the error repeats what the program said: %v", err)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.errText)
			}
		})
	}
}
