package pemcert

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/inputfile"
)

// certPEM returns a PEM block of a self-signed certificate named name.
func certPEM(name string) []byte {
	return fixtures.PEM(fixtures.SelfSigned(fixtures.Key(name), fixtures.Name(name)))
}

// TestLoad reads PEM files of every shape: the certificates come back in
// the order of the file, and every error names the file and, for a
// block, its number.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	a, b := certPEM("A"), certPEM("B")
	write := func(name string, parts ...[]byte) string {
		p := filepath.Join(dir, name)
		var content []byte
		for _, part := range parts {
			content = append(content, part...)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	two := write("two.pem", []byte("# comment\n"), a, []byte("subject=CN=B\n"), b)
	certs, err := Load(two, 0)
	if err != nil || len(certs) != 2 || certs[0].Subject.CommonName != "A" || certs[1].Subject.CommonName != "B" {
		t.Fatalf("Load of two certificates: %v, %v", certs, err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	for _, tc := range []struct {
		name, path string
		max        int
		want       string
	}{
		{"private key", write("key.pem", a, key), 0, `key.pem: PEM block 2 is a "PRIVATE KEY", not a certificate`},
		{"not DER", write("bad.pem", bad), 0, "bad.pem: certificate 1: x509: "},
		{"damaged", write("damaged.pem", a, b[:len(b)-30]), 0, "damaged.pem: PEM block 2 is damaged"},
		{"empty", write("empty.pem"), 0, "empty.pem holds no PEM certificate"},
		{"one too many", two, 1, "two.pem holds more than one certificate"},
		{"more than two", write("three.pem", a, b, a), 2, "three.pem holds more than 2 certificates"},
	} {
		_, err := Load(tc.path, tc.max)
		if err == nil || !strings.HasPrefix(err.Error(), dir) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming the file and saying %q", tc.name, err, tc.want)
		}
		var tooMany *TooManyError
		if errors.As(err, &tooMany) != (tc.max > 0) {
			t.Errorf("%s: %v is a *TooManyError: %v", tc.name, err, tc.max > 0)
		}
	}
	var notRegular *inputfile.NotRegularError
	if _, err := Load(dir, 0); !errors.As(err, &notRegular) {
		t.Errorf("Load of a directory: %v, want the reader's *NotRegularError", err)
	}
}
