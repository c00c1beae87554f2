package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/contract"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// Hostile requests and settings, through the plugin binary with the
// virtual card present: each must fail fast with exit status 1, nothing on
// stdout and one short JSON error on stderr with the right code, naming
// the request field or setting and saying what to do, without a single
// APDU to the card and with the PIN retries unchanged. Each case logs its
// code, message and time to fail (go test -v).

// hostileDeadline is how long a hostile case may take to fail, start-up
// of the plugin included: it must not wait for anything.
const hostileDeadline = 2 * time.Second

// expectRefused runs one hostile request and checks that the plugin
// refuses it as the contract asks, before the card: see the top of this
// file. It returns the error's message.
func expectRefused(t *testing.T, env *vcardtest.Env, command, request string, code plugin.ErrorCode, fragments ...string) string {
	t.Helper()
	retries := pinRetries(t, env)
	env.Card.ResetStats()
	r, elapsed := invokeWithin(t, 10*time.Second, command, request, "NOTATION_PIV_PIN=123456")
	perr := expectError(t, r, code, fragments...)
	if n := env.Card.Stats().Commands; n != 0 {
		t.Errorf("%s: the card got %d APDUs before the request was refused", command, n)
	}
	if n := pinRetries(t, env); n != retries {
		t.Errorf("%s: %d PIN retries left, %d before", command, n, retries)
	}
	if len(r.stderr) > contract.MaxMessage+200 {
		t.Errorf("%s: %d bytes on stderr", command, len(r.stderr))
	}
	if elapsed > hostileDeadline {
		t.Errorf("%s: took %v to fail, more than %v", command, elapsed, hostileDeadline)
	}
	t.Logf("%s: %s in %v: %s", command, perr.ErrCode, elapsed.Round(time.Millisecond), perr.Message)
	return perr.Message
}

