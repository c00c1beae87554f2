package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/envelope/jws"
)

// registerFormats registers the envelope formats in the test binary, as
// main does in the plugin binary.
var registerFormats = sync.OnceFunc(func() {
	envelope.Register(jws.Format{})
	envelope.Register(cose.Format{})
})

// mediaTypeOf maps the --format names to media types.
var mediaTypeOf = map[string]string{"jws": envelope.MediaTypeJWS, "cose": envelope.MediaTypeCOSE}

// runEnv runs "notation-piv envelope ARGS" in-process with stdin.
func runEnv(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	registerFormats()
	var stdout, stderr bytes.Buffer
	code := runEnvelope(t.Context(), args, bytes.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

// expectFailure checks that a command failed with exit status 1 and an
// error message naming each fragment.
func expectFailure(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if r.code != 1 || !strings.HasPrefix(r.stderr, "notation-piv: error: ") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and an error", r.code, r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(r.stderr+r.stdout, f) {
			t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", f, r.stdout, r.stderr)
		}
	}
}

// inspectJSON runs "envelope inspect --json" on an envelope file.
func inspectJSON(t *testing.T, path string, extra ...string) (*inspect.Report, result) {
	t.Helper()
	r := runEnv(t, nil, append([]string{"inspect", "--json", path}, extra...)...)
	if r.code != 0 {
		t.Fatalf("inspect %s: exit %d: %s", path, r.code, r.stderr)
	}
	var rep inspect.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("inspect --json output: %v\n%s", err, r.stdout)
	}
	return &rep, r
}

