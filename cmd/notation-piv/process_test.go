//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
	"golang.org/x/sys/unix"

	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
)

// expectInterrupted checks how a run ended after a signal: within
// signalBound, exit status 1, nothing on stdout and one JSON error.
func (p *procRun) expectInterrupted(t *testing.T, sig syscall.Signal) *plugin.Error {
	t.Helper()
	r := p.stop(t, sig)
	perr, err := pluginError(r.stderr)
	if r.code != 1 || r.stdout != "" || err != nil {
		t.Fatalf("after %v: exit %d, stdout %q, stderr %q (%v); want exit 1 and one JSON error", sig, r.code, r.stdout, r.stderr, err)
	}
	t.Logf("%v: %s: %s", sig, perr.ErrCode, perr.Message)
	return perr
}

// coreLimit reads the core file size limits of process pid, soft and
// hard, from /proc/pid/limits.
func coreLimit(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	must(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max core file size"); ok {
			return strings.Join(strings.Fields(rest), " ")
		}
	}
	t.Fatalf("no core file size in /proc/%d/limits:\n%s", pid, b)
	return ""
}

// TestSignalsWithoutCard sends SIGTERM and SIGINT to contract commands
// waiting for a request on a stdin that is never closed: each ends within
// a second with a JSON error, where it used to wait forever.
func TestSignalsWithoutCard(t *testing.T) {
	for _, tc := range []struct {
		command, request string
		sig              syscall.Signal
	}{
		{"get-plugin-metadata", "", syscall.SIGTERM},
		{"get-plugin-metadata", "{", syscall.SIGINT},
		{"describe-key", `{"contractVersion":"1.0",`, syscall.SIGTERM},
		{"generate-envelope", "", syscall.SIGINT},
	} {
		t.Run(tc.command+"/"+tc.sig.String(), func(t *testing.T) {
			// The log is opened after the signals are caught and before
			// the request is read.
			log := filepath.Join(t.TempDir(), "plugin.log")
			p := startPlugin(t, tc.request, false, []string{"NOTATION_PIV_LOG=" + log}, tc.command)
			waitFor(t, "the plugin opens its log", func() bool { _, err := os.Stat(log); return err == nil })
			time.Sleep(50 * time.Millisecond) // the plugin now waits on stdin
			perr := p.expectInterrupted(t, tc.sig)
			if !strings.Contains(perr.Message, "stdin") || !strings.Contains(perr.Message, "signal") {
				t.Errorf("message %q does not say that reading stdin was interrupted by a signal", perr.Message)
			}
		})
	}
}

// TestSignalsWithCard sends SIGTERM or SIGINT to signatures waiting on a
// TSA that does not answer, on a pinentry program that does not answer
// and on a card another process holds: each ends within a second with a
// JSON error, spends no PIN try, and leaves the card free for the next
// program. While it waits, the signing process may leave no core dump.
func TestSignalsWithCard(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	tsa, root := startTSA(t)
	dir := t.TempDir()
	started := filepath.Join(dir, "pinentry-started")
	pinentry := filepath.Join(dir, "pinentry-silent")
	// It never greets: the plugin waits for its first line, while the
	// shell holds the pipe open, until the plugin closes its stdin.
	script := "#!/bin/sh\n: > " + strconv.Quote(started) + "\ncat > /dev/null\n"
	must(t, os.WriteFile(pinentry, []byte(script), 0o755))
	for _, tc := range []struct {
		name    string
		command string
		config  map[string]string
		env     []string
		sig     syscall.Signal
		setup   func(t *testing.T) (waiting func() bool)
	}{
		{"hanging TSA", "generate-envelope", map[string]string{"tsa_url": tsa.URL, "tsa_root_cert": root}, []string{"NOTATION_PIV_PIN=123456"}, syscall.SIGTERM,
			func(t *testing.T) func() bool {
				tsa.SetDelay(time.Hour)
				t.Cleanup(func() { tsa.SetDelay(0) })
				before := tsa.Requests()
				return func() bool { return tsa.Requests() > before }
			}},
		{"silent pinentry", "generate-signature", map[string]string{"pinentry": pinentry}, nil, syscall.SIGINT,
			func(t *testing.T) func() bool {
				os.Remove(started)
				return func() bool { _, err := os.Stat(started); return err == nil }
			}},
		{"card held by another program", "describe-key", map[string]string{"card_timeout": "1m"}, nil, syscall.SIGTERM,
			func(t *testing.T) func() bool {
				holdCard(t, env, 0)
				at := time.Now()
				return func() bool { return time.Since(at) > 500*time.Millisecond }
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retries := pinRetries(t, env)
			waiting := tc.setup(t)
			p := startPlugin(t, requestFor(tc.command, tc.config), true, tc.env, tc.command)
			waitFor(t, "the plugin waits", waiting)
			p.running(t)
			if got := coreLimit(t, p.cmd.Process.Pid); got != "0 0 bytes" {
				t.Errorf("core file size limit of the waiting plugin: %q, want 0 0 bytes", got)
			}
			p.expectInterrupted(t, tc.sig)
			if got := pinRetries(t, env); got != retries {
				t.Errorf("PIN retries %d → %d", retries, got)
			}
		})
		// The card is free: another program can use it at once.
		r := invoke(t, "describe-key", requestFor("describe-key", map[string]string{"card_timeout": "1s"}))
		if r.code != 0 {
			t.Fatalf("%s: the card is not free afterwards: exit %d, stderr %q", tc.name, r.code, r.stderr)
		}
	}
}

