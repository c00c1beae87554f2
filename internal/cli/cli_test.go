package cli

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
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
	return writeFile(t, dir, name, fixtures.PEM(certs...))
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
	for _, tc := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"pin"}, []string{"needs a subcommand", "notation-piv pin --help"}},
		{[]string{"list", "--jsn"}, []string{"-jsn", `"notation-piv list --help"`}},
		{[]string{"reset", "now"}, []string{"takes no arguments"}},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.stdout != "" {
			t.Errorf("%v: stdout %q, want the error on stderr alone", tc.args, r.stdout)
		}
		expectFailure(t, r, tc.fragments...)
	}
}
