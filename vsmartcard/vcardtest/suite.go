package vcardtest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// shared is the card a test package's tests share, set up by Main.
var shared struct {
	env        *Env
	factory    []byte // the card's state when Main started it
	skipReason string // why env is nil
}

// Main runs the tests of a package that share one virtual card: it starts
// the card (see Start), runs m and closes the card. It returns the exit
// code for os.Exit:
//
//	func TestMain(m *testing.M) {
//		os.Exit(vcardtest.Main(m, vcardtest.Options{Config: card.Config{Serial: 1234}}))
//	}
//
// Under go test -short, Main starts nothing and Fresh skips every test
// that needs the card. When this machine cannot run virtual card tests (a *SkipError from
// Start), the tests still run and Fresh skips each one with the printed
// reason, except under CI=true, where Main fails at once: make test must
// provide pcscd and the vpcd driver.
func Main(m *testing.M, opts Options) int {
	flag.Parse()
	if testing.Short() {
		// The quick tier (go test -short ./...) needs no pcscd: a choice
		// of the one who runs it, so it holds under CI=true too.
		shared.skipReason = "go test -short: this test needs pcscd and the virtual card; run it without -short (make test)"
		return m.Run()
	}
	env, err := Start(opts)
	if err != nil {
		var skip *SkipError
		if errors.As(err, &skip) && os.Getenv("CI") != "true" {
			fmt.Printf("virtual card tests will be skipped: %v\n", err)
			shared.skipReason = err.Error()
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "vcardtest: %v\n", err)
		return 1
	}
	shared.env = env
	if shared.factory, err = env.Card.Snapshot(); err != nil {
		env.Close()
		fmt.Fprintf(os.Stderr, "vcardtest: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := env.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "vcardtest: %v\n", err)
		code = 1
	}
	return code
}

// Fresh returns the card Main started, restored to the state it had then,
// with no faults armed and its counters zeroed. It skips the test when the
// machine cannot run virtual card tests (see Main).
func Fresh(t testing.TB) *Env {
	t.Helper()
	if shared.env == nil {
		reason := shared.skipReason
		if reason == "" {
			reason = "no virtual card: the test package's TestMain must call vcardtest.Main"
		}
		t.Skip(reason)
	}
	c := shared.env.Card
	c.ClearFaults()
	if err := c.Restore(shared.factory); err != nil {
		t.Fatal(err)
	}
	c.ResetStats()
	return shared.env
}

// OpenPIV opens the card Main started with piv-go, retrying for up to 5 s
// while another client still holds it. piv-go cannot open a generic card
// nor one that offers T=0 alone. The handle is closed when the test
// ends; closing it earlier is fine.
func OpenPIV(t testing.TB) *piv.YubiKey {
	t.Helper()
	if shared.env == nil {
		t.Fatal("no virtual card: call vcardtest.Fresh first")
	}
	var yk *piv.YubiKey
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if yk, err = piv.Open(shared.env.Reader); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("open %s with piv-go: %v", shared.env.Reader, err)
	}
	t.Cleanup(func() { yk.Close() })
	return yk
}
