package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/recorded"
	"github.com/notation-piv/notation-piv/internal/cli"
)

// registerFormats registers the envelope formats in the test binary, as
// main does in the plugin binary.
var registerFormats = sync.OnceFunc(func() {
	envelope.Register(jws.Format{})
	envelope.Register(cose.Format{})
})

// runEnv runs "notation-piv envelope ARGS" in-process with stdin.
func runEnv(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	registerFormats()
	var stdout, stderr bytes.Buffer
	code := cli.Run(t.Context(), testVersion, append([]string{"envelope"}, args...), bytes.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
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
				must(t, json.Unmarshal(layout.blob(t, manDigest), &man))
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
	must(t, err)
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
		must(t, err)
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
		var extra []string
		leaf := provision(t, piv.AlgorithmEC256, nil)
		trustRoot := writePEM(t, filepath.Join(dir, "leaf.pem"), leaf)
		if chained {
			ca := fixtures.Intermediate()
			leaf = provision(t, piv.AlgorithmRSA2048, ca)
			extra = []string{"--ca-certs", writePEM(t, filepath.Join(dir, "ca.pem"), ca.Chain()...)}
			trustRoot = writePEM(t, filepath.Join(dir, "root.pem"), fixtures.Root().Cert)
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

				content, err := envelopetest.CoreVerify(mediaTypeOf[format], env)
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

// envelopeWithin runs "notation-piv envelope ARGS" with the plugin binary,
// with the factory PIN, and fails the test if it is still running after
// limit.
func envelopeWithin(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	r, _ := runWithin(t, limit, nil, "", factoryPINEnv, append([]string{"envelope"}, args...)...)
	return r
}

// TestEnvelopeInputFileTypes gives inspect and verify, through the plugin
// binary, a FIFO (that nobody writes), a symbolic link to it, a device, a
// socket or a directory where they read a file (issue 13, finding 4):
// each ends at once, exit status 1 and nothing on stdout, with an error
// naming the option and the file's type. Before, a FIFO hung them until
// killed, and --artifact /dev/zero spun forever.
func TestEnvelopeInputFileTypes(t *testing.T) {
	ft := newSpecialFiles(t)
	dir := t.TempDir()
	env := writeFile(t, dir, "e.sig", recorded.Envelope("jws"))
	trust := writePEM(t, filepath.Join(dir, "root.pem"), fixtures.Root().Cert)
	for _, tc := range []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"inspect FIFO", []string{"inspect", ft.fifo}, []string{ft.fifo + " is a FIFO, not a regular file", `hint: give the envelope's file, or "-"`}},
		{"inspect link to FIFO", []string{"inspect", ft.link}, []string{ft.link + " is a FIFO"}},
		{"inspect /dev/zero", []string{"inspect", "/dev/zero"}, []string{"/dev/zero is a character device, not a regular file"}},
		{"inspect socket", []string{"inspect", ft.socket}, []string{ft.socket + " is a socket"}},
		{"inspect directory", []string{"inspect", ft.dir}, []string{ft.dir + " is a directory"}},
		{"inspect --tsa-root FIFO", []string{"inspect", env, "--tsa-root", ft.fifo}, []string{"--tsa-root", "a FIFO"}},
		{"verify FIFO", []string{"verify", ft.fifo, "--trust-root", trust}, []string{ft.fifo + " is a FIFO"}},
		{"verify --trust-root FIFO", []string{"verify", env, "--trust-root", ft.fifo}, []string{"--trust-root " + ft.fifo + " is a FIFO, not a regular file", "hint: give the PEM file"}},
		{"verify --trust-root /dev/zero", []string{"verify", env, "--trust-root", "/dev/zero"}, []string{"--trust-root /dev/zero is a character device"}},
		{"verify --tsa-root FIFO", []string{"verify", env, "--trust-root", trust, "--tsa-root", ft.fifo}, []string{"--tsa-root", "a FIFO"}},
		{"verify --artifact FIFO", []string{"verify", env, "--trust-root", trust, "--artifact", ft.fifo}, []string{"--artifact " + ft.fifo + " is a FIFO, not a regular file", "hint: give the artifact's own file"}},
		{"verify --artifact link to FIFO", []string{"verify", env, "--trust-root", trust, "--artifact", ft.link}, []string{"--artifact " + ft.link + " is a FIFO"}},
		{"verify --artifact /dev/zero", []string{"verify", env, "--trust-root", trust, "--artifact", "/dev/zero"}, []string{"--artifact /dev/zero is a character device", "save it to a file first"}},
		{"verify --artifact socket", []string{"verify", env, "--trust-root", trust, "--artifact", ft.socket}, []string{"--artifact " + ft.socket + " is a socket"}},
		{"verify --artifact directory", []string{"verify", env, "--trust-root", trust, "--artifact", ft.dir}, []string{"--artifact " + ft.dir + " is a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectNoOutputFailure(t, envelopeWithin(t, 2*time.Second, tc.args...), tc.fragments...)
		})
	}

	// An artifact may be larger than any envelope: a sparse file of 64 MiB
	// is read whole, and its digest compared.
	r := envelopeWithin(t, 20*time.Second, "verify", env, "--trust-root", trust, "--artifact", ft.huge)
	expectFailure(t, r, "FAILED  artifact: the payload names sha256:", "sha256:3b6a07d0d404fab4e23b6d34bc6696a6a312dd92821332385e5af7c01c421351")
}

// TestEnvelopeSignFileTypes gives "envelope sign", through the plugin
// binary with the virtual card, a FIFO, a device, a socket or a directory
// as --artifact, and those or a symbolic link as --out (issue 13, findings
// 4 and 10): each ends at once, exit status 1 and nothing on stdout, with
// an error naming the option and the file's type, before the card gets a
// single command; what --out names is unchanged, and no file is left
// behind.
func TestEnvelopeSignFileTypes(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	ft := newSpecialFiles(t)
	dir := t.TempDir()
	artifact := writeFile(t, dir, "a.bin", []byte("artifact"))
	target := writeFile(t, dir, "target", []byte("the link's target\n"))
	toTarget := filepath.Join(dir, "to-target")
	must(t, os.Symlink(target, toTarget))
	dangling := filepath.Join(dir, "dangling")
	must(t, os.Symlink(filepath.Join(dir, "nowhere"), dangling))
	out := filepath.Join(dir, "a.sig")
	serial := fmt.Sprint(testSerial)
	for _, tc := range []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"--artifact FIFO", []string{"--out", out, "--artifact", ft.fifo}, []string{"--artifact " + ft.fifo + " is a FIFO, not a regular file", "hint: give the artifact's own file"}},
		{"--artifact link to FIFO", []string{"--out", out, "--artifact", ft.link}, []string{"--artifact " + ft.link + " is a FIFO"}},
		{"--artifact /dev/zero", []string{"--out", out, "--artifact", "/dev/zero"}, []string{"--artifact /dev/zero is a character device"}},
		{"--artifact socket", []string{"--out", out, "--artifact", ft.socket}, []string{"--artifact " + ft.socket + " is a socket"}},
		{"--artifact directory", []string{"--out", out, "--artifact", ft.dir}, []string{"--artifact " + ft.dir + " is a directory"}},
		{"--out FIFO", []string{"--out", ft.fifo, "--artifact", artifact}, []string{"--out " + ft.fifo + " is a FIFO, not a regular file", "hint: name a new file"}},
		{"--out device", []string{"--out", ft.device, "--artifact", artifact}, []string{"--out " + ft.device + " is a character device"}},
		{"--out socket", []string{"--out", ft.socket, "--artifact", artifact}, []string{"--out " + ft.socket + " is a socket"}},
		{"--out directory", []string{"--out", ft.dir, "--artifact", artifact}, []string{"--out " + ft.dir + " is a directory"}},
		{"--out link to FIFO", []string{"--out", ft.link, "--artifact", artifact}, []string{"--out " + ft.link + " is a symbolic link", "name the target itself"}},
		{"--out link to a file", []string{"--out", toTarget, "--artifact", artifact}, []string{"--out " + toTarget + " is a symbolic link"}},
		{"--out dangling link", []string{"--out", dangling, "--artifact", artifact}, []string{"--out " + dangling + " is a symbolic link"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.args[0] == "--out" && tc.args[1] == "/dev/zero" {
				t.Skip("no device node of our own to give as --out (it takes root to make one), and /dev/zero is the machine's")
			}
			env.Card.ResetStats()
			args := append([]string{"sign", "--serial", serial}, tc.args...)
			expectNoOutputFailure(t, envelopeWithin(t, 2*time.Second, args...), tc.fragments...)
			if n := env.Card.Stats().Commands; n != 0 {
				t.Errorf("the card got %d commands", n)
			}
		})
	}
	if got := string(readFile(t, target)); got != "the link's target\n" {
		t.Errorf("the target of the --out link holds %q", got)
	}
	for _, link := range []string{toTarget, dangling, ft.link} {
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symbolic link: %v", link, err)
		}
	}
	for path, mode := range map[string]fs.FileMode{ft.fifo: fs.ModeNamedPipe, ft.socket: fs.ModeSocket, ft.device: fs.ModeCharDevice, ft.dir: fs.ModeDir} {
		if fi, err := os.Lstat(path); err != nil || fi.Mode()&mode == 0 {
			t.Errorf("%s was replaced: %v", path, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("%s holds %d files, want the artifact, the target and the two links", dir, len(entries))
	}
	// The card is free: a signature goes through.
	r := envelopeWithin(t, 30*time.Second, "sign", "--serial", serial, "--out", out, "--artifact", artifact)
	if r.code != 0 {
		t.Fatalf("sign after the refusals: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// runUntilSignal starts "notation-piv envelope ARGS" with the plugin
// binary and input on a stdin that stays open (closed at once if ""),
// sends it sig after half a second, and fails the test if it ended before
// the signal or ran on for more than signalBound after it.
func runUntilSignal(t *testing.T, input string, sig syscall.Signal, args ...string) result {
	t.Helper()
	p := startPlugin(t, input, input == "", nil, append([]string{"envelope"}, args...)...)
	time.Sleep(500 * time.Millisecond)
	return p.stop(t, sig)
}

// TestEnvelopeSignals sends SIGTERM or SIGINT, through the plugin binary,
// to "envelope inspect -" and "envelope verify -" waiting on a stdin that
// never closes, as "sleep 100 | notation-piv envelope inspect -" gives,
// and to "envelope verify --artifact" and "envelope sign --artifact"
// hashing a sparse file of 64 GiB (issue 13, finding 4): each ends within
// a second, with exit status 1, nothing on stdout and an error that says
// why. Before, they waited for stdin, or hashed on, and ignored both.
func TestEnvelopeSignals(t *testing.T) {
	dir := t.TempDir()
	trust := writePEM(t, filepath.Join(dir, "root.pem"), fixtures.Root().Cert)
	env := writeFile(t, dir, "e.sig", recorded.Envelope("jws"))
	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGTERM, []string{"inspect", "-"}},
		{syscall.SIGINT, []string{"inspect", "-"}},
		{syscall.SIGTERM, []string{"verify", "-", "--trust-root", trust}},
	} {
		t.Run(tc.sig.String()+" "+tc.args[0]+" stdin", func(t *testing.T) {
			// The beginning of an envelope, never its end.
			expectNoOutputFailure(t, runUntilSignal(t, `{"payload":`, tc.sig, tc.args...), "stopped by a signal before the envelope on stdin was complete", `hint: pipe a complete envelope into "-"`)
		})
	}

	huge := filepath.Join(dir, "huge.bin")
	if !sparseFile(t, huge, 64<<30) {
		t.Skip("no sparse file of 64 GiB here")
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGTERM, []string{"verify", env, "--trust-root", trust, "--artifact", huge}},
		{syscall.SIGINT, []string{"sign", "--out", filepath.Join(dir, "huge.sig"), "--artifact", huge}},
	} {
		t.Run(tc.sig.String()+" "+tc.args[0]+" --artifact", func(t *testing.T) {
			expectNoOutputFailure(t, runUntilSignal(t, "", tc.sig, tc.args...), "--artifact "+huge+": stopped by a signal while reading it")
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "huge.sig")); err == nil {
		t.Error("an interrupted envelope sign wrote its --out")
	}
}
