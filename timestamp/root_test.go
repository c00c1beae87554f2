package timestamp_test

import (
	"context"
	"crypto"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/timestamp"
)

func TestLoadRoot(t *testing.T) {
	tsa := timestamptest.Start(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "tsa-root.pem")
	if err := tsa.WriteRoot(good); err != nil {
		t.Fatal(err)
	}
	roots, err := timestamp.LoadRoot(good)
	if err != nil {
		t.Fatalf("LoadRoot: %v", err)
	}
	cfg := timestamp.Config{URL: tsa.URL, Roots: roots}
	sig := signature(t, 32)
	token, err := cfg.Stamp(context.Background(), sig, crypto.SHA256)
	if err != nil {
		t.Fatalf("Stamp with the loaded root: %v", err)
	}
	// The TSA certificate, issued by the root, is no root.
	info, err := timestamp.Verify(token, sig, crypto.SHA256, roots)
	if err != nil {
		t.Fatal(err)
	}
	tsaCert := fixtures.PEM(info.Chain[0])

	// A certificate that names itself as issuer but is signed by another key.
	fake, err := fixtures.Issue(fixtures.CATemplate("fake root"), fixtures.NewKey("EC-256").Public(), nil, fixtures.NewKey("EC-256"))
	if err != nil {
		t.Fatal(err)
	}
	fakeRoot := fixtures.PEM(fake)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "missing.pem"), "no such file or directory"},
		{"directory", dir, "is a directory"},
		{"FIFO", fifo, "is not a regular file (a FIFO)"},
		{"device", "/dev/zero", "is not a regular file (a character device)"},
		{"too large", write("large.pem", append(tsa.RootPEM, make([]byte, 1<<20)...)), "more than the limit of 1048576"},
		{"sparse 64 MiB", sparse(t, dir, 64<<20), "is 67108864 bytes, more than the limit of 1048576"},
		{"empty", write("empty.pem", nil), "holds no PEM certificate"},
		{"DER instead of PEM", write("root.der", tsa.Root.Raw), "holds no PEM certificate"},
		{"two certificates", write("two.pem", append(append([]byte{}, tsa.RootPEM...), tsaCert...)), "holds more than one certificate"},
		{"private key", write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), `PEM block 1 is a "PRIVATE KEY"`},
		{"damaged block", write("damaged.pem", tsa.RootPEM[:len(tsa.RootPEM)-30]), "is damaged"},
		{"bad DER", write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}})), "bad.pem: certificate 1: x509: "},
		{"not self-issued", write("tsa.pem", tsaCert), "so it is no root"},
		{"not self-signed", write("fake.pem", fakeRoot), "is not validly self-signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := timestamp.LoadRoot(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadRoot error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "TSA root certificate") {
				t.Errorf("error %q does not say which file it is about", err)
			}
			if pool != nil {
				t.Error("LoadRoot returned a pool with an error")
			}
		})
	}

	// Text around the block is fine.
	if _, err := timestamp.LoadRoot(write("commented.pem", append([]byte("# TSA root\n"), tsa.RootPEM...))); err != nil {
		t.Errorf("LoadRoot with a comment: %v", err)
	}
}

// sparse creates a sparse file of size bytes, which takes no disk space.
func sparse(t *testing.T, dir string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}
