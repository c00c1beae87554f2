package main

import (
	"flag"
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
const testVersion = "0.2.0"

// harness holds the binaries the tests run: the plugin and the pinned
// notation CLI v1.3.2 ("" under go test -short).
var harness struct {
	plugin   string
	notation string
}

func TestMain(m *testing.M) {
	if reader := os.Getenv(racerEnv); reader != "" {
		os.Exit(runRacer(reader))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse() // for testing.Short
	dir, err := os.MkdirTemp("", "notation-piv-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	harness.plugin = filepath.Join(dir, "notation-piv")
	if !testing.Short() {
		// go test -short leaves it "": tests that drive notation skip.
		harness.notation = filepath.Join(dir, "notation")
	}
	if err := buildBinaries(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return vcardtest.Main(m, vcardtest.Options{Config: card.Config{Serial: testSerial}})
}

// buildBinaries builds the plugin and, unless go test -short, the pinned
// notation CLI v1.3.2.
func buildBinaries() error {
	build := exec.Command("go", "build", "-o", harness.plugin, "-ldflags", "-X main.version="+testVersion, ".")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build notation-piv: %v\n%s", err, out)
	}
	if harness.notation == "" {
		return nil
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

// needCard returns the virtual card restored to factory state, or skips
// the test where the machine cannot run card tests (never under CI).
func needCard(t testing.TB) *vcardtest.Env {
	t.Helper()
	return vcardtest.Fresh(t)
}
