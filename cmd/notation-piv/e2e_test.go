package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
)

// signerSubject is the subject of the test signing certificates; the trust
// policy names it.
var signerSubject = pkix.Name{
	Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"},
	Organization: []string{"Notation E2E"}, CommonName: "piv signer",
}

const trustedIdentity = "x509.subject: C=US, ST=WA, L=Seattle, O=Notation E2E, CN=piv signer"

// provision generates a key in slot 9c of the virtual card and stores a
// Notation-compliant certificate for it. With a CA, the leaf is issued by
// it; without, the leaf is self-signed by the card key. It returns the leaf
// and the chain file to trust (the leaf, or the root).
func provision(t *testing.T, alg piv.Algorithm, ca *testCA) (leaf *x509.Certificate) {
	t.Helper()
	yk := openPIV(t)
	defer yk.Close()
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature,
		piv.Key{Algorithm: alg, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               signerSubject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	var der []byte
	if ca != nil {
		der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.intermediate, pub, ca.intermediateKey)
	} else {
		priv, perr := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{PIN: piv.DefaultPIN, PINPolicy: piv.PINPolicyAlways})
		if perr != nil {
			t.Fatal(perr)
		}
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	}
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	if leaf, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotSignature, leaf); err != nil {
		t.Fatalf("store certificate: %v", err)
	}
	return leaf
}

// openPIV opens the virtual card with piv-go.
func openPIV(t *testing.T) *piv.YubiKey {
	t.Helper()
	var yk *piv.YubiKey
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if yk, err = piv.Open(harness.card.Reader); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("open card: %v", err)
	}
	return yk
}