// TestHostileConfig names hostile files and URLs in every setting that
// takes one, for every contract command that uses the card.
func TestHostileConfig(t *testing.T) {
	env := needCard(t)
	ca := fixtures.Intermediate()
	provision(t, piv.AlgorithmEC256, ca)
	ft := newSpecialFiles(t)
	dir := t.TempDir()
	intermediate, root := ca.Cert, fixtures.Root().Cert
	bundle := writePEM(t, filepath.Join(dir, "ca.pem"), intermediate, root)
	unrelated := fixtures.NewRoot("Unrelated Root").Cert
	tsaRoot := writePEM(t, filepath.Join(dir, "tsa-root.pem"), unrelated)
	const tsaURL = "http://127.0.0.1:9/tsa" // never asked: the settings fail first

	files := []struct {
		name, path string
		fragment   string
	}{
		{"directory", ft.dir, "is a directory, not a file: give the path of the"},
		{"FIFO", ft.fifo, "is not a regular file (a FIFO): give the path of a regular"},
		{"device", "/dev/zero", "is not a regular file (a character device): give the path of a regular"},
		{"sparse 64 MiB", ft.huge, "is 67108864 bytes, more than the limit of"},
	}
	card := []string{"describe-key", "generate-signature", "generate-envelope"}
	type hostileCase struct {
		name      string
		commands  []string
		config    map[string]string
		fragments []string
	}
	var cases []hostileCase
	for _, f := range files {
		cases = append(cases,
			hostileCase{"ca_certs " + f.name, card, map[string]string{"ca_certs": f.path}, []string{"pluginConfig ca_certs: CA bundle: " + f.path, f.fragment}},
			hostileCase{"pin_file " + f.name, card, map[string]string{"ca_certs": bundle, "pin_file": f.path}, []string{"pluginConfig pin_file: PIN file: " + f.path, f.fragment}},
			hostileCase{"tsa_root_cert " + f.name, card, map[string]string{"ca_certs": bundle, "tsa_url": tsaURL, "tsa_root_cert": f.path},
				[]string{"pluginConfig tsa_root_cert: TSA root certificate: " + f.path, f.fragment}},
		)
	}
	unrelatedBundle := writePEM(t, filepath.Join(dir, "unrelated.pem"), intermediate, root, unrelated)
	cases = append(cases,
		hostileCase{"ca_certs with an unrelated certificate", card, map[string]string{"ca_certs": unrelatedBundle},
			[]string{"pluginConfig ca_certs: CA bundle " + unrelatedBundle + " holds 2 separate chains", `["CN=Unrelated Root"]`, "remove the certificates that do not belong to it"}},
		hostileCase{"ca_certs without its root", card, map[string]string{"ca_certs": writePEM(t, filepath.Join(dir, "no-root.pem"), intermediate)},
			[]string{"pluginConfig ca_certs", "which is not a self-signed root: add its issuer"}},
		hostileCase{"ca_certs with a certificate twice", card, map[string]string{"ca_certs": writePEM(t, filepath.Join(dir, "twice.pem"), intermediate, root, intermediate)},
			[]string{"pluginConfig ca_certs", "twice, as certificates 1 and 3: remove the copy"}},
	)
	for _, url := range []struct{ url, fragment string }{
		{"ftp://127.0.0.1/tsa", `has scheme "ftp": only http and https are supported`},
		{"file:///etc/passwd", `has scheme "file": only http and https are supported`},
		{"javascript:alert(1)", `has scheme "javascript": only http and https are supported`},
		{"127.0.0.1/tsa", "has no scheme: write http:// or https:// in front of it"},
		{"//127.0.0.1/tsa", "has no scheme: write http:// or https:// in front of it"},
		{"http:///tsa", "names no host"},
		{"http://user:s3cret@127.0.0.1/tsa", "holds a user name or password, which would be stored and logged in plain text: remove them"},
		{"http://127.0.0.1:port/tsa", "does not parse"},
	} {
		cases = append(cases, hostileCase{"tsa_url " + url.url, []string{"generate-envelope"},
			map[string]string{"tsa_url": url.url, "tsa_root_cert": tsaRoot}, []string{"pluginConfig tsa_url: timestamp authority URL", url.fragment}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, command := range tc.commands {
				msg := expectRefused(t, env, command, hostileRequest(t, command, tc.config, nil), plugin.ErrorCodeValidation, tc.fragments...)
				if strings.Contains(msg, "s3cret") {
					t.Errorf("the message repeats the TSA password: %s", msg)
				}
			}
		})
	}
	t.Run("the password of a TSA URL stays out of the debug log", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "plugin.log")
		req := hostileRequest(t, "generate-envelope", map[string]string{"tsa_url": "http://user:s3cret@127.0.0.1/tsa", "tsa_root_cert": tsaRoot}, nil)
		r, _ := invokeWithin(t, 10*time.Second, "generate-envelope", req, "NOTATION_PIV_LOG="+logFile)
		expectError(t, r, plugin.ErrorCodeValidation, "tsa_url")
		log, err := os.ReadFile(logFile)
		if err != nil || !strings.Contains(string(log), "generate-envelope failed") || strings.Contains(string(log), "s3cret") {
			t.Errorf("debug log (%v):\n%s", err, log)
		}
	})
}

