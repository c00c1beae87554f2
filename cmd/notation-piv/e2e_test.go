package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
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

	"github.com/fxamacker/cbor/v2"
	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// signerSubject is the subject of the test signing certificates; the trust
// policy names it.
var signerSubject = pkix.Name{
	Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"},
	Organization: []string{"Notation E2E"}, CommonName: "piv signer",
}

const trustedIdentity = "x509.subject: C=US, ST=WA, L=Seattle, O=Notation E2E, CN=piv signer"

// provision generates a key in slot 9c of the virtual card, with PIN
// policy "always", and stores a Notation-compliant certificate for it (see
// certify).
func provision(t testing.TB, alg piv.Algorithm, ca *testCA) (leaf *x509.Certificate) {
	t.Helper()
	yk := openPIV(t)
	defer yk.Close()
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature,
		piv.Key{Algorithm: alg, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return certify(t, yk, piv.SlotSignature, pub, ca)
}

// certify stores a Notation-compliant certificate for the key in slot,
// valid for a day. With a CA, the leaf is issued by the CA's intermediate;
// without, the leaf is self-signed by the card key.
func certify(t testing.TB, yk *piv.YubiKey, slot piv.Slot, pub crypto.PublicKey, ca *testCA) *x509.Certificate {
	t.Helper()
	return certifyUntil(t, yk, slot, pub, ca, time.Now().Add(24*time.Hour))
}

// certifyUntil is certify with a certificate that expires at notAfter.
func certifyUntil(t testing.TB, yk *piv.YubiKey, slot piv.Slot, pub crypto.PublicKey, ca *testCA, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               signerSubject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	var der []byte
	var err error
	if ca != nil {
		der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.intermediate, pub, ca.intermediateKey)
	} else {
		priv, perr := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: piv.DefaultPIN, PINPolicy: piv.PINPolicyAlways})
		if perr != nil {
			t.Fatal(perr)
		}
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	}
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := yk.SetCertificate(piv.DefaultManagementKey, slot, leaf); err != nil {
		t.Fatalf("store certificate: %v", err)
	}
	return leaf
}

// openPIV opens the virtual card with piv-go.
func openPIV(t testing.TB) *piv.YubiKey {
	t.Helper()
	return vcardtest.OpenPIV(t)
}

// testCA is a root and an intermediate CA, in software.
type testCA struct {
	root, intermediate       *x509.Certificate
	rootKey, intermediateKey crypto.Signer
}

func newTestCA(t testing.TB) *testCA {
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
func writePEM(t testing.TB, path string, certs ...*x509.Certificate) string {
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
	t    testing.TB
	dir  string
	env  []string
	pin  string // NOTATION_PIV_PIN, "" for none
	logf string // the plugin's debug log
}

func newNotation(t testing.TB) *notationEnv {
	t.Helper()
	if harness.notation == "" {
		t.Skip("go test -short: this test drives the notation CLI; run it without -short (make test)")
	}
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
func (n *notationEnv) trust(certs ...*x509.Certificate) {
	n.t.Helper()
	for i, c := range certs {
		n.run("cert", "add", "--type", "ca", "--store", "e2e", writePEM(n.t, filepath.Join(n.dir, fmt.Sprintf("trusted-%d.pem", i)), c))
	}
	n.importPolicy("")
}

// importPolicy imports a strict trust policy for the scope local/e2e that
// trusts the signing subject in the store e2e. With verifyTimestamp set
// ("always" or "afterCertExpiry"), it also trusts the TSA roots in the tsa
// store e2e-tsa (see trustTSA) and checks timestamps that way.
func (n *notationEnv) importPolicy(verifyTimestamp string) {
	n.t.Helper()
	verification := map[string]any{"level": "strict"}
	stores := []string{"ca:e2e"}
	if verifyTimestamp != "" {
		verification["verifyTimestamp"] = verifyTimestamp
		stores = append(stores, "tsa:e2e-tsa")
	}
	policy := map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "e2e",
			"registryScopes":        []string{"local/e2e"},
			"signatureVerification": verification,
			"trustStores":           stores,
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

func newLayout(t testing.TB, content string) *ociLayout {
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
func (l *ociLayout) put(t testing.TB, b []byte) string {
	t.Helper()
	sum := sha256.Sum256(b)
	d := hex.EncodeToString(sum[:])
	write(t, filepath.Join(l.dir, "blobs", "sha256", d), b)
	return "sha256:" + d
}

func (l *ociLayout) blob(t testing.TB, digest string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signatures returns the envelope of each signature manifest in the layout,
// with the manifest's digest.
func (l *ociLayout) signatures(t testing.TB) map[string][]byte {
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

func (l *ociLayout) blobFile(t testing.TB, name string) []byte {
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
func (l *ociLayout) replaceEnvelope(t testing.TB, sigManifest string, envelope []byte) {
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

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperSignature flips a bit of the signature in an envelope, keeping the
// envelope well-formed, so that only its integrity check can fail.
func tamperSignature(t testing.TB, format string, envelope []byte) []byte {
	t.Helper()
	switch format {
	case "jws":
		var m map[string]any
		if err := json.Unmarshal(envelope, &m); err != nil {
			t.Fatalf("envelope is not JSON: %v", err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(m["signature"].(string))
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)/2] ^= 0x01
		m["signature"] = base64.RawURLEncoding.EncodeToString(sig)
		b, _ := json.Marshal(m)
		return b
	case "cose":
		var msg cbor.Tag
		if err := cbor.Unmarshal(envelope, &msg); err != nil {
			t.Fatalf("envelope is not CBOR: %v", err)
		}
		parts, ok := msg.Content.([]any)
		if msg.Number != 18 || !ok || len(parts) != 4 {
			t.Fatalf("envelope is not a tagged COSE_Sign1")
		}
		sig := parts[3].([]byte)
		sig[len(sig)/2] ^= 0x01
		b, err := cbor.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("unknown format %s", format)
	return nil
}
