package main

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

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// setupSubject is the subject the setup tests give their certificates.
const setupSubject = "C=US, ST=WA, O=Notation E2E, CN=piv setup"

// shellWords splits a command line printed by setup, which quotes words
// with single quotes only where needed.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// printedCommands returns the command lines in setup's output that start
// with prefix.
func printedCommands(t *testing.T, out, prefix string) [][]string {
	t.Helper()
	var cmds [][]string
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, prefix) {
			cmds = append(cmds, shellWords(t, line))
		}
	}
	return cmds
}

// printedPolicy returns the trust policy document in setup's output: the
// lines from "{" to "}".
func printedPolicy(t *testing.T, out string) string {
	t.Helper()
	start := strings.Index(out, "\n{\n")
	end := strings.Index(out, "\n}\n")
	if start < 0 || end < start {
		t.Fatalf("no trust policy in:\n%s", out)
	}
	return out[start+1 : end+2]
}

// TestUserSetupToSignature runs setup on a reset card, then the notation
// commands it prints, verbatim, then notation sign and verify.
func TestUserSetupToSignature(t *testing.T) {
	for _, alg := range []string{"EC-256", "RSA-2048"} {
		t.Run(alg, func(t *testing.T) {
			env := needCard(t)
			mustSucceed(t, "reset", runUser(t, "", nil, "reset", "--yes", serialFlag))
			n := newNotation(t)
			r := runUser(t, n.dir, []string{"NOTATION_PIV_PIN=123456"}, "setup", "--algorithm", alg, "--subject", setupSubject, serialFlag)
			mustSucceed(t, "setup", r)
			t.Logf("setup output:\n%s%s", r.stdout, r.stderr)
			if n := readCardState(t, env).PINRetries; n != 3 {
				t.Errorf("setup left %d PIN retries", n)
			}
			keyAdd := printedCommands(t, r.stdout, "notation key add")
			certAdd := printedCommands(t, r.stdout, "notation cert add")
			if len(keyAdd) != 1 || len(certAdd) != 1 {
				t.Fatalf("setup printed %d key add and %d cert add lines", len(keyAdd), len(certAdd))
			}
			n.run(keyAdd[0][1:]...)
			n.run(certAdd[0][1:]...)
			policy := filepath.Join(n.dir, "trustpolicy.json")
			must(t, os.WriteFile(policy, []byte(printedPolicy(t, r.stdout)), 0o600))
			n.run("policy", "import", "--force", policy)
			layout := newLayout(t, "artifact signed after setup "+alg)
			keyName := keyAdd[0][3]
			n.run("sign", "--oci-layout", "--key", keyName, layout.ref())
			out := n.verify(layout)
			t.Logf("notation verify: %s", out)
			for _, sig := range layout.signatures(t) {
				content := envelopeContent(t, "jws", sig)
				if s := content.SignerInfo.CertificateChain[0].Subject.String(); s != "CN=piv setup,O=Notation E2E,ST=WA,C=US" {
					t.Errorf("signed with the certificate of %q", s)
				}
			}

			// The certificate setup wrote is the one on the card, and
			// list finds it ready for notation.
			pemBytes, err := os.ReadFile(certAdd[0][len(certAdd[0])-1])
			must(t, err)
			export := runUser(t, "", nil, "cert", "export", serialFlag)
			if export.code != 0 || export.stdout != string(pemBytes) {
				t.Errorf("cert export differs from the file setup wrote: %s", export.stderr)
			}
			list := runUser(t, "", nil, "list")
			if !strings.Contains(list.stdout, "slot 9c         "+alg+" key, generated on the card, PIN always, touch never") ||
				!strings.Contains(list.stdout, "ready: the self-signed certificate meets the Notary Project rules") {
				t.Errorf("list after setup:\n%s", list.stdout)
			}
		})
	}
}

