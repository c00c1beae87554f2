//go:build linux

package piv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ttyChildEnv makes the test binary act as TestTTY's child: it reads a PIN
// with TTY from its controlling terminal and prints the outcome.
const ttyChildEnv = "NOTATION_PIV_TEST_TTY_CHILD"

// init runs ttyChild instead of the tests in TestTTY's child.
func init() {
	if os.Getenv(ttyChildEnv) != "" {
		os.Exit(ttyChild())
	}
}

// ttyChild is the main of TestTTY's child.
func ttyChild() int {
	pin, err := TTY()(testRequest)
	if err != nil {
		fmt.Printf("ERR=%v\n", err)
		return 0
	}
	fmt.Printf("PIN=%s\n", pin)
	return 0
}

// TestTTY runs a child process on a new pseudo-terminal and answers the
// prompt of TTY there: the prompt must name card, slot and retries, and
// the PIN must not be echoed.
func TestTTY(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ttyChildEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var (
		mu     sync.Mutex
		screen []byte
	)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen = append(screen, buf[:n]...)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	const prompt = "Enter the PIN of PIV card 13572468 for slot 9c (2 tries left): "
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		s := string(screen)
		mu.Unlock()
		// Answer only once the prompt is shown and echo is off, as a user
		// would see it.
		tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s, prompt) && tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("no prompt with echo off within 10 s; terminal shows %q; child stderr %q", s, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := ptmx.Write([]byte("654321\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("child: %v; stderr %q", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("child did not finish within 10 s; stderr %q", stderr.String())
	}
	if got := stdout.String(); got != "PIN=654321\n" {
		t.Errorf("child printed %q, want the PIN", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if bytes.Contains(screen, []byte("654321")) {
		t.Errorf("the PIN was echoed: terminal shows %q", screen)
	}
}
