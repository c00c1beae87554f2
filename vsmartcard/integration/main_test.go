package integration

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// testSerial is the serial number of the virtual card under test.
const testSerial = 13572468

// env is the running pcscd and virtual card shared by the tests.
var env struct {
	*vcardtest.Env
	AttestationCA *x509.Certificate
	factory       []byte // the card's factory-state snapshot
	skipReason    string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	e, err := vcardtest.Start(vcardtest.Options{Config: card.Config{Serial: testSerial}})
	if err != nil {
		var skip *vcardtest.SkipError
		if errors.As(err, &skip) && os.Getenv("CI") != "true" {
			fmt.Printf("integration tests skipped: %v\n", err)
			env.skipReason = err.Error()
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer e.Close()
	env.Env = e
	if env.AttestationCA, err = e.Card.AttestationCA(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	if env.factory, err = e.Card.Snapshot(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	return m.Run()
}

// skipOrFail skips a test whose real parts are missing, with the reason,
// but fails it under CI, where make test must have installed them.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: make test must provide it)", reason)
	}
	t.Skip(reason)
}

// freshCard restores the card to factory state and clears its counters and
// faults.
func freshCard(t *testing.T) {
	t.Helper()
	if env.Env == nil {
		skipOrFail(t, env.skipReason)
	}
	env.Card.ClearFaults()
	if err := env.Card.Restore(env.factory); err != nil {
		t.Fatal(err)
	}
	env.Card.ResetStats()
}

// openCard resets the card to factory state and opens it with piv-go; the
// handle is closed when the test ends.
func openCard(t *testing.T) *piv.YubiKey {
	t.Helper()
	freshCard(t)
	return openPIV(t)
}

func openPIV(t *testing.T) *piv.YubiKey {
	t.Helper()
	var yk *piv.YubiKey
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if yk, err = piv.Open(env.Reader); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("open %s: %v", env.Reader, err)
	}
	t.Cleanup(func() { yk.Close() })
	return yk
}

// reinsert closes yk, pulls the card out of the reader and puts it back, so
// that it powers up with no PIN or management key verified, and opens it
// again.
func reinsert(t *testing.T, yk *piv.YubiKey) *piv.YubiKey {
	t.Helper()
	yk.Close()
	if err := env.Reinsert(); err != nil {
		t.Fatalf("reinsert: %v", err)
	}
	return openPIV(t)
}