// TestNoCoreDumps checks a plugin process while it waits: its core file
// size limit is 0 and it is not dumpable (PR_SET_DUMPABLE 0), which Linux
// shows by giving its /proc files to root. As root, the plugin runs as
// user nobody (65534) for the check; a "sleep" run alike shows what a
// dumpable process looks like.
func TestNoCoreDumps(t *testing.T) {
	uid := os.Getuid()
	var cred *syscall.Credential
	bin := harness.plugin
	if uid == 0 {
		uid = 65534
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		// nobody must be able to run the binary: copy it out of the
		// test's private directory.
		dir, err := os.MkdirTemp("", "notation-piv-nodump")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		bin = filepath.Join(dir, "notation-piv")
		b, err := os.ReadFile(harness.plugin)
		must(t, err)
		must(t, os.WriteFile(bin, b, 0o755))
		must(t, os.Chmod(dir, 0o755))
	}
	owner := func(pid int) int {
		var st unix.Stat_t
		must(t, unix.Stat(fmt.Sprintf("/proc/%d/status", pid), &st))
		return int(st.Uid)
	}
	start := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
		if _, err := cmd.StdinPipe(); err != nil { // open until the test ends
			t.Fatal(err)
		}
		must(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}

	// Each process is checked until it passes or 2 s have passed: it
	// takes a moment to run exec, and the plugin to reach main.
	within := func(cond func() bool) bool {
		for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				return false
			}
		}
		return true
	}
	sleep := start("sleep", "60")
	if !within(func() bool { return owner(sleep.Process.Pid) == uid }) {
		t.Fatalf("/proc of a dumpable process of user %d belongs to user %d: this check cannot tell", uid, owner(sleep.Process.Pid))
	}

	pid := start(bin, "get-plugin-metadata").Process.Pid // it waits on stdin
	if !within(func() bool { return owner(pid) == 0 }) {
		t.Errorf("/proc/%d of the plugin belongs to user %d: the process is dumpable", pid, owner(pid))
	}
	if !within(func() bool { return coreLimit(t, pid) == "0 0 bytes" }) {
		t.Errorf("core file size limit of the plugin: %q, want 0 0 bytes", coreLimit(t, pid))
	}
}

// logCase is a file put where NOTATION_PIV_LOG points, and what the
// plugin must say about it.
type logCase struct {
	name string
	// plant makes the file at path; it returns the file whose content must
	// not change (the target of a link), or "".
	plant func(t *testing.T, path string) (untouched string)
	says  []string // fragments of the refusal
}

