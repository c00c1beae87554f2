package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// ptyTimeout bounds each wait on the terminal.
const ptyTimeout = 20 * time.Second

// ptySession is a user command whose controlling terminal (and stdin) is a
// pseudo-terminal the test types into, as a person would; its stdout and
// stderr are captured apart from what the terminal shows.
type ptySession struct {
	t              *testing.T
	cmd            *exec.Cmd
	ptmx, tty      *os.File
	stdout, stderr bytes.Buffer
	read           chan struct{} // closed when the terminal has nothing more to show

	mu     sync.Mutex
	screen bytes.Buffer // everything the terminal showed
	seen   int          // how much of screen expect has consumed
}

func startPTY(t *testing.T, env []string, args ...string) *ptySession {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	s := &ptySession{t: t, ptmx: ptmx, tty: tty, read: make(chan struct{})}
	s.cmd = pluginCommand(context.Background(), t, "", env, args...)
	s.cmd.Stdin = tty
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	s.cmd.SysProcAttr.Setctty = true // the terminal, stdin (Ctty 0)
	must(t, s.cmd.Start())
	go func() {
		defer close(s.read)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			s.mu.Lock()
			s.screen.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
		tty.Close()
		ptmx.Close()
	})
	return s
}

// expect waits until the terminal shows text after what expect saw last.
func (s *ptySession) expect(text string) {
	s.t.Helper()
	for deadline := time.Now().Add(ptyTimeout); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		screen := s.screen.String()
		i := strings.Index(screen[s.seen:], text)
		if i >= 0 {
			s.seen += i + len(text)
		}
		s.mu.Unlock()
		if i >= 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal did not show %q; it shows:\n%s\nstderr:\n%s", text, screen, s.stderr.String())
		}
	}
}

// typeSecret waits until the command has turned echo off, as a password
// prompt does, then types line and Enter.
func (s *ptySession) typeSecret(line string) {
	s.t.Helper()
	for deadline := time.Now().Add(ptyTimeout); ; time.Sleep(2 * time.Millisecond) {
		tios, err := unix.IoctlGetTermios(int(s.tty.Fd()), unix.TCGETS)
		if err != nil {
			s.t.Fatal(err)
		}
		if tios.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatal("the prompt did not turn echo off")
		}
	}
	s.typeLine(line)
}

// answer waits for each prompt of a dialog, pairs of what the terminal
// shows and what to type, and types the secret that answers it.
func (s *ptySession) answer(dialog ...string) {
	s.t.Helper()
	for i := 0; i+1 < len(dialog); i += 2 {
		s.expect(dialog[i])
		s.typeSecret(dialog[i+1])
	}
}

// converse runs a command for people on a terminal, answers its prompts
// (see answer), and returns its result and all the terminal showed.
func converse(t *testing.T, env, dialog []string, args ...string) (result, string) {
	t.Helper()
	s := startPTY(t, env, args...)
	s.answer(dialog...)
	return s.wait()
}