func TestUserSetupFailures(t *testing.T) {
	env := needCard(t)
	pin := []string{"NOTATION_PIV_PIN=123456"}

	env.Card.ResetStats()
	for _, tc := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"--algorithm", "RSA-1024"}, []string{`unknown key algorithm "RSA-1024"`, "EC-256"}},
		{[]string{"--pin-policy", "sometimes"}, []string{"never, once or always"}},
		{[]string{"--slot", "9f"}, []string{"invalid PIV slot"}},
		{[]string{"--subject", "CN=me"}, []string{"lacks C, ST or O", "C=US, ST=WA"}},
		{[]string{"--subject", "C=USA, ST=WA, O=x"}, []string{"two-letter"}},
		{[]string{"--valid-days", "0"}, []string{"--valid-days 0"}},
	} {
		mustFail(t, strings.Join(tc.args, " "), runUser(t, "", pin, append([]string{"setup", serialFlag}, tc.args...)...), tc.fragments...)
	}
	if n := env.Card.Stats().Commands; n != 0 {
		t.Errorf("bad flags sent %d commands to the card", n)
	}

	mustFail(t, "no PIN source", runUser(t, "", nil, "setup", serialFlag), "needs the PIN", "NOTATION_PIV_PIN")
	mustFail(t, "wrong PIN", runUser(t, "", []string{"NOTATION_PIV_PIN=111111"}, "setup", serialFlag), "wrong PIN: 2 tries left")
	st := readCardState(t, env)
	if st.PINRetries != 2 || len(st.Keys) != 1 {
		t.Fatalf("after a wrong PIN: %d retries, %d keys; want 2 retries and no new key", st.PINRetries, len(st.Keys))
	}

	r := runUser(t, "", pin, "setup", "--pin-policy", "once", serialFlag)
	mustSucceed(t, "setup", r)
	if !strings.Contains(r.stderr, "placeholder subject") || !strings.Contains(r.stdout, fmt.Sprintf("CN=notation-piv %d slot 9c", testSerial)) {
		t.Errorf("setup without --subject:\n%s%s", r.stdout, r.stderr)
	}
	env.Card.ResetStats()
	mustFail(t, "occupied slot", runUser(t, "", pin, "setup", serialFlag), "slot 9c of card 24680246 already holds an EC-256 key and a certificate", "--force", "free: 9a, 9d")
	mustFail(t, "--force without a terminal", runUser(t, "", pin, "setup", "--force", serialFlag), "needs confirmation", "--yes")
	if n := sent(env, "GENERATE ASYMMETRIC KEY PAIR"); n != 0 {
		t.Fatalf("setup generated %d keys in an occupied slot", n)
	}
	mustSucceed(t, "setup --force --yes", runUser(t, "", pin, "setup", "--force", "--yes", "--algorithm", "ec-384", "--subject", setupSubject, serialFlag))
	if list := runUser(t, "", nil, "list"); !strings.Contains(list.stdout, "slot 9c         EC-384 key") {
		t.Errorf("list after setup --force:\n%s", list.stdout)
	}
}

