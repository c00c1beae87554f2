package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
)

// testVersion is the version the tests run the commands with.
const testVersion = "0.1.0"

// registerFormats registers the envelope formats, as main does.
var registerFormats = sync.OnceFunc(func() {
	envelope.Register(jws.Format{})
	envelope.Register(cose.Format{})
})

// result is what a command printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs "notation-piv ARGS" in-process with stdin.
func runCLI(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	registerFormats()
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), testVersion, args, bytes.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

// runEnv runs "notation-piv envelope ARGS" in-process with stdin.
func runEnv(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return runCLI(t, stdin, append([]string{"envelope"}, args...)...)
}

// mustFail checks that r failed with exit status 1 and an error message on
// stderr that holds every fragment.
func mustFail(t *testing.T, what string, r result, fragments ...string) {
	t.Helper()
	if r.code != 1 || !strings.HasPrefix(r.stderr, "notation-piv: error: ") {
		t.Fatalf("%s: exit %d, want 1 with an error\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stderr, f) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, f, r.stderr)
		}
	}
}

// expectFailure checks that a command failed with exit status 1 and an
// error message naming each fragment.
func expectFailure(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if r.code != 1 || !strings.HasPrefix(r.stderr, "notation-piv: error: ") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and an error", r.code, r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stderr+r.stdout, f) {
			t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", f, r.stdout, r.stderr)
		}
	}
}

// writeFile writes b to a new file in dir.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePEM writes certificates to a PEM file in dir.
func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return writeFile(t, dir, name, b)
}

// notationEnvelope returns an envelope notation v1.3.2 made, "jws.sig"
// or "cose.sig".
func notationEnvelope(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "envelope", "testdata", "notation-v1.3.2", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUserHelp(t *testing.T) {
	for _, args := range [][]string{
		{"list", "--help"}, {"setup", "--help"}, {"cert", "--help"}, {"cert", "import", "--help"}, {"cert", "export", "--help"},
		{"pin", "--help"}, {"pin", "change", "--help"}, {"pin", "unblock", "--help"}, {"puk", "change", "--help"},
		{"management-key", "--help"}, {"management-key", "set", "--help"}, {"reset", "--help"},
	} {
		r := runCLI(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage") || r.stderr != "" {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLI(t, nil, "--help")
	for name, c := range commands {
		if !strings.Contains(r.stdout, "notation-piv "+name) || !strings.Contains(r.stdout, c.summary) {
			t.Errorf("--help does not list %s", name)
		}
	}
	mustFail(t, "pin", runCLI(t, nil, "pin"), "needs a subcommand", "notation-piv pin --help")
	mustFail(t, "unknown flag", runCLI(t, nil, "list", "--jsn"), "-jsn", `"notation-piv list --help"`)
	mustFail(t, "extra argument", runCLI(t, nil, "reset", "now"), "takes no arguments")
}