// typeLine types line and Enter.
func (s *ptySession) typeLine(line string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(line + "\r")); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the command to exit and returns its result; screen is
// everything the terminal showed.
func (s *ptySession) wait() (r result, screen string) {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(ptyTimeout):
		s.t.Fatalf("the command did not exit; the terminal shows:\n%s", s.screen.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	s.tty.Close()
	select {
	case <-s.read:
	case <-time.After(ptyTimeout):
		s.t.Fatal("the terminal did not close")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return result{s.stdout.String(), s.stderr.String(), code}, s.screen.String()
}

// noSecrets fails the test if any secret appears in any output.
func noSecrets(t *testing.T, r result, screen string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		for name, out := range map[string]string{"terminal": screen, "stdout": r.stdout, "stderr": r.stderr} {
			if strings.Contains(out, secret) {
				t.Errorf("the secret %q appears on the %s:\n%s", secret, name, out)
			}
		}
	}
}

func TestUserPrompts(t *testing.T) {
	env := needCard(t)
	// A PIN that no other output can contain by chance, as the factory
	// PUK 12345678 contains the factory PIN.
	const pin = "31415926"
	yk := openPIV(t)
	must(t, yk.SetPIN("123456", pin))
	yk.Close()
	prompt := func(what string) string { return fmt.Sprintf("Enter the %s of PIV card %d", what, testSerial) }

	pinChange := func(t *testing.T, tries, pin, newPIN, again string) (result, string) {
		t.Helper()
		return converse(t, nil, []string{prompt("PIN") + " (" + tries + "): ", pin, prompt("new PIN") + " (6 to 8 characters): ", newPIN,
			"Enter the new PIN again: ", again}, "pin", "change", serialFlag)
	}
	t.Run("wrong PIN", func(t *testing.T) {
		r, screen := pinChange(t, "3 tries left", "11223399", "55667788", "55667788")
		mustFail(t, "pin change with a wrong PIN", r, "wrong PIN: 2 tries left")
		noSecrets(t, r, screen, "11223399", "55667788")
		if n := readCardState(t, env).PINRetries; n != 2 {
			t.Fatalf("a wrong PIN left %d retries, want 2", n)
		}
	})
	t.Run("new PINs differ", func(t *testing.T) {
		r, screen := pinChange(t, "2 tries left", pin, "55667788", "55667789")
		mustFail(t, "pin change with different new PINs", r, "the two new PINs differ; nothing was changed")
		noSecrets(t, r, screen, pin, "55667788", "55667789")
		if n := readCardState(t, env).PINRetries; n != 2 {
			t.Fatalf("%d retries left, want 2: nothing should reach the card", n)
		}
	})
	t.Run("pin change", func(t *testing.T) {
		r, screen := pinChange(t, "2 tries left", pin, "97531864", "97531864")
		mustSucceed(t, "pin change", r)
		noSecrets(t, r, screen, pin, "97531864")
		if st := readCardState(t, env); !hasSecret(st.PIN, "97531864") || st.PINRetries != 3 {
			t.Fatal("the PIN did not change")
		}
	})
	t.Run("last try", func(t *testing.T) {
		// A prompt needs no --allow-last-pin-try: it says plainly that
		// this is the last try, and a right PIN restores the tries.
		setRetries(t, env, 1, -1)
		r, screen := pinChange(t, "this is the LAST TRY: a wrong PIN blocks the PIN", "97531864", "97531864", "97531864")
		mustSucceed(t, "pin change at the last try", r)
		noSecrets(t, r, screen, "97531864")
		if st := readCardState(t, env); !hasSecret(st.PIN, "97531864") || st.PINRetries != 3 {
			t.Fatalf("the right PIN at the last try: %d retries", st.PINRetries)
		}
	})
	t.Run("setup", func(t *testing.T) {
		r, screen := converse(t, nil, []string{prompt("PIN") + " (3 tries left): ", "97531864"}, "setup", "--subject", setupSubject, serialFlag)
		mustSucceed(t, "setup", r)
		noSecrets(t, r, screen, "97531864")
		if !strings.Contains(r.stdout, "notation key add") {
			t.Errorf("setup output:\n%s", r.stdout)
		}
	})
	t.Run("setup --force", func(t *testing.T) {
		s := startPTY(t, nil, "setup", "--force", "--subject", setupSubject, serialFlag)
		s.expect("Slot 9c of PIV card 24680246 holds an EC-256 key and a certificate for \"CN=piv setup,O=Notation E2E,ST=WA,C=US\". Replacing it destroys the old key for good.")
		s.expect(`Type "yes" to continue: `)
		s.typeLine("no")
		r, _ := s.wait()
		mustFail(t, "setup --force, not confirmed", r, "not confirmed; nothing was changed")
	})
	t.Run("touch", func(t *testing.T) {
		// The card holds back the certificate's signature (the third
		// GENERAL AUTHENTICATE, after two for the management key) as if
		// it waited for a touch.
		env.Card.InjectFault(card.Fault{INS: 0x87, Skip: 2, Times: 1, Delay: 3500 * time.Millisecond})
		defer env.Card.ClearFaults()
		s := startPTY(t, nil, "setup", "--slot", "9a", "--touch-policy", "always", "--subject", setupSubject, serialFlag)
		s.expect(prompt("PIN") + " (3 tries left): ")
		start := time.Now()
		s.typeSecret("97531864")
		s.expect("notation-piv: touch the PIV card to sign")
		if d := time.Since(start); d < 1900*time.Millisecond || d > 3500*time.Millisecond {
			t.Errorf("the touch hint came after %v", d)
		}
		r, screen := s.wait()
		mustSucceed(t, "setup with touch", r)
		noSecrets(t, r, screen, "97531864")
		if strings.Contains(r.stdout+r.stderr, "touch the PIV card") {
			t.Errorf("the touch hint went to stdout or stderr:\n%s%s", r.stdout, r.stderr)
		}
	})
	t.Run("reset", func(t *testing.T) {
		s := startPTY(t, nil, "reset", serialFlag)
		s.expect(fmt.Sprintf("Reset PIV card %d? This erases slot 9a (an EC-256 key and a certificate for", testSerial))
		s.expect(`Type "reset" to continue: `)
		s.typeLine("reset")
		r, _ := s.wait()
		mustSucceed(t, "reset", r)
		if st := readCardState(t, env); len(st.Keys) != 1 || !hasSecret(st.PIN, "123456") {
			t.Fatal("the card was not reset")
		}
	})
}