// TestUserCSRAndImport makes a key with a CSR, has a CA issue certificates
// for it, and imports them: a good one with its chain, one for another key
// and one that breaks the Notary Project rules.
func TestUserCSRAndImport(t *testing.T) {
	env := needCard(t)
	pin := []string{"NOTATION_PIV_PIN=123456"}
	dir := t.TempDir()
	csrPath := filepath.Join(dir, "9d.csr")
	r := runUser(t, dir, pin, "setup", "--slot", "9d", "--algorithm", "RSA-2048", "--subject", setupSubject, "--csr", csrPath, serialFlag)
	mustSucceed(t, "setup --csr", r)
	if !strings.Contains(r.stdout, "notation-piv cert import --serial 24680246 --slot 9d --ca-certs ca-chain.pem signer.crt") {
		t.Errorf("setup --csr does not say how to import:\n%s", r.stdout)
	}
	mustFail(t, "existing CSR file", runUser(t, dir, pin, "setup", "--slot", "9a", "--csr", csrPath, serialFlag), "already exists")
	b, err := os.ReadFile(csrPath)
	must(t, err)
	block, _ := pem.Decode(b)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil || csr.Subject.String() != "CN=piv setup,O=Notation E2E,ST=WA,C=US" {
		t.Fatalf("CSR: %v", err)
	}

	ca := fixtures.Intermediate()
	issue := func(name string, pub crypto.PublicKey, opts ...fixtures.Option) string {
		return writePEM(t, filepath.Join(dir, name), ca.Issue(pub, append([]fixtures.Option{fixtures.Subject(csr.Subject)}, opts...)...))
	}
	chain := writePEM(t, filepath.Join(dir, "chain.pem"), ca.Chain()...)
	other := impostorCA()

	env.Card.ResetStats()
	mustFail(t, "another key", runUser(t, dir, pin, "cert", "import", "--slot", "9d", "--ca-certs", chain, issue("other.crt", fixtures.Key("EC-256 other").Public()), serialFlag),
		"is not for the key in slot 9d of card 24680246", "setup --csr")
	mustFail(t, "TLS certificate", runUser(t, dir, pin, "cert", "import", "--slot", "9d", issue("tls.crt", csr.PublicKey, fixtures.ServerAuth), serialFlag), "cannot sign Notary Project signatures", "serverAuth", "code-signing certificate")
	mustFail(t, "CA certificate", runUser(t, dir, pin, "cert", "import", "--slot", "9d", "--ca-certs", chain, issue("ca.crt", csr.PublicKey, fixtures.AsCA), serialFlag), "cannot sign Notary Project signatures")
	mustFail(t, "wrong chain", runUser(t, dir, pin, "cert", "import", "--slot", "9d", "--ca-certs", writePEM(t, filepath.Join(dir, "other.pem"), other.Chain()...),
		issue("good.crt", csr.PublicKey), serialFlag), "not signed by")
	mustFail(t, "empty slot", runUser(t, dir, pin, "cert", "import", "--slot", "82", issue("good2.crt", csr.PublicKey), serialFlag), "slot 82 of card 24680246 holds no key")
	if n := sent(env, "PUT DATA"); n != 0 {
		t.Fatalf("failed imports stored %d objects", n)
	}

	good := issue("signer.crt", csr.PublicKey)
	r = runUser(t, dir, pin, "cert", "import", "--slot", "9d", "--ca-certs", chain, good, serialFlag)
	mustSucceed(t, "cert import", r)
	keyAdd := printedCommands(t, r.stdout, "notation key add")
	if len(keyAdd) != 1 || !strings.Contains(strings.Join(keyAdd[0], " "), "ca_certs="+chain) {
		t.Fatalf("cert import printed %v", keyAdd)
	}
	export := runUser(t, "", nil, "cert", "export", "--slot", "9d", serialFlag)
	want, _ := os.ReadFile(good)
	if export.stdout != string(want) {
		t.Fatalf("exported certificate differs from the imported one")
	}

	// Sign with the imported certificate and its chain through notation.
	n := newNotation(t)
	n.run(keyAdd[0][1:]...)
	n.run("cert", "add", "--type", "ca", "--store", "notation-piv", writePEM(t, filepath.Join(dir, "root.pem"), fixtures.Root().Cert))
	policy := filepath.Join(n.dir, "trustpolicy.json")
	doc := fmt.Sprintf(`{"version":"1.0","trustPolicies":[{"name":"imported","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:notation-piv"],"trustedIdentities":[%q]}]}`,
		"x509.subject: "+csr.Subject.String())
	must(t, os.WriteFile(policy, []byte(doc), 0o600))
	n.run("policy", "import", "--force", policy)
	layout := newLayout(t, "artifact signed with an imported certificate")
	n.run("sign", "--oci-layout", "--key", keyAdd[0][3], layout.ref())
	n.verify(layout)
	if !strings.Contains(runUser(t, "", nil, "list").stdout, "ready: the certificate meets the Notary Project leaf rules") {
		t.Error("list does not find the imported certificate ready")
	}
}