// writeFile writes b to a new file in dir.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEnvelopeOfNotation runs stock notation v1.3.2 with a local key
// (notation cert generate-test, notation sign --key) in an OCI layout, in
// JWS and COSE, with and without a timestamp, and checks that "envelope
// inspect" shows what notation put on the signature manifest (subject,
// certificate thumbprints, signing time), the layout's artifact and the
// generate-test certificate; that "envelope verify" accepts each envelope
// with that certificate as the trust root; and that tampering with each
// part fails the check that guards it, while inspect still shows the
// envelope.
func TestEnvelopeOfNotation(t *testing.T) {
	n := newNotation(t)
	n.run("cert", "generate-test", "local")
	certFile := filepath.Join(n.dir, "config", "notation", "localkeys", "local.crt")
	block, _ := pem.Decode(readFile(t, certFile))
	if block == nil {
		t.Fatalf("%s holds no PEM certificate", certFile)
	}
	certSum := sha256.Sum256(block.Bytes)
	// The certificate is valid from the second it was made; a timestamp
	// must lie after that, its accuracy (1s) included, for notation verify
	// as for envelope verify.
	time.Sleep(2500 * time.Millisecond)
	tsa, tsaRoot := startTSA(t)
	layout := newLayout(t, "an artifact signed by stock notation")
	artifact := filepath.Join(layout.dir, "blobs", "sha256", strings.TrimPrefix(layout.manifest, "sha256:"))
	artifactSize := int64(len(readFile(t, artifact)))

	for _, format := range []string{"jws", "cose"} {
		for _, stamped := range []bool{false, true} {
			name := format
			args := []string{"sign", "--oci-layout", "--key", "local", "--signature-format", format}
			if stamped {
				name += "-timestamped"
				args = append(args, "--timestamp-url", tsa.URL, "--timestamp-root-cert", tsaRoot)
			} else {
				args = append(args, "--expiry", "24h", "--user-metadata", "io.example.build=42")
			}
			t.Run(name, func(t *testing.T) {
				before := signatureSet(t, layout)
				n.run(append(args, layout.ref())...)
				manDigest, env := newSignature(t, layout, before)
				var man struct {
					Subject     envelope.Descriptor `json:"subject"`
					Layers      []struct{ MediaType string }
					Annotations map[string]string `json:"annotations"`
				}
				if err := json.Unmarshal(layout.blob(t, manDigest), &man); err != nil {
					t.Fatal(err)
				}
				envFile := writeFile(t, t.TempDir(), "envelope.sig", env)
				rep, _ := inspectJSON(t, envFile)
				checkNotationView(t, rep, man.Layers[0].MediaType, man.Subject, man.Annotations)
				if d := rep.Payload.TargetArtifact; d.Digest != layout.manifest || d.Size != artifactSize || d.MediaType != "application/vnd.oci.image.manifest.v1+json" {
					t.Errorf("target artifact %+v, layout's %s of %d bytes", d, layout.manifest, artifactSize)
				}
				if c := rep.Certificates; len(c) != 1 || c[0].SHA256 != hex.EncodeToString(certSum[:]) || c[0].Role != "self-signed leaf" || !c[0].MeetsNotaryRules {
					t.Errorf("certificates %+v, want the generate-test certificate", c)
				}
				if stamped {
					ts := rep.Timestamp
					if ts == nil || ts.Status != inspect.StatusUnchecked || !ts.StampsSignature || ts.TSA == nil || !strings.Contains(ts.TSA.Subject, "notation-piv test TSA") || ts.HashAlgorithm != "SHA-256" {
						t.Fatalf("timestamp %+v", ts)
					}
					if rep, _ := inspectJSON(t, envFile, "--tsa-root", tsaRoot); rep.Timestamp.Status != inspect.StatusValid {
						t.Errorf("timestamp with --tsa-root: %+v", rep.Timestamp)
					}
				} else if rep.Timestamp != nil || rep.Expiry == nil || rep.Payload.TargetArtifact.Annotations["io.example.build"] != "42" {
					t.Errorf("timestamp %+v, expiry %v, annotations %v", rep.Timestamp, rep.Expiry, rep.Payload.TargetArtifact.Annotations)
				}
				if r := runEnv(t, env, "inspect", "-"); r.code != 0 || !regexp.MustCompile(`(?m)^Integrity +VALID: `).MatchString(r.stdout) || r.stderr != "" {
					t.Errorf("inspect - (stdin): exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}

				verify := []string{"verify", envFile, "--trust-root", certFile, "--artifact", artifact}
				if stamped {
					verify = append(verify, "--tsa-root", tsaRoot)
				}
				if r := runEnv(t, nil, verify...); r.code != 0 || !strings.Contains(r.stdout, "verifies") {
					t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				if r := runEnv(t, nil, "verify", envFile, "--trust-root", certFile, "--digest", layout.manifest, "--json"); r.code != 0 || !json.Valid([]byte(r.stdout)) {
					t.Errorf("verify --digest --json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				checkTampering(t, man.Layers[0].MediaType, env, verify)
			})
		}
	}
}

// checkNotationView compares an inspect report with what notation wrote on
// the signature manifest.
func checkNotationView(t *testing.T, rep *inspect.Report, layerType string, subject envelope.Descriptor, annotations map[string]string) {
	t.Helper()
	var thumbprints []string
	if err := json.Unmarshal([]byte(annotations["io.cncf.notary.x509chain.thumbprint#S256"]), &thumbprints); err != nil {
		t.Fatalf("thumbprint annotation: %v", err)
	}
	var got []string
	for _, c := range rep.Certificates {
		got = append(got, c.SHA256)
	}
	created, err := time.Parse(time.RFC3339, annotations["org.opencontainers.image.created"])
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Payload.TargetArtifact
	switch {
	case rep.MediaType != layerType:
		t.Errorf("media type %s, notation's layer %s", rep.MediaType, layerType)
	case !slices.Equal(got, thumbprints):
		t.Errorf("thumbprints %q, notation's %q", got, thumbprints)
	case rep.SigningTime == nil || !rep.SigningTime.Equal(created):
		t.Errorf("signing time %v, notation's %v", rep.SigningTime, created)
	case d == nil || d.Digest != subject.Digest || d.Size != subject.Size || d.MediaType != subject.MediaType:
		t.Errorf("target artifact %+v, notation's subject %+v", d, subject)
	case rep.Integrity.Status != inspect.StatusValid || len(rep.Problems) != 0 || !rep.Chain.MeetsNotaryRules:
		t.Errorf("integrity %+v, problems %q, chain %+v", rep.Integrity, rep.Problems, rep.Chain)
	case rep.SigningAgent != "notation-go/1.3.2" || rep.Algorithm.Name != "PS256" || !rep.Algorithm.MatchesLeaf:
		t.Errorf("signing agent %q, algorithm %+v", rep.SigningAgent, rep.Algorithm)
	}
}

// checkTampering tampers with each part of env and runs the verify command
// line on it: verify must fail naming the check that guards the part, and
// inspect must still show the envelope, flagging a broken signature.
func checkTampering(t *testing.T, mediaType string, env []byte, verify []string) {
	t.Helper()
	for _, part := range envelopetest.Parts {
		bad, err := envelopetest.Tamper(mediaType, env, part)
		if err != nil {
			t.Fatal(err)
		}
		file := writeFile(t, t.TempDir(), "tampered.sig", bad)
		args := slices.Clone(verify)
		args[1] = file
		check, integrity := "integrity", inspect.StatusInvalid
		if part == envelopetest.Chain {
			check, integrity = "chain", inspect.StatusValid
		}
		r := runEnv(t, nil, args...)
		expectFailure(t, r, "FAILED  "+check+": ", "does not verify")
		if part == envelopetest.Chain && !strings.Contains(r.stdout, "ok      integrity: ") {
			t.Errorf("tampered %s: integrity does not pass:\n%s", part, r.stdout)
		}
		rep, ir := inspectJSON(t, file)
		if rep.Integrity.Status != integrity {
			t.Errorf("tampered %s: inspect says integrity %+v, want %s", part, rep.Integrity, integrity)
		}
		if integrity == inspect.StatusInvalid && !strings.Contains(ir.stderr, "warning: the signature is INVALID") {
			t.Errorf("tampered %s: inspect does not warn: %q", part, ir.stderr)
		}
	}
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

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnvelopeSign signs files with the virtual card through "envelope
// sign", in both formats, with a self-signed certificate and with a CA
// chain, with an expiry and a timestamp: "envelope verify" and
// notation-core-go accept each envelope, whose payload names the file, and
// verify against another file fails its artifact check.
func TestEnvelopeSign(t *testing.T) {
	needCard(t)
	t.Setenv("NOTATION_PIV_PIN", piv.DefaultPIN)
	tsa, tsaRoot := startTSA(t)
	dir := t.TempDir()
	artifact := writeFile(t, dir, "release.tar.gz", []byte("a release archive\n"))
	other := writeFile(t, dir, "other.tar.gz", []byte("another archive\n"))
	sum := sha256.Sum256(readFile(t, artifact))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	for _, chained := range []bool{false, true} {
		var ca *testCA
		var extra []string
		leaf := provision(t, piv.AlgorithmEC256, nil)
		trustRoot := writePEM(t, filepath.Join(dir, "leaf.pem"), leaf)
		if chained {
			ca = newTestCA(t)
			leaf = provision(t, piv.AlgorithmRSA2048, ca)
			extra = []string{"--ca-certs", writePEM(t, filepath.Join(dir, "ca.pem"), ca.intermediate, ca.root)}
			trustRoot = writePEM(t, filepath.Join(dir, "root.pem"), ca.root)
		}
		for _, format := range []string{"jws", "cose"} {
			t.Run(fmt.Sprintf("%s/chained=%v", format, chained), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "release.sig")
				args := append([]string{"sign", "--serial", fmt.Sprint(testSerial), "--format", format, "--artifact", artifact,
					"--media-type", "application/gzip", "--expiry", "720h", "--tsa-url", tsa.URL, "--tsa-root-cert", tsaRoot, "--out", out}, extra...)
				r := runEnv(t, nil, args...)
				if r.code != 0 || !strings.Contains(r.stdout, "wrote "+out) || !strings.Contains(r.stdout, digest) {
					t.Fatalf("sign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				fi, err := os.Stat(out)
				if err != nil || fi.Mode().Perm() != 0o644 {
					t.Fatalf("envelope file: %v, mode %v", err, fi.Mode())
				}
				if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
					t.Errorf("the output directory holds %d files, want the envelope only", len(entries))
				}
				env := readFile(t, out)

				e, err := signature.ParseEnvelope(mediaTypeOf[format], env)
				if err != nil {
					t.Fatal(err)
				}
				content, err := e.Verify()
				if err != nil {
					t.Fatalf("notation-core-go rejects the envelope: %v", err)
				}
				d, err := envelope.ParsePayload(content.Payload.Content)
				if err != nil || d.Digest != digest || d.Size != int64(len(readFile(t, artifact))) || d.MediaType != "application/gzip" {
					t.Errorf("payload %+v, %v", d, err)
				}
				if !content.SignerInfo.CertificateChain[0].Equal(leaf) || !strings.HasPrefix(content.SignerInfo.UnsignedAttributes.SigningAgent, "notation-piv/") ||
					len(content.SignerInfo.UnsignedAttributes.TimestampSignature) == 0 || content.SignerInfo.SignedAttributes.Expiry.IsZero() {
					t.Errorf("signer info %+v", content.SignerInfo)
				}

				if r := runEnv(t, nil, "verify", out, "--trust-root", trustRoot, "--tsa-root", tsaRoot, "--artifact", artifact); r.code != 0 {
					t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				if r := runEnv(t, nil, "verify", out, "--trust-root", trustRoot, "--digest", digest); r.code != 0 {
					t.Errorf("verify --digest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				expectFailure(t, runEnv(t, nil, "verify", out, "--trust-root", trustRoot, "--artifact", other), "FAILED  artifact: ", "(artifact)")
			})
		}
	}
	t.Run("descriptor", func(t *testing.T) {
		leaf := provision(t, piv.AlgorithmEC256, nil)
		out := filepath.Join(t.TempDir(), "manifest.sig")
		desc := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest + `","size":406,"annotations":{"io.example":"yes"}}`
		if r := runEnv(t, nil, "sign", "--serial", fmt.Sprint(testSerial), "--descriptor", desc, "--format", "cose", "--out", out); r.code != 0 {
			t.Fatalf("sign --descriptor: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		rep, _ := inspectJSON(t, out)
		if d := rep.Payload.TargetArtifact; d.Size != 406 || d.Annotations["io.example"] != "yes" || rep.Format != "cose" {
			t.Errorf("target artifact %+v", d)
		}
		trust := writePEM(t, filepath.Join(t.TempDir(), "leaf.pem"), leaf)
		if r := runEnv(t, nil, "verify", out, "--trust-root", trust, "--digest", digest); r.code != 0 {
			t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestEnvelopeSignRefusals checks that "envelope sign" refuses bad options
// before it touches the card, and that a failed signature leaves no file.
func TestEnvelopeSignRefusals(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	dir := t.TempDir()
	artifact := writeFile(t, dir, "a.bin", []byte("artifact"))
	out := filepath.Join(dir, "a.sig")
	for _, tc := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"--artifact", artifact}, []string{"needs --out"}},
		{[]string{"--out", out}, []string{"needs --artifact FILE or --descriptor JSON"}},
		{[]string{"--out", out, "--artifact", artifact, "--descriptor", "{}"}, []string{"exclude each other"}},
		{[]string{"--out", out, "--artifact", artifact, "--format", "pkcs7"}, []string{`--format "pkcs7"`, "hint: use --format jws"}},
		{[]string{"--out", out, "--artifact", filepath.Join(dir, "missing")}, []string{"no such file"}},
		{[]string{"--out", dir, "--artifact", artifact}, []string{"is a directory"}},
		{[]string{"--out", filepath.Join(dir, "no", "such", "dir", "a.sig"), "--artifact", artifact}, []string{"--out", "no such file"}},
		{[]string{"--out", out, "--descriptor", `{"mediaType":"x","digest":"sha256:00","size":1}`}, []string{"--descriptor", "digest"}},
		{[]string{"--out", out, "--descriptor", `{"mediaType":"x","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1,"extra":1}`}, []string{"unknown field"}},
		{[]string{"--out", out, "--artifact", artifact, "--expiry", "-1h"}, []string{"--expiry"}},
		{[]string{"--out", out, "--artifact", artifact, "--tsa-url", "http://127.0.0.1:1/"}, []string{"--tsa-url needs --tsa-root-cert"}},
		{[]string{"--out", out, "--artifact", artifact, "--tsa-root-cert", artifact}, []string{"need --tsa-url"}},
		{[]string{"--out", out, "--artifact", artifact, "--tsa-url", "ftp://x/", "--tsa-root-cert", artifact}, []string{"--tsa-root-cert:"}},
		{[]string{"--out", out, "--artifact", artifact, "--ca-certs", filepath.Join(dir, "missing.pem")}, []string{"--ca-certs: CA bundle"}},
		{[]string{"--out", out, "--artifact", artifact, "--pin-file", artifact}, []string{"--pin-file: "}},
		{[]string{"--out", out, "--artifact", artifact, "--slot", "7f"}, []string{"7f"}},
		{[]string{"--out", out, "--artifact", artifact, "--serial", "99999999999"}, []string{"--serial"}},
		{[]string{"--out", out, "--artifact", artifact, "extra"}, []string{"takes no arguments"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			env.Card.ResetStats()
			expectFailure(t, runEnv(t, nil, append([]string{"sign"}, tc.args...)...), tc.fragments...)
			if n := env.Card.Stats().Commands; n != 0 {
				t.Errorf("the card got %d commands", n)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an envelope was written")
			}
		})
	}
	t.Run("wrong PIN", func(t *testing.T) {
		t.Setenv("NOTATION_PIV_PIN", "654321")
		expectFailure(t, runEnv(t, nil, "sign", "--serial", fmt.Sprint(testSerial), "--out", out, "--artifact", artifact), "wrong PIN")
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the directory holds %d files after a failed signature, want the artifact only", len(entries))
		}
	})
}

// TestEnvelopeHostileInput gives inspect and verify inputs that are no
// envelope: each gives a clear error, none a panic.
func TestEnvelopeHostileInput(t *testing.T) {
	dir := t.TempDir()
	trust := writePEM(t, filepath.Join(dir, "root.pem"), newTestCA(t).root)
	notationJWS := readFile(t, filepath.Join("..", "..", "envelope", "testdata", "notation-v1.3.2", "jws.sig"))
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, zeros{}, envelope.MaxEnvelopeSize+1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct {
		name, file string
		fragments  []string
	}{
		{"empty", writeFile(t, dir, "empty", nil), []string{"is empty"}},
		{"huge", huge, []string{"more than 4194304 bytes", "hint:"}},
		{"garbage", writeFile(t, dir, "garbage", []byte("\x00garbage\xff")), []string{"neither a JWS", "hint:"}},
		{"truncated", writeFile(t, dir, "truncated", notationJWS[:len(notationJWS)/2]), []string{"read jws envelope"}},
		{"missing", filepath.Join(dir, "missing"), []string{"no such file"}},
		{"directory", dir, []string{"is a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFailure(t, runEnv(t, nil, "inspect", tc.file), tc.fragments...)
			r := runEnv(t, nil, "verify", tc.file, "--trust-root", trust)
			expectFailure(t, r)
		})
	}
	expectFailure(t, runEnv(t, nil, "inspect", "-"), "stdin is empty")
	expectFailure(t, runEnv(t, []byte("not an envelope"), "inspect", "-"), "stdin: this is neither")
	jwsFile := writeFile(t, dir, "ok.sig", notationJWS)
	for _, tc := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"verify", jwsFile}, []string{"needs --trust-root"}},
		{[]string{"verify", jwsFile, "--trust-root", jwsFile}, []string{"holds no PEM certificate"}},
		{[]string{"verify", jwsFile, "--trust-root", trust, "--digest", "md5:00"}, []string{"--digest"}},
		{[]string{"verify", jwsFile, "--trust-root", trust, "--digest", "sha256:" + strings.Repeat("0", 64), "--artifact", jwsFile}, []string{"exclude each other"}},
		{[]string{"verify", jwsFile, "--trust-root", trust, "--tsa-root", jwsFile}, []string{"--tsa-root: TSA root certificate"}},
		{[]string{"inspect"}, []string{"takes one argument, not 0"}},
		{[]string{"inspect", jwsFile, jwsFile}, []string{"takes one argument, not 2"}},
		{[]string{"frobnicate"}, []string{`no subcommand "frobnicate"`}},
		{nil, []string{"needs a subcommand"}},
	} {
		expectFailure(t, runEnv(t, nil, tc.args...), tc.fragments...)
	}
	for _, args := range [][]string{{"--help"}, {"inspect", "--help"}, {"verify", "--help"}, {"sign", "--help"}} {
		if r := runEnv(t, nil, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stdout)
		}
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestEnvelopeTrustRootFile checks that verify refuses trust roots that a
// notation trust store refuses: a certificate that is neither a CA nor
// self-signed.
func TestEnvelopeTrustRootFile(t *testing.T) {
	ca := newTestCA(t)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: ca.root.SerialNumber, Subject: signerSubject, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.intermediate, leafKey.Public(), ca.intermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	file := writePEM(t, filepath.Join(t.TempDir(), "leaf.pem"), leaf)
	env := writeFile(t, t.TempDir(), "e.sig", readFile(t, filepath.Join("..", "..", "envelope", "testdata", "notation-v1.3.2", "cose.sig")))
	expectFailure(t, runEnv(t, nil, "verify", env, "--trust-root", file), "neither a CA nor self-signed")
}
