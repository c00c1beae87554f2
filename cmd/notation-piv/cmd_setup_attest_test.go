package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// readBundle reads the attestation bundle at path and checks that it
// holds the slot's attestation certificate, then the card's f9
// certificate, chaining to the virtual card's vendor root, and that it
// attests pub.
func readBundle(t *testing.T, path string, root *x509.Certificate, pub crypto.PublicKey) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("attestation bundle: %v", err)
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil || block.Type != "CERTIFICATE" {
			t.Fatalf("attestation bundle %s: a %s block: %v", path, block.Type, err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		t.Fatalf("attestation bundle %s holds %d certificates, want the slot's and f9", path, len(certs))
	}
	if err := certs[0].CheckSignatureFrom(certs[1]); err != nil {
		t.Errorf("slot attestation not signed by f9: %v", err)
	}
	if err := certs[1].CheckSignatureFrom(root); err != nil {
		t.Errorf("f9 not signed by the vendor root: %v", err)
	}
	if k, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(certs[0].PublicKey) {
		t.Errorf("the bundle attests another key")
	}
}

// TestUserSetupAttestation checks the attestation bundle that setup
// writes: beside the request, beside the certificate, at
// --attestation-out; a link at its path is refused before the card is
// touched; a card that cannot attest gets a warning and no bundle.
func TestUserSetupAttestation(t *testing.T) {
	env := needCard(t)
	root, err := env.Card.AttestationCA()
	must(t, err)
	pin := []string{"NOTATION_PIV_PIN=123456"}
	dir := t.TempDir()

	r := runUser(t, dir, pin, "setup", "--slot", "9d", "--subject", setupSubject, "--csr", filepath.Join(dir, "9d.csr"), serialFlag)
	mustSucceed(t, "setup --csr", r)
	b, err := os.ReadFile(filepath.Join(dir, "9d.csr"))
	must(t, err)
	block, _ := pem.Decode(b)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	must(t, err)
	readBundle(t, filepath.Join(dir, "9d.attestation.pem"), root, csr.PublicKey)
	if !strings.Contains(r.stdout, "takes 9d.attestation.pem with the request") {
		t.Errorf("setup --csr does not say what to do with the bundle:\n%s", r.stdout)
	}

	r = runUser(t, dir, pin, "setup", "--slot", "9a", "--subject", setupSubject, serialFlag)
	mustSucceed(t, "setup", r)
	leaf := readCert(t, filepath.Join(dir, fmt.Sprintf("notation-piv-%d-9a.crt", testSerial)))
	readBundle(t, filepath.Join(dir, fmt.Sprintf("notation-piv-%d-9a.attestation.pem", testSerial)), root, leaf.PublicKey)

	out := filepath.Join(dir, "ca", "bundle.pem")
	must(t, os.Mkdir(filepath.Dir(out), 0o700))
	must(t, os.Symlink(filepath.Join(dir, "target"), out))
	env.Card.ResetStats()
	mustFail(t, "a link at --attestation-out", runUser(t, dir, pin, "setup", "--slot", "9e", "--attestation-out", out, serialFlag),
		"--attestation-out "+out+" is a symbolic link")
	if n := env.Card.Stats().Commands; n != 0 {
		t.Errorf("a refused --attestation-out sent %d commands to the card", n)
	}
	mustFail(t, "--attestation-out and --csr", runUser(t, dir, pin, "setup", "--slot", "9e", "--csr", filepath.Join(dir, "x.pem"), "--attestation-out", filepath.Join(dir, "x.pem"), serialFlag),
		"--csr and --attestation-out both name")
	must(t, os.Remove(out))
	r = runUser(t, dir, pin, "setup", "--slot", "9e", "--subject", setupSubject, "--cert-out", filepath.Join(dir, "9e.crt"), "--attestation-out", out, serialFlag)
	mustSucceed(t, "setup --attestation-out", r)
	readBundle(t, out, root, readCert(t, filepath.Join(dir, "9e.crt")).PublicKey)
	if _, err := os.Lstat(filepath.Join(dir, "9e.attestation.pem")); err == nil {
		t.Error("setup wrote the bundle beside the certificate too")
	}

	env.Card.InjectFault(card.Fault{INS: 0xF9, SW: 0x6D00})
	r = runUser(t, dir, pin, "setup", "--slot", "82", "--subject", setupSubject, "--cert-out", filepath.Join(dir, "82.crt"), serialFlag)
	env.Card.ClearFaults()
	mustSucceed(t, "setup on a card that cannot attest", r)
	if !strings.Contains(r.stderr, "cannot attest keys, so setup wrote no attestation bundle") {
		t.Errorf("no warning for a card that cannot attest:\n%s", r.stderr)
	}
	if _, err := os.Lstat(filepath.Join(dir, "82.attestation.pem")); err == nil {
		t.Error("setup wrote a bundle for a card that cannot attest")
	}
}
