package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
)

// The notation CLI v1.3.2 as the end-to-end tests run it, each test with a
// configuration of its own; the OCI image layouts it signs; the envelopes
// it stores there; and the timestamp authority it asks.

// notationEnv is an isolated notation configuration.
type notationEnv struct {
	t    testing.TB
	dir  string
	env  []string
	pin  string // NOTATION_PIV_PIN, "" for none
	logf string // the plugin's debug log
}

// newNotation returns a new notation configuration with the plugin
// installed. It skips the test under go test -short, which builds no
// notation.
func newNotation(t testing.TB) *notationEnv {
	t.Helper()
	n := newBareNotation(t)
	n.run("plugin", "install", "--file", harness.plugin, "--force")
	return n
}

// newBareNotation is newNotation without the plugin installed: an isolated
// notation configuration whose plugin directory is empty.
func newBareNotation(t testing.TB) *notationEnv {
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

// addKey adds the key name to notation: slot id of the test card, picked
// by its serial number, with the pluginConfig settings config (KEY=VALUE).
func (n *notationEnv) addKey(name, id string, config ...string) {
	n.t.Helper()
	args := []string{"key", "add", name, "--plugin", "piv", "--id", id, "--plugin-config", fmt.Sprintf("serial=%d", testSerial)}
	for _, c := range config {
		args = append(args, "--plugin-config", c)
	}
	n.run(args...)
}

// verify runs notation verify on the artifact of l, under the policy of
// importPolicy, and fails the test if it fails.
func (n *notationEnv) verify(l *ociLayout) string {
	n.t.Helper()
	return n.run("verify", "--oci-layout", "--scope", "local/e2e", l.ref())
}

// verifyFails checks that notation verify refuses the artifact of l with
// an output that says want.
func (n *notationEnv) verifyFails(t testing.TB, l *ociLayout, want string) {
	t.Helper()
	out, err := n.exec("verify", "--oci-layout", "--scope", "local/e2e", l.ref(), "-v")
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("notation verify %s: %v, want a refusal that says %q\n%s", l.ref(), err, want, out)
	}
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

// trustTSA adds the TSA root to the tsa store e2e-tsa.
func (n *notationEnv) trustTSA(root string) {
	n.t.Helper()
	n.run("cert", "add", "--type", "tsa", "--store", "e2e-tsa", root)
}

// startTSA starts a local RFC 3161 timestamp authority for one test and
// writes its root certificate to a file.
func startTSA(t testing.TB) (*timestamptest.TSA, string) {
	t.Helper()
	tsa := timestamptest.Start(t)
	root := filepath.Join(t.TempDir(), "tsa-root.crt")
	must(t, tsa.WriteRoot(root))
	return tsa, root
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
	must(t, os.MkdirAll(filepath.Join(l.dir, "blobs", "sha256"), 0o755))
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

// blob returns the blob of the layout with the given digest.
func (l *ociLayout) blob(t testing.TB, digest string) []byte {
	t.Helper()
	return readFile(t, filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
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
	must(t, json.Unmarshal(readFile(t, filepath.Join(l.dir, "index.json")), &index))
	out := map[string][]byte{}
	for _, m := range index.Manifests {
		var man struct {
			ArtifactType string `json:"artifactType"`
			Config       struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
			Layers []struct{ Digest string } `json:"layers"`
		}
		must(t, json.Unmarshal(l.blob(t, m.Digest), &man))
		if man.ArtifactType != "application/vnd.cncf.notary.signature" && man.Config.MediaType != "application/vnd.cncf.notary.signature" {
			continue
		}
		out[m.Digest] = l.blob(t, man.Layers[0].Digest)
	}
	return out
}

// replaceEnvelope swaps the envelope of a signature manifest for another,
// rewriting the manifest and the index so the layout stays consistent: the
// only thing wrong afterwards is the envelope itself.
func (l *ociLayout) replaceEnvelope(t testing.TB, sigManifest string, envelope []byte) {
	t.Helper()
	var man map[string]any
	must(t, json.Unmarshal(l.blob(t, sigManifest), &man))
	layer := man["layers"].([]any)[0].(map[string]any)
	layer["digest"] = l.put(t, envelope)
	layer["size"] = len(envelope)
	b, _ := json.Marshal(man)
	newDigest := l.put(t, b)
	index := string(readFile(t, filepath.Join(l.dir, "index.json")))
	index = strings.Replace(index, sigManifest, newDigest, 1)
	var idx map[string]any
	must(t, json.Unmarshal([]byte(index), &idx))
	for _, m := range idx["manifests"].([]any) {
		if mm := m.(map[string]any); mm["digest"] == newDigest {
			mm["size"] = len(b)
		}
	}
	nb, _ := json.Marshal(idx)
	write(t, filepath.Join(l.dir, "index.json"), nb)
}

// signatureSet returns the digests of the manifests in a layout's index.
func signatureSet(t *testing.T, l *ociLayout) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for d := range l.signatures(t) {
		set[d] = true
	}
	return set
}

// newSignature returns the one signature manifest that is not in before,
// and its envelope.
func newSignature(t *testing.T, l *ociLayout, before map[string]bool) (string, []byte) {
	t.Helper()
	var digest string
	var env []byte
	for d, e := range l.signatures(t) {
		if !before[d] {
			if digest != "" {
				t.Fatal("more than one new signature")
			}
			digest, env = d, e
		}
	}
	if digest == "" {
		t.Fatal("no new signature in the layout")
	}
	return digest, env
}

// mediaTypeOf maps the --format names to media types.
var mediaTypeOf = map[string]string{"jws": envelope.MediaTypeJWS, "cose": envelope.MediaTypeCOSE}

// envelopeContent parses an envelope with notation-core-go, the reference
// verifier.
func envelopeContent(t *testing.T, format string, envelope []byte) *signature.EnvelopeContent {
	t.Helper()
	env, err := signature.ParseEnvelope(mediaTypeOf[format], envelope)
	if err != nil {
		t.Fatalf("parse %s envelope: %v", format, err)
	}
	content, err := env.Content()
	if err != nil {
		t.Fatalf("read %s envelope: %v", format, err)
	}
	return content
}
