package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebfe/scard"
	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
)

// racerEnv, set to a reader name, makes the test binary run as racer
// instead of running tests (see runTests).
const racerEnv = "NOTATION_PIV_TEST_RACER"

// racerReport is what the racer prints when its stdin closes.
type racerReport struct {
	// Sessions counts the times the racer got the card.
	Sessions int
	// PINVerified counts sessions in which the card said that the PIN was
	// verified (VERIFY status query answered 9000).
	PINVerified int
	// ProtectedRead counts sessions in which the card let the racer read
	// the PIN-protected object holding the management key.
	ProtectedRead int
	// Error is why the racer stopped early, if it did.
	Error string `json:",omitempty"`
}

// runRacer is another program on the same pcscd that wants the card the
// plugin has just used, as an attacker's would: it asks pcscd for the card
// in reader over and over and, each time it gets it, asks whether the PIN
// is verified and tries to read the PIN-protected data object (5FC109),
// where "management-key set --protect" keeps the management key. It leaves
// the card as it found it (SCARD_LEAVE_CARD), pauses so that the plugin
// gets its turn, and stops when stdin closes.
func runRacer(reader string) int {
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var rep racerReport
	defer func() { json.NewEncoder(os.Stdout).Encode(rep) }()
	ctx, err := scard.EstablishContext()
	if err != nil {
		rep.Error = err.Error()
		return 1
	}
	defer ctx.Release()
	sw := func(c *scard.Card, apdu ...byte) uint16 {
		resp, err := c.Transmit(apdu)
		if err != nil || len(resp) < 2 {
			return 0
		}
		return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
	}
	for {
		select {
		case <-stop:
			return 0
		default:
		}
		c, err := ctx.Connect(reader, scard.ShareExclusive, scard.ProtocolT1)
		if err != nil {
			continue // held by the plugin: ask again at once
		}
		rep.Sessions++
		sw(c, 0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08)
		if sw(c, 0x00, 0x20, 0x00, 0x80, 0x00) == 0x9000 {
			rep.PINVerified++
		}
		if s := sw(c, 0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x09, 0x00); s == 0x9000 || s>>8 == 0x61 {
			rep.ProtectedRead++
		}
		c.Disconnect(scard.LeaveCard)
		time.Sleep(15 * time.Millisecond)
	}
}

// startRacer runs the racer against the virtual card's reader; the
// returned function stops it and returns its report.
func startRacer(t *testing.T, reader string) func() racerReport {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), racerEnv+"="+reader)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	return func() racerReport {
		stdin.Close()
		var rep racerReport
		if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&rep); err != nil {
			t.Fatalf("racer: %v", err)
		}
		cmd.Wait()
		if rep.Error != "" {
			t.Fatalf("racer: %s", rep.Error)
		}
		return rep
	}
}

// TestCardLockedBeforeRelease: while another program keeps asking pcscd
// for the card, the plugin signs 200 times with a key of PIN policy
// "once", and the card commands that verify the PIN or the management key
// run once each: management-key set --protect, cert import, setup and pin
// change. The other program gets the card between them, but never
// finds the PIN verified nor reads the PIN-protected management key: each
// session resets the card on its own connection before releasing it.
func TestCardLockedBeforeRelease(t *testing.T) {
	env := needCard(t)
	yk := openPIV(t)
	pub := generateKey(t, yk, piv.SlotSignature, piv.AlgorithmEC256, piv.PINPolicyOnce)
	// Certified by a CA, so that the key signs nothing (and no PIN is
	// verified) before the test.
	ca := fixtures.Intermediate()
	leaf := certify(t, yk, piv.SlotSignature, pub, ca)
	yk.Close()
	dir := t.TempDir()
	chain := writePEM(t, filepath.Join(dir, "chain.pem"), ca.Chain()...)
	certFile := writePEM(t, filepath.Join(dir, "9c.crt"), leaf)

	stop := startRacer(t, env.Reader)
	pin := []string{"NOTATION_PIV_PIN=123456"}
	const signatures = 200
	for i := range signatures {
		if r := invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"ca_certs": chain}), pin...); r.code != 0 {
			stop()
			t.Fatalf("signature %d: exit %d: %s", i+1, r.code, r.stderr)
		}
	}
	steps := [][]string{
		{"management-key", "set", "--protect", serialFlag},
		{"cert", "import", "--slot", "9c", "--ca-certs", chain, serialFlag, certFile},
		{"setup", "--slot", "9a", "--pin-policy", "once", serialFlag},
		{"pin", "change", serialFlag},
	}
	for _, args := range steps {
		mustSucceed(t, fmt.Sprint(args), runUser(t, dir, append(pin, "NOTATION_PIV_NEW_PIN=24682468"), args...))
	}
	rep := stop()
	t.Logf("the racer got the card %d times during %d signatures and %d card commands", rep.Sessions, signatures, len(steps))
	if rep.PINVerified != 0 || rep.ProtectedRead != 0 {
		t.Errorf("another program found the PIN verified %d times and read the PIN-protected management key %d times", rep.PINVerified, rep.ProtectedRead)
	}
	if rep.Sessions < signatures/2 {
		t.Errorf("the racer got the card only %d times: it did not race", rep.Sessions)
	}
}
