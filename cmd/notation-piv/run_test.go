package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// How the tests run the plugin binary: as notation does, a contract
// command with its request on stdin (invoke); as a person does, a command
// for people (runUser); and started, to be signalled while it waits
// (startPlugin). Every run is in a new session without a controlling
// terminal, so that a PIN prompt cannot block, with only the environment
// the test gives besides PATH and HOME.

// result is what one run of a command produced.
type result struct {
	stdout, stderr string
	code           int
}

// serialFlag selects the test card in the commands for people.
var serialFlag = fmt.Sprintf("--serial=%d", testSerial)

// factoryPINEnv gives the factory PIN through the environment.
var factoryPINEnv = []string{"NOTATION_PIV_PIN=" + piv.DefaultPIN}

// pluginCommand returns the plugin binary with args, run in dir, which is
// also HOME (a new temporary directory if ""), with env besides PATH and
// HOME, in a new session without a controlling terminal.
func pluginCommand(ctx context.Context, t testing.TB, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := exec.CommandContext(ctx, harness.plugin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// runWithin runs the plugin binary as pluginCommand sets it up, with
// stdin (nil: none), and returns what it produced and how long it took. A
// run that lasts limit is killed and fails the test, so that a hang fails
// instead of stalling the tests.
func runWithin(t testing.TB, limit time.Duration, stdin io.Reader, dir string, env []string, args ...string) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := pluginCommand(ctx, t, dir, env, args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("%s hung: killed after %v; stderr %q", strings.Join(args, " "), took.Round(time.Millisecond), stderr.String())
	}
	return result{stdout.String(), stderr.String(), exitCode(t, err)}, took
}

// exitCode returns the exit status of a run that ended with err, and
// fails the test if the run could not start.
func exitCode(t testing.TB, err error) int {
	t.Helper()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("run the plugin: %v", err)
	}
	return 0
}

// invoke runs a contract command as notation does: the command as its only
// argument and the request on stdin. A run that lasts a minute is killed
// and fails the test.
func invoke(t *testing.T, command, request string, env ...string) result {
	t.Helper()
	r, _ := invokeWithin(t, time.Minute, command, request, env...)
	return r
}

// invokeWithin runs a contract command as invoke does, killed after limit,
// and returns how long it took.
func invokeWithin(t *testing.T, limit time.Duration, command, request string, env ...string) (result, time.Duration) {
	t.Helper()
	return runWithin(t, limit, strings.NewReader(request), "", env, command)
}

// runUser runs a command for people in dir (a new temporary directory if
// ""), with env. A run that lasts a minute is killed and fails the test.
func runUser(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r, _ := runWithin(t, time.Minute, nil, dir, env, args...)
	return r
}

// mustSucceed fails the test unless r exited 0.
func mustSucceed(t *testing.T, what string, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
	}
}

// mustFail checks that r failed with exit status 1 and an error message on
// stderr that holds every fragment.
func mustFail(t *testing.T, what string, r result, fragments ...string) {
	t.Helper()
	failedSaying(t, what, r, r.stderr, fragments)
}

// expectFailure checks that r failed with exit status 1 and an error
// message, and that its output, stdout or stderr, names each fragment.
func expectFailure(t *testing.T, r result, fragments ...string) {
	t.Helper()
	failedSaying(t, "", r, r.stderr+r.stdout, fragments)
}

// expectNoOutputFailure is expectFailure for a command that must also
// leave stdout empty.
func expectNoOutputFailure(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	expectFailure(t, r, fragments...)
}

// failedSaying checks that r failed with exit status 1 and an error on
// stderr, and that output holds each fragment.
func failedSaying(t *testing.T, what string, r result, output string, fragments []string) {
	t.Helper()
	if r.code != 1 || !strings.HasPrefix(r.stderr, "notation-piv: error: ") {
		t.Fatalf("%s: exit %d, want 1 with an error\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(output, f) {
			t.Errorf("%s: output lacks %q:\nstdout: %s\nstderr: %s", what, f, r.stdout, r.stderr)
		}
	}
}