// TestHostileRequests sends requests that break the limits or the shape
// of each command.
func TestHostileRequests(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	set := func(command string, change func(map[string]any)) string {
		return hostileRequest(t, command, nil, change)
	}
	descriptor := func(annotation int) []byte {
		return []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("0", 64) +
			`","size":406,"annotations":{"k":"` + strings.Repeat("v", annotation) + `"}}}`)
	}
	for _, tc := range []struct {
		name, command, request string
		code                   plugin.ErrorCode
		fragments              []string
	}{
		{"request over 1 MiB", "generate-envelope", `{"contractVersion":"1.0","keyId":"9c","x":"` + strings.Repeat("x", contract.MaxRequestSize) + `"}`,
			plugin.ErrorCodeValidation, []string{"larger than 1048576 bytes", "check what is calling the plugin"}},
		{"envelope payload over 64 KiB", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["payload"] = descriptor(contract.MaxPayloadSize) }),
			plugin.ErrorCodeValidation, []string{"payload is 65", "more than the limit of 65536 for a Notary payload", "fewer or shorter annotations"}},
		{"envelope payload not a Notary payload", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["payload"] = []byte(`{"targetArtifact":{},"x":1}`) }),
			plugin.ErrorCodeValidation, []string{"payload: the payload is not a Notary payload", "check what is calling the plugin"}},
		{"envelope type unknown and long", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["signatureEnvelopeType"] = strings.Repeat("x", 100000) }),
			plugin.ErrorCodeValidation, []string{"(100000 bytes)", "use one of application/cose, application/jose+json"}},
		{"payload type", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["payloadType"] = "application/json" }),
			plugin.ErrorCodeValidation, []string{`payloadType "application/json" is not supported`}},
		{"expiry over 100 years", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["expiryDurationInSeconds"] = uint64(1) << 62 }),
			plugin.ErrorCodeValidation, []string{"more than 100 years"}},
		{"signature payload over 128 KiB", "generate-signature", set("generate-signature", func(r map[string]any) { r["payload"] = []byte("e30." + strings.Repeat("A", contract.MaxSigningInput)) }),
			plugin.ErrorCodeValidation, []string{"payload is 131076 bytes, more than the limit of 131072"}},
		{"signature payload of another shape", "generate-signature", set("generate-signature", func(r map[string]any) { r["payload"] = []byte("\x30\x31 a TLS handshake hash, say") }),
			plugin.ErrorCodeValidation, []string{"neither a JWS signing input", "nor a COSE Sig_structure"}},
		{"keySpec no PIV card holds", "generate-signature", set("generate-signature", func(r map[string]any) { r["keySpec"], r["hashAlgorithm"] = "EC-521", "SHA-512" }),
			plugin.ErrorCodeValidation, []string{`keySpec "EC-521" is not a key a PIV card holds`}},
		{"hash that does not fit the keySpec", "generate-signature", set("generate-signature", func(r map[string]any) { r["hashAlgorithm"] = "SHA-512" }),
			plugin.ErrorCodeValidation, []string{`hashAlgorithm "SHA-512" does not fit keySpec EC-256, which signs with SHA-256`}},
		{"keyId of 100 KB", "describe-key", set("describe-key", func(r map[string]any) { r["keyId"] = strings.Repeat("9c", 50000) }),
			plugin.ErrorCodeValidation, []string{"keyId: invalid PIV slot", "use one of 9a, 9c, 9d, 9e or 82 to 95"}},
		{"keyId with a NUL", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["keyId"] = "9\x00" }),
			plugin.ErrorCodeValidation, []string{"keyId: invalid PIV slot"}},
		{"contract version of 100 KB", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["contractVersion"] = strings.Repeat("2", 100000) }),
			plugin.ErrorCodeUnsupportedContractVersion, []string{"(100000 bytes)", "is not a supported notary plugin contract version"}},
		{"pluginConfig value of 5000 bytes", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["pluginConfig"].(map[string]any)["reader"] = strings.Repeat("r", 5000) }),
			plugin.ErrorCodeValidation, []string{`pluginConfig "reader" holds 5000 bytes, more than the limit of 4096`}},
		{"pluginConfig key of 4000 control characters", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["pluginConfig"].(map[string]any)[strings.Repeat("\x04", 4000)] = "v" }),
			plugin.ErrorCodeValidation, []string{"is 4000 bytes long, longer than any valid key; valid keys are allow_last_pin_try, attest, attestation_roots, ca_certs"}},
		{"serial of 4000 control characters", "generate-envelope", set("generate-envelope", func(r map[string]any) { r["pluginConfig"].(map[string]any)["serial"] = strings.Repeat("\x04", 4000) }),
			plugin.ErrorCodeValidation, []string{"pluginConfig serial", "bytes)"}},
		{"10000 unknown pluginConfig keys", "generate-envelope", set("generate-envelope", func(r map[string]any) {
			m := r["pluginConfig"].(map[string]any)
			for i := range 10000 {
				m[fmt.Sprintf("key%05d", i)] = "v"
			}
		}), plugin.ErrorCodeValidation, []string{`pluginConfig key "key00000" is not known`}},
		{"deeply nested JSON", "describe-key", strings.Repeat("[", 100000), plugin.ErrorCodeValidation, []string{"Input is not a valid JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectRefused(t, env, tc.command, tc.request, tc.code, tc.fragments...)
		})
	}
	t.Run("the largest payloads notation could send still sign", func(t *testing.T) {
		// A Notary payload of contract.MaxPayloadSize bytes passes the check before
		// the card, and so does the JWS signing input notation would
		// build around it.
		payload := descriptor(contract.MaxPayloadSize - len(descriptor(0)))
		if len(payload) != contract.MaxPayloadSize {
			t.Fatalf("payload of %d bytes", len(payload))
		}
		req := set("generate-envelope", func(r map[string]any) { r["payload"] = payload })
		if r, _ := invokeWithin(t, 10*time.Second, "generate-envelope", req, "NOTATION_PIV_PIN=123456"); r.code != 0 {
			t.Errorf("generate-envelope of %d bytes: %s", len(payload), r.stderr)
		}
		header := `{"alg":"ES256","crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"],"cty":"application/vnd.cncf.notary.payload.v1+json",` +
			`"io.cncf.notary.expiry":"2026-11-23T06:39:11Z","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2026-11-22T06:39:11Z"}`
		input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
		req = set("generate-signature", func(r map[string]any) { r["payload"] = []byte(input) })
		if r, _ := invokeWithin(t, 10*time.Second, "generate-signature", req, "NOTATION_PIV_PIN=123456"); r.code != 0 {
			t.Errorf("generate-signature of %d bytes: %s", len(input), r.stderr)
		}
	})
}