// TestUserCardWithoutMetadata uses a card that does not answer GET
// METADATA (YubiKey firmware before 5.3): list shows what it can, and cert
// import checks the key with a test signature.
func TestUserCardWithoutMetadata(t *testing.T) {
	env := needCard(t)
	old, err := card.New(card.Config{Serial: testSerial, Firmware: "5.2.7"})
	must(t, err)
	factory := env.Card
	must(t, env.Swap(old))
	t.Cleanup(func() {
		must(t, env.Swap(factory))
	})
	pin := []string{"NOTATION_PIV_PIN=123456"}
	dir := t.TempDir()
	mustSucceed(t, "setup", runUser(t, dir, pin, "setup", "--subject", setupSubject, "--cert-out", "9c.crt", serialFlag))
	// Power the card off and on, as unplugging does, so the PIN setup
	// verified counts as unverified again; list reads the retries from the
	// answer to a VERIFY without a PIN.
	must(t, env.Reinsert())
	list := runUser(t, "", nil, "list")
	for _, want := range []string{"PIN             3 tries left", "PUK             retries unknown", "slot 9c         key unknown (the card does not tell)",
		"ready: the self-signed certificate meets the Notary Project rules"} {
		if !strings.Contains(list.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, list.stdout)
		}
	}
	if strings.Contains(list.stderr, "factory") {
		t.Errorf("list warns about defaults it cannot know:\n%s", list.stderr)
	}

	chain := writePEM(t, filepath.Join(dir, "chain.pem"), fixtures.Intermediate().Chain()...)
	otherCert := fixtures.Intermediate().Issue(fixtures.Key("EC-256 other").Public(), fixtures.Subject(signerSubject), validUntil(time.Now().Add(time.Hour)))
	other := writeFile(t, dir, "other.crt", otherCert.Raw)
	old.ResetStats()
	mustFail(t, "another key", runUser(t, dir, pin, "cert", "import", "--ca-certs", chain, other, serialFlag), "is not for the key in slot 9c")
	if n := readCardState(t, env).PINRetries; n != 3 || sent(env, "GENERAL AUTHENTICATE") == 0 || sent(env, "PUT DATA") != 0 {
		t.Errorf("the key check: %d PIN retries left, %d signatures, %d PUT DATA", n, sent(env, "GENERAL AUTHENTICATE"), sent(env, "PUT DATA"))
	}
	mustSucceed(t, "import the slot's own certificate", runUser(t, dir, pin, "cert", "import", "9c.crt", serialFlag))

	// The card does not tell the PUK retries, so the last-try guard
	// cannot hold the PUK back: pin unblock says so, then sends it.
	r := runUser(t, dir, []string{"NOTATION_PIV_PUK=12345678", "NOTATION_PIV_NEW_PIN=24682468"}, "pin", "unblock", serialFlag)
	mustSucceed(t, "pin unblock", r)
	if !strings.Contains(r.stderr, "card 24680246 does not tell how many PUK tries it has left, so notation-piv cannot hold back the last one") {
		t.Errorf("pin unblock on a card that does not tell its PUK retries:\n%s", r.stderr)
	}
}

// hostileOutput is a path that an output flag must not write to or block
// on, with a check that it is as it was.
type hostileOutput struct {
	name      string
	make      func(t *testing.T, path string) // creates path
	fragment  string                          // what the refusal says
	unchanged func(t *testing.T, path string)
}

// hostileOutputs are a FIFO, a symbolic link to a private file of the
// user's, a dangling symbolic link, a directory and a device.
func hostileOutputs(t *testing.T) []hostileOutput {
	const secret = "a private file that no output may replace\n"
	target := func(path string) string { return path + ".target" }
	isFIFO := func(t *testing.T, path string) {
		t.Helper()
		if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("%s is no longer a FIFO: %v", path, err)
		}
	}
	isLink := func(t *testing.T, path string) {
		t.Helper()
		if l, err := os.Readlink(path); err != nil || l != target(path) {
			t.Errorf("%s is no longer the link: %q, %v", path, l, err)
		}
	}
	return []hostileOutput{
		{"FIFO", func(t *testing.T, path string) {
			must(t, syscall.Mkfifo(path, 0o600))
		}, "is a FIFO (named pipe), not a regular file", isFIFO},
		{"symlink to a private file", func(t *testing.T, path string) {
			must(t, os.WriteFile(target(path), []byte(secret), 0o600))
			must(t, os.Symlink(target(path), path))
		}, "is a symbolic link, not a regular file", func(t *testing.T, path string) {
			isLink(t, path)
			fi, err := os.Stat(target(path))
			b, _ := os.ReadFile(target(path))
			if err != nil || fi.Mode().Perm() != 0o600 || string(b) != secret {
				t.Errorf("the link's target changed: mode %v, %q, %v", fi.Mode(), b, err)
			}
		}},
		{"dangling symlink", func(t *testing.T, path string) {
			must(t, os.Symlink(target(path), path))
		}, "is a symbolic link, not a regular file", func(t *testing.T, path string) {
			isLink(t, path)
			if _, err := os.Lstat(target(path)); !os.IsNotExist(err) {
				t.Errorf("the dangling link's target was created: %v", err)
			}
		}},
		{"directory", func(t *testing.T, path string) {
			must(t, os.Mkdir(path, 0o700))
		}, "is a directory, not a regular file", func(t *testing.T, path string) {
			if entries, err := os.ReadDir(path); err != nil || len(entries) != 0 {
				t.Errorf("the directory changed: %v, %v", entries, err)
			}
		}},
		{"device", func(*testing.T, string) {}, "is a device, not a regular file", func(*testing.T, string) {}},
	}
}

