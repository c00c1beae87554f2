package integration

import (
	"os"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// testSerial is the serial number of the virtual card under test.
const testSerial = 13572468

// env is the virtual card in pcscd, set by freshCard.
var env *vcardtest.Env

func TestMain(m *testing.M) {
	os.Exit(vcardtest.Main(m, vcardtest.Options{Config: card.Config{Serial: testSerial}}))
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
	env = vcardtest.Fresh(t)
}

// openCard resets the card to factory state and opens it with piv-go; the
// handle is closed when the test ends.
func openCard(t *testing.T) *piv.YubiKey {
	t.Helper()
	freshCard(t)
	return vcardtest.OpenPIV(t)
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
	return vcardtest.OpenPIV(t)
}
