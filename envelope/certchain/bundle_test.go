package certchain

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/fixtures"
)

func writePEM(t *testing.T, blocks ...*pem.Block) string {
	t.Helper()
	var b bytes.Buffer
	for _, blk := range blocks {
		pem.Encode(&b, blk)
	}
	p := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func certBlock(tc *testCert) *pem.Block {
	return &pem.Block{Type: "CERTIFICATE", Bytes: tc.cert.Raw}
}

func blocks(tcs []*testCert) []*pem.Block {
	var out []*pem.Block
	for _, tc := range tcs {
		out = append(out, certBlock(tc))
	}
	return out
}

// ladder returns n intermediate CAs below root, each issued by the next:
// the bottom one first.
func ladder(t *testing.T, root *testCert, n int) []*testCert {
	t.Helper()
	out := make([]*testCert, n)
	parent := root
	for i := n - 1; i >= 0; i-- {
		out[i] = newCA(t, fmt.Sprintf("Ladder %d below %s", i, root.cert.Subject.CommonName), parent)
		parent = out[i]
	}
	return out
}

func TestLoadBundle(t *testing.T) {
	root := newCA(t, "Bundle Root", nil)
	inter := newCA(t, "Bundle Intermediate", root)

	t.Run("ok", func(t *testing.T) {
		p := writePEM(t, certBlock(inter), certBlock(root))
		// Text between blocks, as openssl writes it, is fine.
		b, _ := os.ReadFile(p)
		os.WriteFile(p, append([]byte("subject=CN=Bundle Intermediate\n"), b...), 0o644)
		certs, err := LoadBundle(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 2 || !certs[0].Equal(inter.cert) || !certs[1].Equal(root.cert) {
			t.Errorf("got %d certificates, want intermediate and root in order", len(certs))
		}
	})

	nine := append(ladder(t, root, 8), root) // 8 intermediates and the root, bottom first
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr string
	}{
		{"private key block", func(t *testing.T) string {
			return writePEM(t, certBlock(inter), &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
		}, `PEM block 2 is a "PRIVATE KEY"`},
		{"ten certificates", func(t *testing.T) string {
			return writePEM(t, blocks(append(ladder(t, root, 9), root))...)
		}, "more than 9 certificates, and a chain may hold at most 10"},
		{"nine certificates", func(t *testing.T) string { return writePEM(t, blocks(nine)...) }, ""},
		{"no certificate", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "empty.pem")
			os.WriteFile(p, []byte("nothing here\n"), 0o644)
			return p
		}, "holds no PEM certificate"},
		{"truncated block", func(t *testing.T) string {
			p := writePEM(t, certBlock(inter), certBlock(root))
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-40], 0o644)
			return p
		}, "PEM block 2 is damaged"},
		{"bad certificate", func(t *testing.T) string {
			return writePEM(t, &pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
		}, "certificate 1:"},
		{"larger than 1 MiB", func(t *testing.T) string {
			p := writePEM(t, certBlock(root))
			f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(bytes.Repeat([]byte("\n"), 1<<20))
			f.Close()
			return p
		}, "more than the limit of 1048576"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "is a directory"},
		{"FIFO", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is not a regular file (a FIFO)"},
		{"device", func(t *testing.T) string { return "/dev/zero" }, "is not a regular file (a character device)"},
		{"sparse 64 MiB", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "sparse.pem")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, 64<<20); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is 67108864 bytes, more than the limit of 1048576"},
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.pem") }, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			p := tt.path(t)
			go func() {
				_, err := LoadBundle(p)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("LoadBundle hangs")
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("LoadBundle: %v", err)
			case tt.wantErr == "":
			case err == nil:
				t.Fatalf("LoadBundle succeeded, want error containing %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadBundleOrder checks that LoadBundle puts the certificates
// of one chain in order, whatever their order in the file, and refuses a
// bundle that is not one chain up to a self-signed root, naming the
// certificates that do not fit.
func TestLoadBundleOrder(t *testing.T) {
	root := newCA(t, "Order Root", nil)
	inter := newCA(t, "Order Intermediate", root)
	lower := newCA(t, "Order Lower Intermediate", inter)
	sibling := newCA(t, "Order Sibling Intermediate", root)
	otherRoot := newCA(t, "Other Root", nil)
	otherInter := newCA(t, "Other Intermediate", otherRoot)
	// An impostor root: the name of the real root, another key.
	impostor := newCA(t, "Order Root", nil)
	// A second certificate of the root's key and name: both issued inter.
	rekeyed := &testCert{cert: reissue(t, root), key: root.key}
	// Two CAs that issued each other, and no root.
	loopA, loopB := loop(t)
	ladder8 := ladder(t, root, 8)

	tests := []struct {
		name    string
		file    []*testCert
		want    []*testCert // the order expected; nil: an error
		wantErr []string
	}{
		{"in order", []*testCert{lower, inter, root}, []*testCert{lower, inter, root}, nil},
		{"root first", []*testCert{root, inter, lower}, []*testCert{lower, inter, root}, nil},
		{"shuffled", []*testCert{inter, root, lower}, []*testCert{lower, inter, root}, nil},
		{"root alone", []*testCert{root}, []*testCert{root}, nil},
		{"nine reversed", append([]*testCert{root}, reverse(ladder8)...), append(ladder8, root), nil},
		{"unrelated root", []*testCert{inter, root, otherRoot}, nil,
			[]string{"2 separate chains", `["CN=Order Intermediate" → "CN=Order Root"] and ["CN=Other Root"]`, "remove the certificates that do not belong"}},
		{"unrelated intermediate", []*testCert{otherInter, inter, root}, nil,
			[]string{"2 separate chains", `["CN=Other Intermediate"]`}},
		{"no root", []*testCert{lower, inter}, nil,
			[]string{`ends with certificate "CN=Order Intermediate", which is not a self-signed root: add its issuer "CN=Order Root"`}},
		{"twice", []*testCert{inter, root, inter}, nil,
			[]string{`holds certificate "CN=Order Intermediate" twice, as certificates 1 and 3: remove the copy`}},
		{"branch", []*testCert{inter, sibling, root}, nil,
			[]string{`certificate "CN=Order Root" issued both certificate "CN=Order Intermediate" and certificate "CN=Order Sibling Intermediate"`}},
		{"impostor root", []*testCert{inter, impostor}, nil,
			[]string{`certificate "CN=Order Intermediate" names certificate "CN=Order Root" as its issuer, but that certificate did not sign it`}},
		{"two certificates of the issuer", []*testCert{inter, root, rekeyed}, nil,
			[]string{`two certificates that issued certificate "CN=Order Intermediate": certificates 2 and 3`}},
		{"loop", []*testCert{loopA, loopB}, nil, []string{"issued each other in a loop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writePEM(t, blocks(tt.file)...)
			got, err := LoadBundle(p)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("LoadBundle succeeded, want an error with %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\ndoes not contain %q", err, w)
					}
				}
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadBundle: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d certificates, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !got[i].Equal(tt.want[i].cert) {
					t.Errorf("certificate %d is %q, want %q", i, got[i].Subject, tt.want[i].cert.Subject)
				}
			}
		})
	}
	// What LoadBundle returns, Build accepts as it is.
	leaf := newLeaf(t, "Order Leaf", lower, nil)
	bundle, err := LoadBundle(writePEM(t, certBlock(root), certBlock(lower), certBlock(inter)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(leaf.cert, bundle, time.Now()); err != nil {
		t.Errorf("Build of a reordered bundle: %v", err)
	}
}

func reverse(tcs []*testCert) []*testCert {
	out := make([]*testCert, len(tcs))
	for i, tc := range tcs {
		out[len(tcs)-1-i] = tc
	}
	return out
}

// reissue returns another self-signed certificate of a root's name and
// key, with a new serial number.
func reissue(t *testing.T, root *testCert) *x509.Certificate {
	t.Helper()
	tmpl := *root.cert
	cert, err := fixtures.Issue(&tmpl, root.key.Public(), nil, root.key)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// loop returns two CA certificates that issued each other.
func loop(t *testing.T) (*testCert, *testCert) {
	t.Helper()
	keyA, keyB := fixtures.NewKey("EC-256"), fixtures.NewKey("EC-256")
	a, b := fixtures.CATemplate("Loop A"), fixtures.CATemplate("Loop B")
	mk := func(subj, parent *x509.Certificate, key, issuerKey crypto.Signer) *testCert {
		cert, err := fixtures.Issue(subj, key.Public(), parent, issuerKey)
		if err != nil {
			t.Fatal(err)
		}
		return &testCert{cert: cert, key: key}
	}
	return mk(a, b, keyA, keyB), mk(b, a, keyB, keyA)
}
