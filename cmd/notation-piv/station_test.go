package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures/stationtest"
)

// A signing station: the card sits in the test's pcscd (the station), and
// notation and the plugin run on a runner, in a mount namespace of their
// own with an empty /run/pcscd, reaching the station's pcscd only through
// an SSH-forwarded socket named by PCSCLITE_CSOCK_NAME (package
// stationtest).

// envSocket names the environment variable that points pcsc-lite's
// client library at another pcscd socket.
const envSocket = "PCSCLITE_CSOCK_NAME"

// stationCardTimeout is the pluginConfig card_timeout of the runs
// through a tunnel.
const stationCardTimeout = 5 * time.Second

// runnerSocket returns a path for the runner's end of a tunnel, short
// enough for a Unix socket address (108 bytes, which t.TempDir can
// exceed), in a directory deleted when the test ends.
func runnerSocket(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "runner-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "pcscd.sock")
}

// runnerCommand returns notation with args as a runner runs it: in a
// runner namespace, with PCSCLITE_CSOCK_NAME naming socket (unless ""),
// in a session of its own.
func (n *notationEnv) runnerCommand(ctx context.Context, socket string, args ...string) *exec.Cmd {
	cmd := stationtest.Runner(ctx, harness.notation, args...)
	cmd.Env = append([]string{}, n.env...)
	if socket != "" {
		cmd.Env = append(cmd.Env, envSocket+"="+socket)
	}
	if n.pin != "" {
		cmd.Env = append(cmd.Env, "NOTATION_PIV_PIN="+n.pin)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// onRunner runs notation with args on a runner (see runnerCommand) and
// returns its combined output and error. A run that lasts a minute is
// killed.
func (n *notationEnv) onRunner(socket string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := n.runnerCommand(ctx, socket, args...).CombinedOutput()
	return string(out), err
}

// runOnRunner is onRunner that fails the test if notation fails.
func (n *notationEnv) runOnRunner(socket string, args ...string) string {
	n.t.Helper()
	out, err := n.onRunner(socket, args...)
	if err != nil {
		n.t.Fatalf("notation %s on the runner: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// pluginOnRunner runs the plugin binary with args on a runner, with
// PCSCLITE_CSOCK_NAME naming socket (unless "") and env.
func pluginOnRunner(t *testing.T, socket string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := stationtest.Runner(ctx, harness.plugin, args...)
	dir := t.TempDir()
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	if socket != "" {
		cmd.Env = append(cmd.Env, envSocket+"="+socket)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("notation-piv %s on the runner hung; stderr %q", strings.Join(args, " "), stderr.String())
	}
	return result{stdout.String(), stderr.String(), exitCode(t, err)}
}

// TestStationSignVerify signs on a runner whose only way to the card is a
// tunnel to the station: notation sign with the station's card, JWS and
// COSE, timestamped by the plugin (ENVELOPE mode) and by notation (RAW
// mode), then notation verify on the runner with a policy that demands
// the timestamp. Each signature verifies the PIN once; without a PIN the
// card refuses to sign. Without PCSCLITE_CSOCK_NAME the runner finds no
// pcscd at all.
func TestStationSignVerify(t *testing.T) {
	env := needCard(t)
	station := stationtest.Start(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	tsa, root := startTSA(t)
	n := newNotation(t)
	n.trust(leaf)
	n.trustTSA(root)
	n.importPolicy("always")
	socket := runnerSocket(t)
	station.Forward(t, socket)

	// The runner has no pcscd of its own.
	alone := pluginOnRunner(t, "", nil, "list")
	mustFail(t, "notation-piv list on the runner without the tunnel", alone, "connect to the smart card service (pcscd)", "check that pcscd runs")

	timeout := "card_timeout=" + stationCardTimeout.String()
	n.addKey("station", "9c", "tsa_url="+tsa.URL, "tsa_root_cert="+root, timeout)
	n.addKey("station-raw", "9c", "mode=raw", timeout)
	for _, c := range []struct{ name, key, format string }{
		{"jws", "station", "jws"},
		{"cose", "station", "cose"},
		{"raw/jws", "station-raw", "jws"},
		{"raw/cose", "station-raw", "cose"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env.Card.ResetStats()
			before := tsa.Requests()
			layout := newLayout(t, "station "+t.Name())
			args := []string{"sign", "--oci-layout", "--key", c.key, "--signature-format", c.format}
			if c.key == "station-raw" {
				args = append(args, "--timestamp-url", tsa.URL, "--timestamp-root-cert", root)
			}
			n.runOnRunner(socket, append(args, layout.ref())...)
			if got := tsa.Requests() - before; got != 1 {
				t.Errorf("the TSA got %d requests, want 1", got)
			}
			if pins, signed := pinsChecked(env), sent(env, "GENERAL AUTHENTICATE"); pins != 1 || signed != 2 {
				t.Errorf("the station's card checked the PIN %d times and got %d GENERAL AUTHENTICATE, want 1 and 2 (6982, then the signature)", pins, signed)
			}
			n.runOnRunner(socket, "verify", "--oci-layout", "--scope", "local/e2e", layout.ref())
			for _, e := range layout.signatures(t) {
				if len(envelopeContent(t, c.format, e).SignerInfo.UnsignedAttributes.TimestampSignature) == 0 {
					t.Error("the envelope carries no timestamp")
				}
			}
		})
	}
	// Reaching the card is not enough: under PIN policy "always" a
	// signature needs the PIN, and without one nothing is sent.
	t.Run("no PIN", func(t *testing.T) {
		env.Card.ResetStats()
		noPIN := *n
		noPIN.pin = ""
		out, err := noPIN.onRunner(socket, "sign", "--oci-layout", "--key", "station", newLayout(t, "no PIN").ref())
		if err == nil || !strings.Contains(out, "the card needs its PIN but no PIN source is available") {
			t.Errorf("notation sign without a PIN: %v, want a refusal\n%s", err, out)
		}
		if pins, signed := pinsChecked(env), sent(env, "GENERAL AUTHENTICATE"); pins != 0 || signed != 1 {
			t.Errorf("the card checked the PIN %d times and got %d GENERAL AUTHENTICATE, want 0 and 1 (answered 6982)", pins, signed)
		}
	})
	if left := pinRetries(t, env); left != 3 {
		t.Errorf("%d PIN retries left, want 3", left)
	}
}

// TestStationConcurrentSignatures runs eight notation sign at once on
// runners that share one tunnel to the station's card. Every one must
// sign, every signature verify, and no PIN retry be lost. pcscd listens
// with a backlog of one, and sshd gives up on a connection the backlog
// has no room for (EAGAIN): the plugin tries those again (see
// TestTunnelResetIsRetried); the sshd log tells how often it happened.
func TestStationConcurrentSignatures(t *testing.T) {
	env := needCard(t)
	station := stationtest.Start(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	n := newNotation(t)
	n.trust(leaf)
	n.addKey("station", "9c", "card_timeout="+stationCardTimeout.String())
	socket := runnerSocket(t)
	tunnel := station.Forward(t, socket)
	env.Card.ResetStats()

	const runners = 8
	layouts := make([]*ociLayout, runners)
	outs := make([]string, runners)
	errs := make([]error, runners)
	for i := range layouts {
		layouts[i] = newLayout(t, fmt.Sprintf("concurrent %d", i))
	}
	var wg sync.WaitGroup
	for i := range runners {
		wg.Go(func() {
			outs[i], errs[i] = n.onRunner(socket, "sign", "--oci-layout", "--key", "station", layouts[i].ref())
		})
	}
	wg.Wait()
	for i := range runners {
		if errs[i] != nil {
			t.Errorf("runner %d: %v\n%s", i, errs[i], outs[i])
			continue
		}
		n.runOnRunner(socket, "verify", "--oci-layout", "--scope", "local/e2e", layouts[i].ref())
	}
	full := strings.Count(station.LogText(), "Resource temporarily unavailable")
	t.Logf("sshd found pcscd's backlog full %d times; the plugin connected again each time", full)
	if t.Failed() {
		t.Logf("ssh log:\n%s\nsshd log:\n%s", tunnel.LogText(), station.LogText())
	}
	if left := pinRetries(t, env); left != 3 {
		t.Errorf("%d PIN retries left, want 3", left)
	}
	if pins := pinsChecked(env); pins != runners {
		t.Errorf("the card checked the PIN %d times, want %d", pins, runners)
	}
}

// TestStationForwardsOnlyPCSCD checks what the runner's key can do on the
// station, with the sshd_config and authorized_keys options of README.md:
// forward its Unix socket to the station's pcscd, and nothing else. No
// other key logs in; no command, shell or terminal; no TCP forwarding in
// either direction; no other Unix socket, even one the station's user
// could open; no remote forwarding. The runner's end of the tunnel is a
// socket only its owner can use.
func TestStationForwardsOnlyPCSCD(t *testing.T) {
	needCard(t)
	station := stationtest.Start(t)
	socket := runnerSocket(t)
	tunnel := station.Forward(t, socket)
	ssh := func(t *testing.T, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput()
		return string(out), err
	}

	t.Run("the runner's socket is its owner's only", func(t *testing.T) {
		fi, err := os.Stat(socket)
		must(t, err)
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
			t.Errorf("%s: mode %v, owner %d; want a socket of mode 0600 owned by %d", socket, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, os.Geteuid())
		}
	})
	t.Run("another key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		args := station.SSHArgs("-N", "-o", "ExitOnForwardFailure=yes", "-L", socket+".other:"+stationtest.PCSCDSocket)
		for i := range args {
			if args[i] == "-i" {
				args[i+1] = other
			}
		}
		out, err := ssh(t, args...)
		if err == nil || !strings.Contains(out, "Permission denied (publickey)") {
			t.Errorf("ssh with another key: %v, want Permission denied (publickey)\n%s", err, out)
		}
	})
	for _, c := range []struct{ name, flag string }{{"a command", "-T"}, {"a terminal", "-tt"}} {
		t.Run(c.name, func(t *testing.T) {
			out, err := ssh(t, append(station.SSHArgs(c.flag), "echo", "ran-on-the-station")...)
			if err == nil || strings.Contains(out, "ran-on-the-station") {
				t.Errorf("ssh %s echo: %v, want a refusal\n%s", c.flag, err, out)
			}
		})
	}
	// A destination that would answer if it were reached: the station's
	// own sshd, and a Unix socket that anyone may open.
	open := filepath.Join(filepath.Dir(socket), "open.sock")
	l, err := net.Listen("unix", open)
	must(t, err)
	defer l.Close()
	must(t, os.Chmod(open, 0o777))
	must(t, os.Chmod(filepath.Dir(open), 0o755))
	reached := make(chan struct{}, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			reached <- struct{}{}
			c.Close()
		}
	}()
	_, sshdPort, _ := net.SplitHostPort(station.Addr)
	tcpPort, err := freeTCPPort()
	must(t, err)
	for _, c := range []struct {
		name, network, local, target string
	}{
		{"TCP forwarding", "tcp", "127.0.0.1:" + tcpPort, "127.0.0.1:" + sshdPort},
		{"another Unix socket", "unix", socket + ".open", open},
	} {
		t.Run(c.name, func(t *testing.T) {
			denied := strings.Count(station.LogText(), "but the request was denied")
			cmd := exec.Command("ssh", station.SSHArgs("-N", "-o", "ExitOnForwardFailure=yes", "-L", c.local+":"+c.target)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			must(t, cmd.Start())
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			var conn net.Conn
			waitFor(t, "ssh listens on "+c.local, func() bool {
				var err error
				conn, err = net.Dial(c.network, c.local)
				return err == nil
			})
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(bufio.NewReader(conn))
			if len(got) > 0 {
				t.Errorf("the forwarded connection got %q from the station", got)
			}
			select {
			case <-reached:
				t.Error("the station connected to the other Unix socket")
			default:
			}
			if log := station.LogText(); strings.Count(log, "but the request was denied") != denied+1 {
				t.Errorf("the sshd log does not say that it denied the request:\n%s", log)
			}
		})
	}
	t.Run("remote forwarding", func(t *testing.T) {
		for _, forward := range []string{"127.0.0.1:0:127.0.0.1:" + sshdPort, "/tmp/station-remote.sock:" + open} {
			out, err := ssh(t, station.SSHArgs("-N", "-o", "ExitOnForwardFailure=yes", "-R", forward)...)
			if err == nil || !strings.Contains(out, "forwarding failed") {
				t.Errorf("ssh -R %s: %v, want a refusal\n%s", forward, err, out)
			}
		}
	})
	if !tunnel.Running() {
		t.Errorf("the tunnel to pcscd ended: %s", tunnel.LogText())
	}
}

// freeTCPPort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freeTCPPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// TestStationPINInsideSSH signs through a tunnel whose SSH connection
// passes a relay that records every byte between runner and station: the
// card checked the PIN, and neither the PIN nor the VERIFY command that
// carries it appears on the wire.
func TestStationPINInsideSSH(t *testing.T) {
	env := needCard(t)
	station := stationtest.Start(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	n := newNotation(t)
	n.trust(leaf)
	n.addKey("station", "9c", "card_timeout="+stationCardTimeout.String())
	rec := startRecorder(t, station.Addr)
	socket := runnerSocket(t)
	station.ForwardVia(t, socket, rec.addr)
	env.Card.ResetStats()

	layout := newLayout(t, "recorded")
	n.runOnRunner(socket, "sign", "--oci-layout", "--key", "station", layout.ref())
	n.verify(layout)
	if pins := pinsChecked(env); pins != 1 {
		t.Fatalf("the card checked the PIN %d times, want 1", pins)
	}
	wire := rec.bytes()
	verify := append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, []byte(piv.DefaultPIN+"\xff\xff")...)
	switch {
	case !bytes.HasPrefix(wire, []byte("SSH-2.0-")):
		t.Errorf("the relay did not see an SSH connection: %q…", wire[:min(len(wire), 32)])
	case bytes.Contains(wire, []byte(piv.DefaultPIN)), bytes.Contains(wire, verify):
		t.Error("the PIN crossed the network in clear")
	}
	t.Logf("%d bytes between runner and station, none of them the PIN", len(wire))
}

// recorder is a TCP relay that keeps every byte it passes, both ways.
type recorder struct {
	addr string
	mu   sync.Mutex
	data []byte
}

// startRecorder starts a recorder in front of target; it stops when the
// test ends.
func startRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { l.Close() })
	r := &recorder{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go r.copy(up, c)
			go r.copy(c, up)
		}
	}()
	return r
}

// copy passes src to dst, recording it, and closes both at the end.
func (r *recorder) copy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.data = append(r.data, buf[:n]...)
			r.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// bytes returns what the recorder saw so far.
func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.data)
}

// TestStationRecipe checks that README.md gives the station's sshd
// settings and key options that the tests run with, for its user
// piv-station.
func TestStationRecipe(t *testing.T) {
	readme := string(readFile(t, filepath.Join("..", "..", "README.md")))
	start := strings.Index(readme, "## A signing station for CI")
	if start < 0 {
		t.Fatal(`README.md has no section "A signing station for CI"`)
	}
	section := readme[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	block := stationtest.MatchBlock("piv-station", "/etc/ssh/piv-station/authorized_keys")
	indented := "   " + strings.ReplaceAll(strings.TrimSuffix(block, "\n"), "\n", "\n   ") + "\n"
	for what, text := range map[string]string{
		"the sshd Match block":        indented,
		"the authorized_keys options": stationtest.AuthorizedKeyOptions + " ssh-ed25519 ",
		"the tunnel's socket forward": ":" + stationtest.PCSCDSocket + `" piv-station@`,
	} {
		if !strings.Contains(section, text) {
			t.Errorf("the README's signing station section lacks %s:\n%s", what, text)
		}
	}
}