// TestHostileBundle covers the CA bundles that only the slot's certificate
// shows wrong, and a correct bundle in the wrong order.
func TestHostileBundle(t *testing.T) {
	env := needCard(t)
	ca := fixtures.Intermediate()
	leaf := provision(t, piv.AlgorithmEC256, ca)
	intermediate, root := ca.Cert, fixtures.Root().Cert
	dir := t.TempDir()

	t.Run("the right certificates in the wrong order", func(t *testing.T) {
		// certchain.LoadBundle orders a bundle that is one chain, so the
		// envelope carries leaf, intermediate, root.
		req := hostileRequest(t, "generate-envelope", map[string]string{"ca_certs": writePEM(t, filepath.Join(dir, "reversed.pem"), root, intermediate)}, nil)
		r, _ := invokeWithin(t, 10*time.Second, "generate-envelope", req, "NOTATION_PIV_PIN=123456")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var resp plugin.GenerateEnvelopeResponse
		must(t, json.Unmarshal([]byte(r.stdout), &resp))
		chain := envelopeContent(t, "jws", resp.SignatureEnvelope).SignerInfo.CertificateChain
		if len(chain) != 3 || !chain[0].Equal(leaf) || !chain[1].Equal(intermediate) || !chain[2].Equal(root) {
			t.Errorf("the envelope's chain is not leaf, intermediate, root: %d certificates", len(chain))
		}
	})

	// A bundle that is one chain, but not the leaf's, shows only once the
	// slot's certificate is read: that costs APDUs, but no PIN.
	other := impostorCA()
	for _, tc := range []struct {
		name      string
		bundle    []*x509.Certificate
		fragments []string
	}{
		{"a root of no chain of the leaf", []*x509.Certificate{fixtures.NewRoot("Unrelated Root").Cert},
			[]string{`but the CA bundle starts with "CN=Unrelated Root", which is not part of its chain`}},
		{"a CA of the same names with other keys", other.Chain(),
			[]string{`is not signed by "CN=notation-piv test intermediate" that follows it`, "put the certificate of its real issuer there"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := hostileRequest(t, "generate-envelope", map[string]string{"ca_certs": writePEM(t, filepath.Join(t.TempDir(), "ca.pem"), tc.bundle...)}, nil)
			retries := pinRetries(t, env)
			env.Card.ResetStats()
			r, elapsed := invokeWithin(t, 10*time.Second, "generate-envelope", req, "NOTATION_PIV_PIN=123456")
			perr := expectError(t, r, plugin.ErrorCodeValidation, append([]string{"the certificate chain of slot 9c cannot sign"}, tc.fragments...)...)
			if n := sent(env, "VERIFY"); n != 0 {
				t.Errorf("the PIN was verified %d times", n)
			}
			if n := pinRetries(t, env); n != retries {
				t.Errorf("%d PIN retries left, %d before", n, retries)
			}
			t.Logf("%s in %v, %d APDUs: %s", perr.ErrCode, elapsed.Round(time.Millisecond), env.Card.Stats().Commands, perr.Message)
		})
	}
}
