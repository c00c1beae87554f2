package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/internal/cli"
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
	code := cli.Run(t.Context(), testVersion, append([]string{"envelope"}, args...), bytes.NewReader(stdin), &stdout, &stderr)
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

// envelopeWithin runs "notation-piv envelope ARGS" with the plugin binary,
// with stdin from a file (nil: none), and fails the test if it is still
// running after limit.
func envelopeWithin(t *testing.T, limit time.Duration, stdin *os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.plugin, append([]string{"envelope"}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NOTATION_PIV_PIN=" + piv.DefaultPIN}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("envelope %s hung: killed after %v; stderr %q", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run the plugin: %v", err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// expectNoOutputFailure checks that a command failed with exit status 1 and no
// output on stdout, with an error naming each fragment.
func expectNoOutputFailure(t *testing.T, r result, fragments ...string) {
	t.Helper()
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	expectFailure(t, r, fragments...)
}

// specialFiles are files of every type but regular: a FIFO, a symbolic
// link to it, a directory, a Unix socket and a character device, a copy of
// /dev/null, where writing is safe: an --out that replaced it would not
// break the machine's /dev/null. Without the right to make a device node,
// device is /dev/zero, to read only.
type specialFiles struct {
	fifo, link, dir, socket, device string
}

// newSpecialFiles makes specialFiles in a new directory.
func newSpecialFiles(t *testing.T) specialFiles {
	t.Helper()
	// A short directory: a socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "ft")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ft := specialFiles{fifo: filepath.Join(dir, "fifo"), link: filepath.Join(dir, "link"), dir: filepath.Join(dir, "d"), socket: filepath.Join(dir, "s"), device: filepath.Join(dir, "null")}
	if err := syscall.Mknod(ft.device, syscall.S_IFCHR|0o666, 1<<8|3); err != nil { // major 1, minor 3: null
		ft.device = "/dev/zero"
	}
	if err := syscall.Mkfifo(ft.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ft.fifo, ft.link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(ft.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", ft.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return ft
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
	env := writeFile(t, dir, "e.sig", readFile(t, filepath.Join("..", "..", "envelope", "testdata", "notation-v1.3.2", "jws.sig")))
	trust := writePEM(t, filepath.Join(dir, "root.pem"), newTestCA(t).root)
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
			expectNoOutputFailure(t, envelopeWithin(t, 2*time.Second, nil, tc.args...), tc.fragments...)
		})
	}

	// An artifact may be larger than any envelope: a sparse file of 64 MiB
	// is read whole, and its digest compared.
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r := envelopeWithin(t, 20*time.Second, nil, "verify", env, "--trust-root", trust, "--artifact", big)
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
	if err := os.Symlink(target, toTarget); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
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
			expectNoOutputFailure(t, envelopeWithin(t, 2*time.Second, nil, args...), tc.fragments...)
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
	r := envelopeWithin(t, 30*time.Second, nil, "sign", "--serial", serial, "--out", out, "--artifact", artifact)
	if r.code != 0 {
		t.Fatalf("sign after the refusals: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// runUntilSignal starts "notation-piv envelope ARGS" with the plugin
// binary and stdin, sends it sig after half a second, and fails the test
// if it ended before the signal or runs on for a second after it.
func runUntilSignal(t *testing.T, stdin *os.File, sig syscall.Signal, args ...string) result {
	t.Helper()
	cmd := exec.Command(harness.plugin, append([]string{"envelope"}, args...)...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("ended before the signal: %v\n%s", err, stderr.String())
	case <-time.After(500 * time.Millisecond):
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case <-exited:
	case <-time.After(time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("still running 1 s after %v; killed", sig)
	}
	t.Logf("ended %v after %v", time.Since(sent).Round(time.Millisecond), sig)
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
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
	trust := writePEM(t, filepath.Join(dir, "root.pem"), newTestCA(t).root)
	env := writeFile(t, dir, "e.sig", readFile(t, filepath.Join("..", "..", "envelope", "testdata", "notation-v1.3.2", "jws.sig")))
	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGTERM, []string{"inspect", "-"}},
		{syscall.SIGINT, []string{"inspect", "-"}},
		{syscall.SIGTERM, []string{"verify", "-", "--trust-root", trust}},
	} {
		t.Run(tc.sig.String()+" "+tc.args[0]+" stdin", func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close() // only once the command has ended
			// The beginning of an envelope, never its end.
			if _, err := w.WriteString(`{"payload":`); err != nil {
				t.Fatal(err)
			}
			expectNoOutputFailure(t, runUntilSignal(t, r, tc.sig, tc.args...), "stopped by a signal before the envelope on stdin was complete", `hint: pipe a complete envelope into "-"`)
		})
	}

	huge := filepath.Join(dir, "huge.bin")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 30); err != nil {
		t.Skipf("no sparse file of 64 GiB here: %v", err)
	}
	f.Close()
	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGTERM, []string{"verify", env, "--trust-root", trust, "--artifact", huge}},
		{syscall.SIGINT, []string{"sign", "--out", filepath.Join(dir, "huge.sig"), "--artifact", huge}},
	} {
		t.Run(tc.sig.String()+" "+tc.args[0]+" --artifact", func(t *testing.T) {
			expectNoOutputFailure(t, runUntilSignal(t, nil, tc.sig, tc.args...), "--artifact "+huge+": stopped by a signal while reading it")
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "huge.sig")); err == nil {
		t.Error("an interrupted envelope sign wrote its --out")
	}
}
