package piv

import (
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// testSerial is the serial number of the virtual card.
const testSerial = 24681357

// env is the virtual card in pcscd, set by freshCard.
var env *vcardtest.Env

func TestMain(m *testing.M) {
	os.Exit(vcardtest.Main(m, vcardtest.Options{Config: card.Config{Serial: testSerial}}))
}

// freshCard restores the virtual card to factory state (no keys, default
// PIN with 3 retries) and clears its faults and counters.
func freshCard(t *testing.T) {
	t.Helper()
	env = vcardtest.Fresh(t)
}

// retry calls f until it succeeds or 5 s pass: a Card closed in the
// background (after a timeout) or pcscd's handling of the last close can
// keep the card busy for a moment.
func retry[T any](t *testing.T, what string, f func() (T, error)) T {
	t.Helper()
	var (
		v   T
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if v, err = f(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// withPIVGo opens the virtual card with piv-go directly, for setup and
// checks that bypass this package, and closes it when f returns.
func withPIVGo(t *testing.T, f func(yk *piv.YubiKey)) {
	t.Helper()
	yk := vcardtest.OpenPIV(t)
	defer yk.Close()
	f(yk)
}

// provision generates a key in slot on the card and stores a certificate
// for it, issued by a new test CA. It returns the certificate and the CA.
func provision(t *testing.T, slot piv.Slot, key piv.Key) (leaf *x509.Certificate, ca *fixtures.CA) {
	t.Helper()
	ca = fixtures.NewRoot("Test CA " + t.Name())
	withPIVGo(t, func(yk *piv.YubiKey) {
		pub, err := yk.GenerateKey(piv.DefaultManagementKey, slot, key)
		if err != nil {
			t.Fatalf("generate key in slot %s: %v", slot, err)
		}
		leaf = ca.Issue(pub, fixtures.Name("Test Leaf "+t.Name()))
		if err := yk.SetCertificate(piv.DefaultManagementKey, slot, leaf); err != nil {
			t.Fatalf("store certificate in slot %s: %v", slot, err)
		}
	})
	return leaf, ca
}

// openTest opens the virtual card with Open and closes it when the test
// ends.
func openTest(t *testing.T, sel Selector) *Card {
	t.Helper()
	c := retry(t, "Open", func() (*Card, error) { return Open(context.Background(), sel) })
	t.Cleanup(func() { c.Close() })
	return c
}

// openSlot opens the virtual card with openTest and reads the
// certificate in the slot named id.
func openSlot(t *testing.T, sel Selector, id string) (*Card, Slot, *x509.Certificate) {
	t.Helper()
	c := openTest(t, sel)
	slot := mustSlot(t, id)
	cert, err := c.Certificate(context.Background(), slot)
	if err != nil {
		t.Fatal(err)
	}
	return c, slot, cert
}

// pinRetries returns the PIN retries left on the card, read with piv-go.
func pinRetries(t *testing.T) int {
	t.Helper()
	var n int
	withPIVGo(t, func(yk *piv.YubiKey) {
		var err error
		if n, err = yk.Retries(); err != nil {
			t.Fatalf("read PIN retries: %v", err)
		}
	})
	return n
}

// countingPIN is a PIN source that counts its calls and checks the
// requests it gets.
type countingPIN struct {
	pin   string
	calls int
	reqs  []PINRequest
}

func (c *countingPIN) source(req PINRequest) ([]byte, error) {
	c.calls++
	c.reqs = append(c.reqs, req)
	return []byte(c.pin), nil
}

// commands counts the card's commands with the given name since the last
// ResetStats; with dataOnly, only those that carry data (a VERIFY with a
// PIN, not a status query).
func commands(name string, dataOnly bool) int {
	n := 0
	for _, e := range env.Card.Stats().Log {
		if e.Name == name && (!dataOnly || e.DataLen > 0) {
			n++
		}
	}
	return n
}