// expectError checks the contract for a failure: exit status 1, nothing on
// stdout, and a JSON error with the given code on stderr whose message
// contains each of the given fragments.
func expectError(t *testing.T, r result, code plugin.ErrorCode, fragments ...string) *plugin.Error {
	t.Helper()
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and empty stdout", r.code, r.stdout, r.stderr)
	}
	perr, err := pluginError(r.stderr)
	must(t, err)
	if perr.ErrCode != code {
		t.Fatalf("error code %s (%s), want %s", perr.ErrCode, perr.Message, code)
	}
	for _, f := range fragments {
		if !strings.Contains(perr.Message, f) {
			t.Errorf("error message %q lacks %q", perr.Message, f)
		}
	}
	return perr
}

// pluginError decodes stderr as exactly one contract error.
func pluginError(stderr string) (*plugin.Error, error) {
	var perr plugin.Error
	dec := json.NewDecoder(strings.NewReader(stderr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&perr); err != nil {
		return nil, fmt.Errorf("stderr is not a JSON error: %q (%v)", stderr, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("stderr holds more than one JSON error: %q", stderr)
	}
	return &perr, nil
}

// procGuard kills a run that a test started and that did not end, so that
// a hang fails the test instead of blocking it.
const procGuard = 10 * time.Second

// procRun is the plugin binary running, started by startPlugin.
type procRun struct {
	cmd            *exec.Cmd
	stdin          *os.File // the write end of its stdin, open until the run ends
	stdout, stderr bytes.Buffer
	done           chan error
}

// startPlugin starts the plugin binary with args and env, as runWithin
// sets it up, but returns at once: input is written to its stdin, which
// stays open (notation closes it; this caller never does) unless
// closeStdin. The run is killed when the test ends.
func startPlugin(t *testing.T, input string, closeStdin bool, env []string, args ...string) *procRun {
	t.Helper()
	r, w, err := os.Pipe()
	must(t, err)
	p := &procRun{stdin: w, done: make(chan error, 1)}
	p.cmd = pluginCommand(context.Background(), t, "", env, args...)
	p.cmd.Stdin = r
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	must(t, p.cmd.Start())
	r.Close()
	if _, err := io.WriteString(w, input); err != nil {
		t.Fatal(err)
	}
	if closeStdin {
		w.Close()
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		w.Close()
	})
	return p
}

// running fails the test if the run has ended.
func (p *procRun) running(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		t.Fatalf("the plugin ended: %v; stdout %q, stderr %q", err, p.stdout.String(), p.stderr.String())
	default:
	}
}

// signalBound is how long a command may take to end after SIGINT or
// SIGTERM.
const signalBound = time.Second

// stop sends sig to the run, which must still be running, and returns
// what it produced once it ended. It fails the test if the run took longer
// than signalBound to end; a run still going after procGuard is killed.
func (p *procRun) stop(t *testing.T, sig syscall.Signal) result {
	t.Helper()
	p.running(t)
	start := time.Now()
	must(t, p.cmd.Process.Signal(sig))
	var err error
	select {
	case err = <-p.done:
		p.done <- err
	case <-time.After(procGuard):
		p.cmd.Process.Kill()
		t.Fatalf("still running %v after %v; stderr %q", procGuard, sig, p.stderr.String())
	}
	took := time.Since(start)
	if took > signalBound {
		t.Errorf("ended %v after %v, more than %v", took.Round(time.Millisecond), sig, signalBound)
	}
	t.Logf("ended %v after %v", took.Round(time.Millisecond), sig)
	return result{p.stdout.String(), p.stderr.String(), exitCode(t, err)}
}

// waitFor polls cond until it holds, and fails the test if it does not
// within procGuard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(procGuard); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, procGuard)
		}
	}
}

// must fails the test at once if err is not nil.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
