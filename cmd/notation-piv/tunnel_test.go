package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures/stationtest"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// The tunnel to a signing station fails: it drops in the middle of a
// signature, it is not there, it refuses connections, or it resets them.

// skipToForget is the Skip of a fault on VERIFY that holds the VERIFY
// P1=FF of the close, which makes the card forget the PIN: in a signature
// with PIN policy "always" the PIN status query and the VERIFY with the
// PIN come first.
const skipToForget = 2

// tunnelDrop is a moment at which the tunnel drops during notation sign.
type tunnelDrop struct {
	name string
	// fault holds the command during which the tunnel drops; the test
	// sets Delay and Fired.
	fault card.Fault
	// station: the sshd process serving the tunnel dies, rather than the
	// runner's ssh.
	station bool
	// pinChecks is how many VERIFY with the PIN reach the card's check:
	// one if the PIN was on its way when the tunnel dropped, never more.
	pinChecks int
	// signed: the signature was made before the tunnel dropped, so
	// notation sign succeeds.
	signed bool
}

// TestTunnelDrops drops the tunnel while notation sign waits for the
// station's card: before the PIN is verified (the PIN status query, the
// first GENERAL AUTHENTICATE), while it is (VERIFY with the PIN), after
// it is (in the middle of the GENERAL AUTHENTICATE that signs), and after
// the signature, while the card is made to forget the PIN. Either the
// runner's ssh dies or the station's sshd. Each run must end within
// card_timeout of the drop with an error that names the socket and says
// to check the tunnel (or, in the last case, with the signature), spend
// no PIN retry, send the PIN at most once, and leave the card's state as
// it was and its PIN not verified (pcscd resets a card whose client
// vanished while holding it). Once the tunnel is opened again, the next
// signature succeeds.
func TestTunnelDrops(t *testing.T) {
	env := needCard(t)
	station := stationtest.Start(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	provisioned := snapshot(t, env)
	n := newNotation(t)
	n.trust(leaf)
	n.addKey("station", "9c", "card_timeout="+stationCardTimeout.String())
	socket := runnerSocket(t)
	tunnel := station.Forward(t, socket)

	cases := []tunnelDrop{
		{name: "before the PIN: PIN status query, runner's ssh dies", fault: card.Fault{INS: insVerify}},
		{name: "before the PIN: first GENERAL AUTHENTICATE, station's sshd dies", fault: card.Fault{INS: insGenAuth}, station: true},
		{name: "while the PIN is verified, station's sshd dies", fault: card.Fault{INS: insVerify, Skip: 1}, station: true, pinChecks: 1},
		{name: "after the PIN, in the middle of GENERAL AUTHENTICATE, runner's ssh dies", fault: card.Fault{INS: insGenAuth, Skip: 1}, pinChecks: 1},
		{name: "after the PIN, in the middle of GENERAL AUTHENTICATE, station's sshd dies", fault: card.Fault{INS: insGenAuth, Skip: 1}, station: true, pinChecks: 1},
		{name: "after the signature, while the card forgets the PIN, runner's ssh dies", fault: card.Fault{INS: insVerify, Skip: skipToForget}, pinChecks: 1, signed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env.Card.ClearFaults()
			must(t, env.Card.Restore(provisioned))
			env.Card.ResetStats()
			if !tunnel.Running() {
				tunnel = station.Forward(t, socket)
			}
			fired := make(chan struct{}, 1)
			f := tc.fault
			f.Times, f.Delay, f.Fired = 1, neverAnswers, fired
			env.Card.InjectFault(f)

			layout := newLayout(t, "dropped "+t.Name())
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := n.runnerCommand(ctx, socket, "sign", "--oci-layout", "--key", "station", layout.ref())
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			must(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-fired:
			case err := <-done:
				t.Fatalf("notation sign ended before the card got the command: %v\n%s", err, out.String())
			case <-time.After(hangGuard):
				t.Fatalf("the card never got the command\n%s", out.String())
			}
			dropped := time.Now()
			if tc.station {
				if station.KillSessions() == 0 {
					t.Fatal("no sshd process served the tunnel")
				}
			} else {
				tunnel.Kill()
			}
			err := <-done
			took := time.Since(dropped)
			if ctx.Err() != nil {
				t.Fatalf("notation sign hung after the tunnel dropped\n%s", out.String())
			}
			message := out.String()

			// The held command goes on to the card, into the void; pcscd
			// then lets go of the card, resetting it.
			env.Card.ClearFaults()
			yk := openPIV(t)
			left, statusErr := yk.Retries()
			yk.Close()

			t.Logf("TUNNEL | %s | %v after the drop | %s", tc.name, took.Round(time.Millisecond), lastLine(message))
			if took > stationCardTimeout {
				t.Errorf("notation sign ended %v after the tunnel dropped, more than card_timeout %v", took, stationCardTimeout)
			}
			switch {
			case tc.signed && err != nil:
				t.Errorf("notation sign: %v, want the signature made before the drop\n%s", err, message)
			case tc.signed:
				n.verify(layout)
			case err == nil:
				t.Errorf("notation sign succeeded after the tunnel dropped\n%s", message)
			default:
				for _, says := range []string{"the pcscd socket " + socket + " (" + envSocket + ")", "check the tunnel"} {
					if !strings.Contains(message, says) {
						t.Errorf("the error does not say %q:\n%s", says, message)
					}
				}
				if strings.Contains(message, "check that pcscd runs") {
					t.Errorf("the error tells to check the local pcscd:\n%s", message)
				}
			}
			if statusErr != nil || left != 3 {
				t.Errorf("PIN status after the drop: %d retries, %v; want 3 and the PIN not verified", left, statusErr)
			}
			if pins := pinsChecked(env); pins != tc.pinChecks {
				t.Errorf("the card checked the PIN %d times, want %d", pins, tc.pinChecks)
			}
			if !bytes.Equal(snapshot(t, env), provisioned) {
				t.Error("the card's state changed")
			}

			tunnel = station.Forward(t, socket)
			again := newLayout(t, "after "+t.Name())
			n.runOnRunner(socket, "sign", "--oci-layout", "--key", "station", again.ref())
			n.verify(again)
		})
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestTunnelSocketErrors runs notation sign and notation-piv list on a
// runner whose tunnel is missing, or whose ssh died and left its socket
// file behind: the errors name the socket and say to check the tunnel,
// not pcscd, at once. Through a working tunnel, list and the debug log
// name the socket.
func TestTunnelSocketErrors(t *testing.T) {
	needCard(t)
	station := stationtest.Start(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	n := newNotation(t)
	n.trust(leaf)
	n.addKey("station", "9c", "card_timeout="+stationCardTimeout.String())
	socket := runnerSocket(t)

	check := func(t *testing.T, problem string) {
		t.Helper()
		start := time.Now()
		out, err := n.onRunner(socket, "sign", "--oci-layout", "--key", "station", newLayout(t, t.Name()).ref())
		took := time.Since(start)
		if err == nil {
			t.Fatalf("notation sign succeeded without a tunnel:\n%s", out)
		}
		listed := pluginOnRunner(t, socket, nil, "list")
		mustFail(t, "notation-piv list", listed, "the pcscd socket "+socket+" ("+envSocket+") "+problem, "hint: check the tunnel to the signing station", "-L "+socket+":/run/pcscd/pcscd.comm")
		for _, says := range []string{"the pcscd socket " + socket + " (" + envSocket + ") " + problem, "check the tunnel to the signing station"} {
			if !strings.Contains(out, says) {
				t.Errorf("notation sign does not say %q:\n%s", says, out)
			}
		}
		for _, output := range []string{out, listed.stderr} {
			if strings.Contains(output, "check that pcscd runs") || strings.Contains(output, "insert a card") {
				t.Errorf("the error points at the local pcscd or card:\n%s", output)
			}
		}
		// No PC/SC call to wait for: a missing or refusing socket fails
		// at once.
		if took > 2*time.Second {
			t.Errorf("notation sign took %v to fail", took)
		}
		t.Logf("%s\nnotation-piv list: %s", lastLine(out), listed.stderr)
	}
	t.Run("no socket", func(t *testing.T) { check(t, "does not exist") })

	tunnel := station.Forward(t, socket)
	t.Run("through the tunnel", func(t *testing.T) {
		listed := pluginOnRunner(t, socket, nil, "list")
		mustSucceed(t, "notation-piv list", listed)
		if !strings.HasPrefix(listed.stdout, "through the pcscd socket "+socket+" ("+envSocket+")\n") || !strings.Contains(listed.stdout, "PIV card 24680246") {
			t.Errorf("notation-piv list does not name the socket and the card:\n%s", listed.stdout)
		}
		asJSON := pluginOnRunner(t, socket, nil, "list", "--json")
		mustSucceed(t, "notation-piv list --json", asJSON)
		var doc struct {
			Socket string `json:"socket"`
			Cards  []struct {
				Serial uint32 `json:"serial"`
			} `json:"cards"`
		}
		must(t, json.Unmarshal([]byte(asJSON.stdout), &doc))
		if doc.Socket != socket || len(doc.Cards) != 1 || doc.Cards[0].Serial != testSerial {
			t.Errorf("notation-piv list --json: socket %q, cards %+v; want %q and card %d", doc.Socket, doc.Cards, socket, testSerial)
		}
		n.runOnRunner(socket, "sign", "--oci-layout", "--key", "station", newLayout(t, "logged").ref())
		if log := string(readFile(t, n.logf)); !strings.Contains(log, `opened the card in "Virtual PCD 00 00" through the pcscd socket `+socket+" ("+envSocket+")") {
			t.Errorf("the debug log does not name the socket:\n%s", log)
		}
	})

	tunnel.Kill()
	t.Run("ssh gone, its socket left behind", func(t *testing.T) {
		if _, err := os.Stat(socket); err != nil {
			t.Fatalf("the socket file is gone with ssh: %v", err)
		}
		check(t, "refuses connections")
	})
}

// TestTunnelResetIsRetried puts a relay in front of the station's pcscd
// that resets some connections as ssh does when sshd finds pcscd's
// backlog full: it closes them with the client's first request unread,
// which pcsc-lite's client library reports as "access was denied because
// of a security violation". The plugin connects again and signs, once;
// a relay that resets every connection gives an error that names the
// socket and says to check the tunnel, within a few seconds, without the
// card ever being asked.
func TestTunnelResetIsRetried(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	config := map[string]string{"card_timeout": stationCardTimeout.String()}

	t.Run("some connections reset", func(t *testing.T) {
		env.Card.ResetStats()
		// The plugin's one connection to pcscd, which lists the readers
		// and opens the card: reset twice, made the third time.
		relay := startResetRelay(t, func(n int) bool { return n == 1 || n == 2 })
		r, took := invokeWithin(t, hangGuard, "generate-envelope", envelopeRequest("9c", config), "NOTATION_PIV_PIN=123456", envSocket+"="+relay.path)
		if r.code != 0 || !verifies(r.stdout) {
			t.Fatalf("exit %d, stderr %q; want an envelope that verifies", r.code, r.stderr)
		}
		if relay.resets() != 2 {
			t.Errorf("the relay reset %d connections, want 2", relay.resets())
		}
		if pins := pinsChecked(env); pins != 1 {
			t.Errorf("the card checked the PIN %d times, want 1", pins)
		}
		t.Logf("signed in %v through %d reset connections", took.Round(time.Millisecond), relay.resets())
	})
	t.Run("every connection reset", func(t *testing.T) {
		env.Card.ResetStats()
		relay := startResetRelay(t, func(int) bool { return true })
		r, took := invokeWithin(t, hangGuard, "generate-envelope", envelopeRequest("9c", config), "NOTATION_PIV_PIN=123456", envSocket+"="+relay.path)
		expectError(t, r, plugin.ErrorCodeGeneric, "the connection to pcscd through the pcscd socket "+relay.path+" ("+envSocket+") was closed from the other end",
			"check the tunnel to the signing station", "and that pcscd runs on the station")
		if took > 5*time.Second {
			t.Errorf("took %v to give up", took)
		}
		if n := env.Card.Stats().Commands; n != 0 {
			t.Errorf("the card got %d commands", n)
		}
		t.Logf("gave up after %v and %d connections", took.Round(time.Millisecond), relay.accepted())
	})
}

// resetRelay is a Unix socket in front of the station's pcscd socket
// that resets the connections reset picks (numbered from 1) and passes
// the others through.
type resetRelay struct {
	path  string
	reset func(n int) bool

	mu              sync.Mutex
	count, resetNum int
}

// startResetRelay starts a resetRelay; it stops when the test ends.
func startResetRelay(t *testing.T, reset func(n int) bool) *resetRelay {
	t.Helper()
	r := &resetRelay{path: runnerSocket(t), reset: reset}
	l, err := net.Listen("unix", r.path)
	must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.count++
			resetIt := r.reset(r.count)
			if resetIt {
				r.resetNum++
			}
			r.mu.Unlock()
			if resetIt {
				go resetAfterRequest(c.(*net.UnixConn))
				continue
			}
			go r.pass(c)
		}
	}()
	return r
}

// resetAfterRequest waits for the client's first bytes, leaves them
// unread and closes the connection: the client then reads ECONNRESET.
func resetAfterRequest(c *net.UnixConn) {
	defer c.Close()
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1)
	raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
		return !errors.Is(err, syscall.EAGAIN)
	})
}

// pass connects c to the station's pcscd.
func (r *resetRelay) pass(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("unix", stationtest.PCSCDSocket)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
}

// resets returns how many connections the relay reset.
func (r *resetRelay) resets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resetNum
}

// accepted returns how many connections the relay accepted.
func (r *resetRelay) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}
