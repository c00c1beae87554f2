package piv

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBuildChain(t *testing.T) {
	now := time.Now()
	root := newCA(t, "Test Root", nil)
	inter := newCA(t, "Test Intermediate", root)
	leaf := newLeaf(t, "Test Leaf", inter, nil)
	rootLeaf := newLeaf(t, "Leaf Under Root", root, nil)
	selfSignedLeaf := newLeaf(t, "Self-Signed Leaf", nil, nil)
	otherRoot := newCA(t, "Other Root", nil)
	expiredInter := newCA(t, "Expired Intermediate", root, validity(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	leafOfExpired := newLeaf(t, "Leaf Of Expired", expiredInter, nil, validity(now.Add(-30*time.Hour), now.Add(24*time.Hour)))
	noCriticalKU := newLeaf(t, "Leaf Without Critical KU", inter, nil, nonCriticalKeyUsage)
	selfSignedCA := newCA(t, "Self-Signed CA Leaf", nil)

	certs := func(tcs ...*testCert) []*x509.Certificate {
		var out []*x509.Certificate
		for _, tc := range tcs {
			out = append(out, tc.cert)
		}
		return out
	}
	tests := []struct {
		name    string
		leaf    *testCert
		bundle  []*x509.Certificate
		at      time.Time
		wantErr string // substring; "" means success
	}{
		{"self-signed leaf", selfSignedLeaf, nil, now, ""},
		{"leaf, intermediate, root", leaf, certs(inter, root), now, ""},
		{"leaf, root", rootLeaf, certs(root), now, ""},
		{"self-signed leaf with a bundle", selfSignedLeaf, certs(root), now, `"CN=Self-Signed Leaf" is self-signed, so it needs no CA bundle`},
		{"issued leaf without bundle", leaf, nil, now, `"CN=Test Leaf" is not self-signed and no CA bundle completes its chain`},
		{"wrong order", leaf, certs(root, inter), now, `"CN=Test Leaf" is issued by "CN=Test Intermediate", not by "CN=Test Root"`},
		{"unrelated certificate", leaf, certs(inter, otherRoot), now, `"CN=Test Intermediate" is issued by "CN=Test Root", not by "CN=Other Root"`},
		{"unrelated certificate in between", leaf, certs(inter, otherRoot, root), now, `not by "CN=Other Root"`},
		{"missing root", leaf, certs(inter), now, `ends with "CN=Test Intermediate", which is not a self-signed root`},
		{"extra certificate after the root", rootLeaf, certs(root, otherRoot), now, `after the root "CN=Test Root"`},
		{"leaf without critical key usage", noCriticalKU, certs(inter, root), now, "key usage extension must be marked critical"},
		{"expired intermediate", leafOfExpired, certs(expiredInter, root), now, `"CN=Expired Intermediate" is not valid at the signing time`},
		{"signing time after expiry", leaf, certs(inter, root), now.Add(48 * time.Hour), `"CN=Test Leaf" is not valid at the signing time`},
		{"signing time before validity", leaf, certs(inter, root), now.Add(-48 * time.Hour), "is not valid at the signing time"},
		{"CA certificate as self-signed leaf", selfSignedCA, nil, now, "does not meet the Notary Project certificate requirements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := BuildChain(tt.leaf.cert, tt.bundle, tt.at)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("BuildChain: %v", err)
				}
				want := append([]*x509.Certificate{tt.leaf.cert}, tt.bundle...)
				if len(chain) != len(want) {
					t.Fatalf("chain has %d certificates, want %d", len(chain), len(want))
				}
				for i := range want {
					if !chain[i].Equal(want[i]) {
						t.Errorf("chain[%d] = %q, want %q", i, chain[i].Subject, want[i].Subject)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("BuildChain succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
		})
	}
}

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

func TestLoadPEMBundle(t *testing.T) {
	root := newCA(t, "Bundle Root", nil)
	inter := newCA(t, "Bundle Intermediate", root)

	t.Run("ok", func(t *testing.T) {
		p := writePEM(t, certBlock(inter), certBlock(root))
		// Text between blocks, as openssl writes it, is fine.
		b, _ := os.ReadFile(p)
		os.WriteFile(p, append([]byte("subject=CN=Bundle Intermediate\n"), b...), 0o644)
		certs, err := LoadPEMBundle(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 2 || !certs[0].Equal(inter.cert) || !certs[1].Equal(root.cert) {
			t.Errorf("got %d certificates, want intermediate and root in order", len(certs))
		}
	})

	tooMany := make([]*pem.Block, 11)
	for i := range tooMany {
		tooMany[i] = certBlock(root)
	}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr string
	}{
		{"private key block", func(t *testing.T) string {
			return writePEM(t, certBlock(inter), &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
		}, `PEM block 2 is a "PRIVATE KEY"`},
		{"eleven certificates", func(t *testing.T) string { return writePEM(t, tooMany...) }, "more than 10 certificates"},
		{"ten certificates", func(t *testing.T) string { return writePEM(t, tooMany[:10]...) }, ""},
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
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.pem") }, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			p := tt.path(t)
			go func() {
				_, err := LoadPEMBundle(p)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("LoadPEMBundle hangs")
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("LoadPEMBundle: %v", err)
			case tt.wantErr == "":
			case err == nil:
				t.Fatalf("LoadPEMBundle succeeded, want error containing %q", tt.wantErr)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
		})
	}
}
