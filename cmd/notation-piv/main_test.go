package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// testSerial is the serial number of the virtual card under test.
const testSerial = 24680246

// testVersion is the plugin version the tests build in.
const testVersion = "0.1.0"

// harness is what the tests share: the plugin and notation binaries, and
// the virtual card in pcscd.
var harness struct {
	bin        string // directory with notation-piv and notation
	plugin     string
	notation   string
	card       *vcardtest.Env // nil when the machine cannot run card tests
	factory    []byte
	skipReason string
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "notation-piv-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	harness.bin = dir
	harness.plugin = filepath.Join(dir, "notation-piv")
	harness.notation = filepath.Join(dir, "notation")
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	e, err := vcardtest.Start(vcardtest.Options{Config: card.Config{Serial: testSerial}})
	if err != nil {
		var skip *vcardtest.SkipError
		if !errors.As(err, &skip) || os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "notation-piv tests: %v\n", err)
			return 1
		}
		fmt.Printf("card tests skipped: %v\n", err)
		harness.skipReason = err.Error()
		return m.Run()
	}
	defer e.Close()
	harness.card = e
	if harness.factory, err = e.Card.Snapshot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildBinaries builds the plugin and the pinned notation CLI v1.3.2.
func buildBinaries(dir string) error {
	build := exec.Command("go", "build", "-o", harness.plugin, "-ldflags", "-X main.version="+testVersion, ".")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build notation-piv: %v\n%s", err, out)
	}
	build = exec.Command("go", "build", "-o", harness.notation, "-ldflags",
		"-X github.com/notaryproject/notation/internal/version.GitCommit=001cc919603c1dc16c6aad387c94b4209cb9c901 -X github.com/notaryproject/notation/internal/version.BuildMetadata=",
		"github.com/notaryproject/notation/cmd/notation")
	build.Dir = filepath.Join("..", "..", ".ci", "tools", "notation")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build notation v1.3.2: %v\n%s", err, out)
	}
	return nil
}

// needCard skips a test that needs the virtual card when the machine has
// no pcscd, except under CI, where it fails; and restores the card to
// factory state.
func needCard(t *testing.T) *vcardtest.Env {
	t.Helper()
	if harness.card == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: make test must provide pcscd)", harness.skipReason)
		}
		t.Skip(harness.skipReason)
	}
	harness.card.Card.ClearFaults()
	if err := harness.card.Card.Restore(harness.factory); err != nil {
		t.Fatal(err)
	}
	harness.card.Card.ResetStats()
	return harness.card
}