// TestUserOutputFiles points each output of the user commands at a FIFO,
// a symbolic link (to a private file, and dangling), a directory and a
// device: each command ends within 2 s, refuses before the card is changed,
// leaves the path as it was, and leaves the card free for the next
// program. A regular file is replaced, never written through.
func TestUserOutputFiles(t *testing.T) {
	env := needCard(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	pin := []string{"NOTATION_PIV_PIN=123456"}
	outputs := []struct {
		flag string
		args []string // the command, its output flag last
	}{
		{"cert export --output", []string{"cert", "export", "--output"}},
		{"setup --cert-out", []string{"setup", "--slot", "9a", "--subject", setupSubject, "--cert-out"}},
		{"setup --csr", []string{"setup", "--slot", "9a", "--subject", setupSubject, "--csr"}},
	}
	for _, out := range outputs {
		for _, h := range hostileOutputs(t) {
			t.Run(out.flag+" "+h.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "out.pem")
				h.make(t, path)
				if h.name == "device" {
					path = "/dev/null"
				}
				before := snapshot(t, env)
				r, took := runWithin(t, 2*time.Second, nil, dir, pin, append(out.args, path, serialFlag)...)
				mustFail(t, out.flag, r, path, h.fragment)
				t.Logf("refused in %v: %s", took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
				h.unchanged(t, path)
				if !bytes.Equal(snapshot(t, env), before) {
					t.Error("the card changed")
				}
				if entries, _ := os.ReadDir(dir); len(entries) > 3 {
					t.Errorf("files left in the directory: %v", entries)
				}
				// The card is free: another program opens it at once.
				openPIV(t).Close()
			})
		}
	}

	// The certificate file setup names after the card, as a link.
	t.Run("setup default --cert-out dangling symlink", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, fmt.Sprintf("notation-piv-%d-9a.crt", testSerial))
		must(t, os.Symlink(path+".target", path))
		before := snapshot(t, env)
		r, _ := runWithin(t, 2*time.Second, nil, dir, pin, "setup", "--slot", "9a", "--subject", setupSubject, serialFlag)
		mustFail(t, "setup", r, "is a symbolic link")
		if !bytes.Equal(snapshot(t, env), before) {
			t.Error("the card changed")
		}
		if _, err := os.Lstat(path + ".target"); !os.IsNotExist(err) {
			t.Errorf("the link's target was created: %v", err)
		}
		openPIV(t).Close()
	})

	// A regular file is replaced by a new file, not written through: a
	// hard link to it keeps the old content.
	t.Run("regular file replaced", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "cert.pem")
		must(t, os.WriteFile(path, []byte("old\n"), 0o600))
		must(t, os.Link(path, path+".hardlink"))
		r, _ := runWithin(t, 2*time.Second, nil, dir, nil, "cert", "export", "--output", path, serialFlag)
		mustSucceed(t, "cert export --output", r)
		b, _ := os.ReadFile(path)
		if block, _ := pem.Decode(b); block == nil || !bytes.Equal(block.Bytes, leaf.Raw) {
			t.Errorf("cert export --output wrote %q", b)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, %v; want 0644", fi.Mode(), err)
		}
		if old, _ := os.ReadFile(path + ".hardlink"); string(old) != "old\n" {
			t.Errorf("the old file was written through: %q", old)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Errorf("files left in the directory: %v", entries)
		}
	})
}