// TestLogFile points NOTATION_PIV_LOG at what it must never write to: a
// symbolic link (to a 0600 file of the user, which the mode and owner
// checks alone would accept, and to nowhere), a file of mode 0644, of
// another owner or with two names, a FIFO, a device, a directory. Each
// get-plugin-metadata fails at once with a JSON error that names the
// variable and says what to do, writes nothing anywhere, changes no mode,
// and opens no FIFO: where it used to hang forever on a FIFO and write
// through links. A new log is created with mode 0600, and the user's own
// 0600 log is appended to.
func TestLogFile(t *testing.T) {
	const content = "precious content\n"
	own := func(t *testing.T, path string, mode os.FileMode) { writeMode(t, path, content, mode) }
	// withMode plants a log of the user's of that mode; made is what a
	// plant that made the file at path with err returns.
	withMode := func(mode os.FileMode) func(*testing.T, string) string {
		return func(t *testing.T, path string) string {
			own(t, path, mode)
			return path
		}
	}
	// elsewhere plants, with link, another name for a 0600 file of the
	// user's, which must not change.
	elsewhere := func(name string, link func(target, path string) error) func(*testing.T, string) string {
		return func(t *testing.T, path string) string {
			target := filepath.Join(t.TempDir(), name)
			own(t, target, 0o600)
			must(t, link(target, path))
			return target
		}
	}
	made := func(t *testing.T, err error) string {
		must(t, err)
		return ""
	}
	cases := []logCase{
		{"symlink to a 0600 file", elsewhere("target", os.Symlink), []string{"is a symbolic link"}},
		{"dangling symlink", func(t *testing.T, path string) string {
			target := filepath.Join(t.TempDir(), "target")
			must(t, os.Symlink(target, path))
			return target
		}, []string{"is a symbolic link"}},
		{"mode 0644", withMode(0o644), []string{"has mode 0644", `chmod 600`}},
		{"mode 0606", withMode(0o606), []string{"has mode 0606"}},
		{"two names", elsewhere("other-name", os.Link), []string{"has 2 names"}},
		{"directory", func(t *testing.T, path string) string { return made(t, os.Mkdir(path, 0o700)) }, []string{"is a directory"}},
		{"symlink to /dev/null", func(t *testing.T, path string) string { return made(t, os.Symlink("/dev/null", path)) }, []string{"is a symbolic link"}},
		{"FIFO without a reader", func(t *testing.T, path string) string { return made(t, unix.Mkfifo(path, 0o600)) }, []string{"is a FIFO"}},
		{"FIFO with a reader", plantWatchedFIFO, []string{"is a FIFO"}},
	}
	if os.Geteuid() == 0 {
		// A device of its own, like /dev/null (1, 3): writing to it is
		// harmless, should the plugin do so.
		cases = append(cases, logCase{"device", func(t *testing.T, path string) string {
			return made(t, unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
		}, []string{"is a device"}}, logCase{"another owner", func(t *testing.T, path string) string {
			own(t, path, 0o600)
			must(t, os.Chown(path, 65534, 65534))
			return path
		}, []string{"belongs to user 65534"}})
	} else {
		t.Log("not root: the cases of a device and of a log of another owner need root to make them")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plugin.log")
			untouched := tc.plant(t, path)
			before := stamp(t, path, untouched)
			r, took := invokeWithin(t, 2*time.Second, "get-plugin-metadata", "", "NOTATION_PIV_LOG="+path)
			expectError(t, r, plugin.ErrorCodeGeneric, append(tc.says, "NOTATION_PIV_LOG", path, "unset it")...)
			if after := stamp(t, path, untouched); after != before {
				t.Errorf("changed: %s → %s", before, after)
			}
			t.Logf("refused in %v: %s", took.Round(time.Millisecond), r.stderr)
		})
	}

	t.Run("new log", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "plugin.log")
		if r := invoke(t, "get-plugin-metadata", "", "NOTATION_PIV_LOG="+path); r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		fi, err := os.Lstat(path)
		must(t, err)
		if fi.Mode() != 0o600 {
			t.Errorf("new log has mode %v, want -rw-------", fi.Mode())
		}
		if b, _ := os.ReadFile(path); !strings.Contains(string(b), "get-plugin-metadata succeeded") {
			t.Errorf("log %q", b)
		}
	})
	t.Run("own 0600 log", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "plugin.log")
		own(t, path, 0o600)
		if r := invoke(t, "get-plugin-metadata", "", "NOTATION_PIV_LOG="+path); r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), content) || !strings.Contains(string(b), "get-plugin-metadata succeeded") {
			t.Errorf("log %q: not appended to", b)
		}
	})
}