// testCA is a root and an intermediate CA, in software.
type testCA struct {
	root, intermediate       *x509.Certificate
	rootKey, intermediateKey crypto.Signer
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	mk := func(name string, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(time.Now().UnixNano()),
			Subject:               pkix.Name{Organization: []string{"Notation E2E"}, CommonName: name},
			NotBefore:             time.Now().Add(-2 * time.Hour),
			NotAfter:              time.Now().Add(48 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	ca := &testCA{}
	ca.root, ca.rootKey = mk("e2e root", nil, nil)
	ca.intermediate, ca.intermediateKey = mk("e2e intermediate", ca.root, ca.rootKey)
	return ca
}

// writePEM writes certificates to a PEM file.
func writePEM(t *testing.T, path string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// notationEnv is an isolated notation configuration.
type notationEnv struct {
	t    *testing.T
	dir  string
	env  []string
	pin  string // NOTATION_PIV_PIN, "" for none
	logf string // the plugin's debug log
}

func newNotation(t *testing.T) *notationEnv {
	t.Helper()
	dir := t.TempDir()
	n := &notationEnv{t: t, dir: dir, pin: piv.DefaultPIN, logf: filepath.Join(dir, "plugin.log")}
	n.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"NOTATION_EXPERIMENTAL=1",
		"NOTATION_PIV_LOG=" + n.logf,
	}
	n.run("plugin", "install", "--file", harness.plugin, "--force")
	return n
}

// exec runs notation and returns its combined output and error.
func (n *notationEnv) exec(args ...string) (string, error) {
	cmd := exec.Command(harness.notation, args...)
	cmd.Env = n.env
	if n.pin != "" {
		cmd.Env = append(cmd.Env, "NOTATION_PIV_PIN="+n.pin)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run runs notation and fails the test if it fails.
func (n *notationEnv) run(args ...string) string {
	n.t.Helper()
	out, err := n.exec(args...)
	if err != nil {
		n.t.Fatalf("notation %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// trust adds a certificate to a CA trust store and imports a strict policy
// for the scope local/e2e that trusts the signing subject.
func (n *notationEnv) trust(cert *x509.Certificate) {
	n.t.Helper()
	n.run("cert", "add", "--type", "ca", "--store", "e2e", writePEM(n.t, filepath.Join(n.dir, "trusted.pem"), cert))
	policy := map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "e2e",
			"registryScopes":        []string{"local/e2e"},
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{"ca:e2e"},
			"trustedIdentities":     []string{trustedIdentity},
		}},
	}
	b, _ := json.Marshal(policy)
	path := filepath.Join(n.dir, "policy.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		n.t.Fatal(err)
	}
	n.run("policy", "import", "--force", path)
}

// ociLayout is an OCI image layout holding one artifact.
type ociLayout struct {
	dir      string
	manifest string // digest of the artifact manifest
}

// ref is the notation reference of the artifact.
func (l *ociLayout) ref() string { return l.dir + "@" + l.manifest }

func newLayout(t *testing.T, content string) *ociLayout {
	t.Helper()
	l := &ociLayout{dir: filepath.Join(t.TempDir(), "layout")}
	if err := os.MkdirAll(filepath.Join(l.dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(l.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	cfg := l.put(t, []byte("{}"))
	layer := l.put(t, []byte(content))
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.e2e.v1",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},`+
		`"layers":[{"mediaType":"text/plain","digest":"%s","size":%d}]}`, cfg, layer, len(content))
	l.manifest = l.put(t, []byte(man))
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`,
		l.manifest, len(man))
	write(t, filepath.Join(l.dir, "index.json"), []byte(index))
	return l
}

// put stores a blob and returns its digest.
func (l *ociLayout) put(t *testing.T, b []byte) string {
	t.Helper()
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	write(t, filepath.Join(l.dir, "blobs", "sha256", d), b)
	return "sha256:" + d
}

func (l *ociLayout) blob(t *testing.T, digest string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signatures returns the envelope of each signature manifest in the layout,
// with the manifest's digest.
func (l *ociLayout) signatures(t *testing.T) map[string][]byte {
	t.Helper()
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(l.blobFile(t, "index.json"), &index); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, m := range index.Manifests {
		var man struct {
			ArtifactType string `json:"artifactType"`
			Config       struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
			Layers []struct{ Digest string } `json:"layers"`
		}
		if err := json.Unmarshal(l.blob(t, m.Digest), &man); err != nil {
			t.Fatal(err)
		}
		if man.ArtifactType != "application/vnd.cncf.notary.signature" && man.Config.MediaType != "application/vnd.cncf.notary.signature" {
			continue
		}
		out[m.Digest] = l.blob(t, man.Layers[0].Digest)
	}
	return out
}

func (l *ociLayout) blobFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replaceEnvelope swaps the envelope of a signature manifest for another,
// rewriting the manifest and the index so the layout stays consistent: the
// only thing wrong afterwards is the envelope itself.
func (l *ociLayout) replaceEnvelope(t *testing.T, sigManifest string, envelope []byte) {
	t.Helper()
	var man map[string]any
	if err := json.Unmarshal(l.blob(t, sigManifest), &man); err != nil {
		t.Fatal(err)
	}
	layer := man["layers"].([]any)[0].(map[string]any)
	layer["digest"] = l.put(t, envelope)
	layer["size"] = len(envelope)
	b, _ := json.Marshal(man)
	newDigest := l.put(t, b)
	index := string(l.blobFile(t, "index.json"))
	index = strings.Replace(index, sigManifest, newDigest, 1)
	var idx map[string]any
	if err := json.Unmarshal([]byte(index), &idx); err != nil {
		t.Fatal(err)
	}
	for _, m := range idx["manifests"].([]any) {
		if mm := m.(map[string]any); mm["digest"] == newDigest {
			mm["size"] = len(b)
		}
	}
	nb, _ := json.Marshal(idx)
	write(t, filepath.Join(l.dir, "index.json"), nb)
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// e2eCase is one signing configuration driven through notation.
type e2eCase struct {
	name   string
	alg    piv.Algorithm
	raw    bool
	format string // jws or cose
	chain  bool   // leaf → intermediate → root through ca_certs
}

// signAndVerify provisions the card, signs an artifact with notation and
// the plugin, verifies it under a strict policy, and checks that tampering
// with the artifact or the envelope fails verification.
func signAndVerify(t *testing.T, tc e2eCase) {
	needCard(t)
	n := newNotation(t)
	config := []string{"--plugin-config", fmt.Sprintf("serial=%d", testSerial)}
	var ca *testCA
	if tc.chain {
		ca = newTestCA(t)
		bundle := writePEM(t, filepath.Join(n.dir, "ca.pem"), ca.intermediate, ca.root)
		config = append(config, "--plugin-config", "ca_certs="+bundle)
	}
	if tc.raw {
		config = append(config, "--plugin-config", "mode=raw")
	}
	leaf := provision(t, tc.alg, ca)
	if ca != nil {
		n.trust(ca.root)
	} else {
		n.trust(leaf)
	}
	n.run(append([]string{"key", "add", "pivkey", "--plugin", "piv", "--id", "9c", "--default"}, config...)...)

	layout := newLayout(t, "hello from "+tc.name)
	n.run("sign", "--oci-layout", "--signature-format", tc.format, layout.ref())
	n.run("verify", "--oci-layout", "--scope", "local/e2e", layout.ref())

	sigs := layout.signatures(t)
	if len(sigs) != 1 {
		t.Fatalf("%d signatures in the layout, want 1", len(sigs))
	}

	// A different artifact carries no valid signature.
	other := newLayout(t, "tampered "+tc.name)
	if out, err := n.exec("verify", "--oci-layout", "--scope", "local/e2e", other.ref()); err == nil || !strings.Contains(out, "no signature is associated") {
		t.Errorf("verify of an unsigned artifact: %v\n%s", err, out)
	}
	// A tampered envelope fails verification.
	for digest, envelope := range sigs {
		layout.replaceEnvelope(t, digest, tamperSignature(t, tc.format, envelope))
		out, err := n.exec("verify", "--oci-layout", "--scope", "local/e2e", layout.ref(), "-v")
		if err == nil || !strings.Contains(out, "signature is invalid") {
			t.Errorf("verify of a tampered envelope did not fail its integrity check: %v\n%s", err, out)
		}
	}
}

// tamperSignature changes the signature of an envelope, keeping the
// envelope well-formed.
func tamperSignature(t *testing.T, format string, envelope []byte) []byte {
	t.Helper()
	if format != "jws" {
		t.Fatalf("no tampering for format %s", format)
	}
	var m map[string]any
	if err := json.Unmarshal(envelope, &m); err != nil {
		t.Fatalf("envelope is not JSON: %v", err)
	}
	sig := []byte(m["signature"].(string))
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	m["signature"] = string(sig)
	b, _ := json.Marshal(m)
	return b
}

func TestNotationEndToEnd(t *testing.T) {
	for _, tc := range []e2eCase{
		{name: "EC-256 envelope", alg: piv.AlgorithmEC256, format: "jws"},
		{name: "EC-256 raw", alg: piv.AlgorithmEC256, format: "jws", raw: true},
		{name: "RSA-2048 envelope", alg: piv.AlgorithmRSA2048, format: "jws"},
		{name: "RSA-2048 raw", alg: piv.AlgorithmRSA2048, format: "jws", raw: true},
		{name: "EC-256 envelope with CA chain", alg: piv.AlgorithmEC256, format: "jws", chain: true},
	} {
		t.Run(tc.name, func(t *testing.T) { signAndVerify(t, tc) })
	}
}
