package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// These tests drive the virtual card with PIV clients no one here wrote:
// yubico-piv-tool, OpenSC's PKCS#11 module through pkcs11-tool, and openssl
// to check every signature.

// tool runs a command and fails the test with its output if it fails.
func tool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, name+" is not installed (make deps installs it)")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ypt runs yubico-piv-tool against the virtual card's reader.
func ypt(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return tool(t, dir, "yubico-piv-tool", append([]string{"-r", env.Reader}, args...)...)
}

// pkcs11Module finds OpenSC's PKCS#11 module.
func pkcs11Module(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/*/opensc-pkcs11.so")
	if len(matches) == 0 {
		skipOrFail(t, "opensc-pkcs11.so not found (make deps installs opensc)")
	}
	return matches[0]
}

// writeCA makes a test CA with openssl.
func writeCA(t *testing.T, dir string) {
	t.Helper()
	tool(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=tools test CA", "-days", "2")
}

// generateWithYPT generates a key with yubico-piv-tool and imports an
// openssl-made certificate for it.
func generateWithYPT(t *testing.T, dir, slot, alg string) {
	t.Helper()
	ypt(t, dir, "-a", "generate", "-s", slot, "-A", alg, "--pin-policy=once", "-o", slot+".pub")
	tool(t, dir, "openssl", "x509", "-new", "-subj", "/CN=ypt "+slot, "-force_pubkey", slot+".pub",
		"-CA", "ca.crt", "-CAkey", "ca.key", "-days", "2", "-out", slot+".crt")
	ypt(t, dir, "-a", "import-certificate", "-s", slot, "-i", slot+".crt")
}

func TestYubicoPIVTool(t *testing.T) {
	freshCard(t)
	dir := t.TempDir()
	status := ypt(t, dir, "-a", "status")
	for _, want := range []string{"Version:\t5.7.1", "Serial Number:\t" + strconv.Itoa(int(testSerial)), "PIN tries left:\t3"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	writeCA(t, dir)
	for _, kc := range []struct{ slot, alg string }{{"9a", "ECCP256"}, {"9d", "ECCP384"}, {"9e", "RSA2048"}} {
		generateWithYPT(t, dir, kc.slot, kc.alg)
		out := ypt(t, dir, "-a", "verify-pin", "-P", "123456", "-a", "test-signature", "-s", kc.slot, "-i", kc.slot+".crt")
		if !strings.Contains(out, "Successful") {
			t.Errorf("test-signature in %s:\n%s", kc.slot, out)
		}
	}
	status = ypt(t, dir, "-a", "status")
	if !strings.Contains(status, "Slot 9a:") || !strings.Contains(status, "CN=ypt 9a") {
		t.Errorf("status does not show the imported certificate:\n%s", status)
	}
	// A wrong PIN is refused and costs one retry.
	cmd := exec.Command("yubico-piv-tool", "-r", env.Reader, "-a", "verify-pin", "-P", "999999")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("wrong PIN accepted:\n%s", out)
	}
	if status := ypt(t, dir, "-a", "status"); !strings.Contains(status, "PIN tries left:\t2") {
		t.Errorf("wrong PIN did not cost exactly one retry:\n%s", status)
	}
}

func TestOpenSCPKCS11(t *testing.T) {
	freshCard(t)
	dir := t.TempDir()
	module := pkcs11Module(t)
	writeCA(t, dir)
	generateWithYPT(t, dir, "9a", "ECCP256")
	generateWithYPT(t, dir, "9c", "RSA2048")
	if err := os.WriteFile(filepath.Join(dir, "msg"), []byte("signed through OpenSC\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	objects := tool(t, dir, "pkcs11-tool", "--module", module, "--list-objects")
	for _, want := range []string{"CN=ypt 9a", "CN=ypt 9c", "PIV AUTH pubkey", "SIGN pubkey"} {
		if !strings.Contains(objects, want) {
			t.Errorf("object list lacks %q:\n%s", want, objects)
		}
	}

	p11 := func(args ...string) {
		t.Helper()
		tool(t, dir, "pkcs11-tool", append([]string{"--module", module, "--login", "--pin", "123456", "--sign", "-i", "msg", "-o", "sig"}, args...)...)
	}
	// ECDSA with the 9A key (id 01).
	p11("--id", "01", "-m", "ECDSA-SHA256", "--signature-format", "openssl")
	tool(t, dir, "openssl", "dgst", "-sha256", "-verify", "9a.pub", "-signature", "sig", "msg")
	// RSA PKCS#1 v1.5 and PSS with the 9C key (id 02).
	p11("--id", "02", "-m", "SHA256-RSA-PKCS")
	tool(t, dir, "openssl", "dgst", "-sha256", "-verify", "9c.pub", "-signature", "sig", "msg")
	p11("--id", "02", "-m", "SHA256-RSA-PKCS-PSS", "--salt-len", "32")
	tool(t, dir, "openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
		"-verify", "9c.pub", "-signature", "sig", "msg")

	// openssl refuses a signature over other data: the checks above can fail.
	if err := os.WriteFile(filepath.Join(dir, "msg"), []byte("tampered\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-verify", "9c.pub", "-signature", "sig", "msg")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("openssl verified a signature over tampered data:\n%s", out)
	}
}