// stamp describes path and the file untouched (if not "") for before and
// after comparisons: type, mode, owner and content.
func stamp(t *testing.T, path, untouched string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{path, untouched} {
		if p == "" {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", filepath.Base(p), errors.Unwrap(err))
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s: %v uid %d links %d", filepath.Base(p), fi.Mode(), st.Uid, st.Nlink)
		if fi.Mode().IsRegular() {
			c, err := os.ReadFile(p)
			must(t, err)
			fmt.Fprintf(&b, " %q", c)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// plantWatchedFIFO makes a FIFO at path with a reader waiting on it, so
// that opening it for writing would succeed, and watches it with inotify:
// when the test ends, it fails if anyone opened the FIFO or wrote to it.
func plantWatchedFIFO(t *testing.T, path string) string {
	must(t, unix.Mkfifo(path, 0o600))
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	must(t, err)
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	must(t, err)
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN|unix.IN_MODIFY|unix.IN_CLOSE_WRITE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer unix.Close(fd)
		defer reader.Close()
		buf := make([]byte, 4096)
		if n, _ := unix.Read(fd, buf); n >= unix.SizeofInotifyEvent {
			t.Errorf("the FIFO was opened or written (inotify mask %#x)", binary.NativeEndian.Uint32(buf[4:8]))
		}
		if n, _ := reader.Read(buf); n > 0 {
			t.Errorf("the FIFO got %q", buf[:n])
		}
	})
	return ""
}

// TestTSAURLRedacted signs with a tsa_url holding a token in its query,
// with the debug log on: the token is in neither stderr nor the log,
// whether the TSA answers, fails (HTTP 500, whose error tspclient-go
// writes with the whole URL) or the URL is refused for its user info.
func TestTSAURLRedacted(t *testing.T) {
	const token = "tsa-t0ken-s3cret"
	needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	tsa, root := startTSA(t)
	withToken := tsa.URL + "?token=" + token
	for _, tc := range []struct {
		name  string
		url   string
		fault timestamptest.Fault
		code  plugin.ErrorCode // "" for success
		says  string
	}{
		{"answers", withToken, timestamptest.None, "", ""},
		{"HTTP 500", withToken, timestamptest.HTTP500, plugin.ErrorCodeGeneric, tsa.URL + "?…: no valid answer"},
		{"user info", "http://user:" + token + "@" + strings.TrimPrefix(withToken, "http://"), timestamptest.None, plugin.ErrorCodeValidation, "holds a user name or password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tsa.SetFault(tc.fault)
			defer tsa.SetFault(timestamptest.None)
			log := filepath.Join(t.TempDir(), "plugin.log")
			r := invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"tsa_url": tc.url, "tsa_root_cert": root}),
				"NOTATION_PIV_PIN=123456", "NOTATION_PIV_LOG="+log)
			if tc.code == "" {
				if r.code != 0 || r.stderr != "" || !verifies(r.stdout) {
					t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
				}
			} else {
				expectError(t, r, tc.code, tc.says)
			}
			logged, err := os.ReadFile(log)
			must(t, err)
			if tc.code != plugin.ErrorCodeValidation && !strings.Contains(string(logged), "tsa_url="+strconv.Quote(tsa.URL+"?…")) {
				t.Errorf("the log does not show the config: %q", logged)
			}
			for where, out := range map[string]string{"stderr": r.stderr, "the log": string(logged)} {
				if strings.Contains(out, token) {
					t.Errorf("%s holds the token: %q", where, out)
				}
			}
		})
	}
}
