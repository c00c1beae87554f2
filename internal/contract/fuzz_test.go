package contract

// Fuzz targets for the contract requests, run through checkRequest: all
// the plugin does with a request before it touches the card. A request
// may be anything, but the answer must be a contract error with the code
// for bad input and a short message, or a request of the command's type
// within every limit; never a panic.
//
// FuzzRequest feeds any bytes as the request of any command. The other
// targets build well-formed JSON from fuzzed fields and a fuzzed
// pluginConfig, one per command. The seeds are the requests notation
// v1.3.2 sent to the plugin when it signed in both modes and formats
// (package fixtures/recorded), and settings that name good and hostile
// files.

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/recorded"
	"github.com/notation-piv/notation-piv/internal/signing"
)

// contractCommands are the four commands notation runs.
var contractCommands = []plugin.Command{
	plugin.CommandGetMetadata, plugin.CommandDescribeKey, plugin.CommandGenerateSignature, plugin.CommandGenerateEnvelope,
}

// testVersion is the plugin version the tests check requests with.
const testVersion = "0.1.0"

// registerFormats registers the envelope formats, as main does.
var registerFormats = sync.OnceFunc(func() {
	envelope.Register(jws.Format{})
	envelope.Register(cose.Format{})
})

// realRequests returns the requests notation sent, by file name (which
// starts with the command). It registers the envelope formats, as main
// does.
func realRequests() map[string][]byte {
	registerFormats()
	return recorded.Requests()
}

// recordedRequests returns the requests notation sent for cmd, decoded.
func recordedRequests[T any](f *testing.F, cmd plugin.Command) []T {
	f.Helper()
	var out []T
	for name, body := range realRequests() {
		if strings.HasPrefix(name, string(cmd)+".") {
			var r T
			if err := json.Unmarshal(body, &r); err != nil {
				f.Fatal(err)
			}
			out = append(out, r)
		}
	}
	return out
}

// checkOutcome checks what checkRequest returned for a request of cmd.
func checkOutcome(t *testing.T, cmd plugin.Command, req any, err error) {
	t.Helper()
	if err != nil {
		perr := toPluginError(err)
		if perr.ErrCode != plugin.ErrorCodeValidation && perr.ErrCode != plugin.ErrorCodeUnsupportedContractVersion {
			t.Fatalf("%s: error code %s for a bad request: %s", cmd, perr.ErrCode, perr.Message)
		}
		if perr.Message == "" || req != nil {
			t.Fatalf("%s: error %+v with request %v", cmd, perr, req)
		}
		b, err := json.Marshal(toPluginError(err))
		if err != nil || len(b) > MaxMessage+200 {
			t.Fatalf("%s: the error on stderr would be %d bytes (%v)", cmd, len(b), err)
		}
		return
	}
	keyID := ""
	switch r := req.(type) {
	case *plugin.GetMetadataRequest:
		if cmd != plugin.CommandGetMetadata {
			t.Fatalf("%s: checkRequest returned a %T", cmd, req)
		}
		return
	case *plugin.DescribeKeyRequest:
		if cmd != plugin.CommandDescribeKey {
			t.Fatalf("%s: checkRequest returned a %T", cmd, req)
		}
		keyID = r.KeyID
	case *plugin.GenerateSignatureRequest:
		if cmd != plugin.CommandGenerateSignature {
			t.Fatalf("%s: checkRequest returned a %T", cmd, req)
		}
		if len(r.Payload) == 0 || len(r.Payload) > MaxSigningInput || !slices.Contains([]string{"SHA-256", "SHA-384", "SHA-512"}, string(r.Hash)) {
			t.Fatalf("accepted a signature request for %d bytes with %q", len(r.Payload), r.Hash)
		}
		keyID = r.KeyID
	case *plugin.GenerateEnvelopeRequest:
		if cmd != plugin.CommandGenerateEnvelope {
			t.Fatalf("%s: checkRequest returned a %T", cmd, req)
		}
		if len(r.Payload) == 0 || len(r.Payload) > MaxPayloadSize || r.PayloadType != envelope.PayloadType ||
			!slices.Contains(envelope.MediaTypes(), r.SignatureEnvelopeType) || r.ExpiryDurationInSeconds > uint64(signing.MaxExpiry/time.Second) {
			t.Fatalf("accepted an envelope request of %d bytes, %q, %q, expiry %d", len(r.Payload), r.PayloadType, r.SignatureEnvelopeType, r.ExpiryDurationInSeconds)
		}
		keyID = r.KeyID
	default:
		t.Fatalf("%s: checkRequest returned a %T", cmd, req)
	}
	if len(keyID) != 2 {
		t.Fatalf("%s: accepted keyId %q", cmd, keyID)
	}
}

// checkTwice runs checkRequest twice, checks that both answers are the
// same, and returns the first.
func checkTwice(t *testing.T, cmd plugin.Command, body []byte) (*request, error) {
	t.Helper()
	req, err := checkRequest(cmd, body, testVersion)
	other, again := checkRequest(cmd, body, testVersion)
	for _, r := range []*request{req, other} {
		if r != nil {
			r.close()
		}
	}
	if (err == nil) != (again == nil) || (err != nil && err.Error() != again.Error()) {
		t.Fatalf("%s: two checks of one request differ: %v, then %v", cmd, err, again)
	}
	var decoded any
	if req != nil {
		decoded = req.body
	}
	checkOutcome(t, cmd, decoded, err)
	return req, err
}

// TestRealRequests checks that every request notation sent passes
// checkRequest: the checks before the card refuse nothing notation sends.
func TestRealRequests(t *testing.T) {
	requests := realRequests()
	if len(requests) < 8 {
		t.Fatalf("%d requests recorded, want 8", len(requests))
	}
	for name, body := range requests {
		cmd, _, _ := strings.Cut(name, ".")
		req, err := checkRequest(plugin.Command(cmd), body, testVersion)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		req.close()
	}
}

// FuzzRequest feeds any bytes to checkRequest as the request of any
// command.
func FuzzRequest(f *testing.F) {
	for name, body := range realRequests() {
		cmd, _, _ := strings.Cut(name, ".")
		f.Add(cmd, body)
		for _, other := range contractCommands {
			f.Add(string(other), body)
		}
	}
	for _, body := range []string{
		"", " ", "null", "[]", `"x"`, "{", "{} {}", `{"contractVersion":"2.0","keyId":"9c"}`,
		`{"contractVersion":"1.0","keyId":"9c","pluginConfig":{"pin":"123456"}}`,
		`{"contractVersion":"1.0","keyId":"9c","payload":"!!"}`,
		`{"contractVersion":"1.0","keyId":"9c","expiryDurationInSeconds":-1}`,
		strings.Repeat("[", 10000),
	} {
		for _, cmd := range contractCommands {
			f.Add(string(cmd), []byte(body))
		}
	}
	f.Add("sign-everything", []byte("{}"))
	f.Fuzz(func(t *testing.T, cmd string, body []byte) {
		checkTwice(t, plugin.Command(cmd), body)
	})
}

// checkEncoded encodes req as notation does and checks it with
// checkTwice as a request of cmd.
func checkEncoded(t *testing.T, cmd plugin.Command, req any) (*request, error) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("encode %T: %v", req, err)
	}
	return checkTwice(t, cmd, body)
}

// fuzzedConfig parses a fuzzed pluginConfig: one key=value a line; "" is no
// pluginConfig at all.
func fuzzedConfig(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := make(map[string]string)
	for line := range strings.SplitSeq(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

// seedSettings registers the envelope formats, as main does, and returns
// pluginConfig seeds in the form fuzzedConfig reads: none, the settings
// notation passed, each file setting naming a good file and each hostile
// one (a directory, a FIFO, /dev/zero, a sparse 64 MiB file, a bundle
// that is not one chain), and hostile TSA URLs.
func seedSettings(f *testing.F) []string {
	f.Helper()
	registerFormats()
	dir := f.TempDir()
	chain := fixtures.Chain(fixtures.Key("EC-256").Public())
	intermediate, caRoot := chain[1], chain[2]
	other := fixtures.NewRoot("other root").Cert
	bundle := writePEM(f, filepath.Join(dir, "ca.pem"), intermediate, caRoot)
	reversed := writePEM(f, filepath.Join(dir, "reversed.pem"), caRoot, intermediate)
	unrelated := writePEM(f, filepath.Join(dir, "unrelated.pem"), intermediate, caRoot, other)
	root := writePEM(f, filepath.Join(dir, "tsa-root.pem"), other)
	pin := filepath.Join(dir, "pin")
	open := filepath.Join(dir, "pin-readable")
	writeFile(f, pin, []byte("123456\n"))
	writeFile(f, open, []byte("123456\n"))
	if err := os.Chmod(pin, 0o600); err != nil {
		f.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		f.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	writeFile(f, huge, nil)
	if err := os.Truncate(huge, 64<<20); err != nil {
		f.Fatal(err)
	}
	out := []string{"", "serial=24680246", "mode=raw", "mode=envelope", "serial=24680246\nmode=raw\nreader=Virtual PCD 00 00",
		"ca_certs=" + bundle, "ca_certs=" + reversed, "ca_certs=" + unrelated, "pin_file=" + pin, "pin_file=" + open,
		"pinentry=sh", "pinentry=/nonexistent/pinentry", "card_timeout=30s", "allow_last_pin_try=true",
		"tsa_url=http://127.0.0.1:1/\ntsa_root_cert=" + root, "tsa_url=http://127.0.0.1:1/\ntsa_root_cert=" + root + "\ntsa_timeout=5s",
		"pin=123456", "serail=1", "ca_certs=" + strings.Repeat("a", maxConfigValue+1)}
	for _, bad := range []string{dir, fifo, "/dev/zero", huge} {
		out = append(out, "ca_certs="+bad, "pin_file="+bad, "tsa_url=http://127.0.0.1:1/\ntsa_root_cert="+bad)
	}
	for _, url := range []string{"ftp://tsa.example.com/", "file:///etc/passwd", "javascript:alert(1)", "tsa.example.com", "http://user:pass@tsa.example.com/"} {
		out = append(out, "tsa_url="+url+"\ntsa_root_cert="+root)
	}
	return out
}

// FuzzGetMetadata fuzzes the pluginConfig of get-plugin-metadata.
func FuzzGetMetadata(f *testing.F) {
	for _, s := range seedSettings(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		req, err := checkEncoded(t, plugin.CommandGetMetadata, plugin.GetMetadataRequest{PluginConfig: fuzzedConfig(config)})
		if err != nil {
			return
		}
		want := plugin.CapabilityEnvelopeGenerator
		if fuzzedConfig(config)[cfgMode] == modeRaw {
			want = plugin.CapabilitySignatureGenerator
		}
		if md := metadata(testVersion, req.config); len(md.Capabilities) != 2 || md.Capabilities[0] != want || md.Capabilities[1] != plugin.CapabilityTrustedIdentityVerifier {
			t.Fatalf("config %q: capabilities %v, want %s and %s", config, md.Capabilities, want, plugin.CapabilityTrustedIdentityVerifier)
		}
	})
}

// FuzzDescribeKey fuzzes the fields and the pluginConfig of describe-key.
func FuzzDescribeKey(f *testing.F) {
	for _, s := range seedSettings(f) {
		f.Add("1.0", "9c", s)
	}
	for _, id := range []string{"", "9C", "9a", "9d", "9e", "82", "95", "96", "9f", "0x9c", " 9c", "9c\n", "ü", strings.Repeat("9", 100)} {
		f.Add("1.0", id, "serial=24680246")
	}
	f.Add("", "9c", "")
	f.Add("2.0", "9c", "")
	f.Fuzz(func(t *testing.T, version, keyID, config string) {
		checkEncoded(t, plugin.CommandDescribeKey, plugin.DescribeKeyRequest{ContractVersion: version, KeyID: keyID, PluginConfig: fuzzedConfig(config)})
	})
}

// FuzzGenerateSignature fuzzes the fields and the pluginConfig of
// generate-signature.
func FuzzGenerateSignature(f *testing.F) {
	seeds := recordedRequests[plugin.GenerateSignatureRequest](f, plugin.CommandGenerateSignature)
	add := func(r plugin.GenerateSignatureRequest, config string) {
		f.Add(r.ContractVersion, r.KeyID, string(r.KeySpec), string(r.Hash), r.Payload, config)
	}
	configs := seedSettings(f)
	for _, r := range seeds {
		for _, s := range configs {
			add(r, s)
		}
		for _, spec := range []string{"RSA-2048", "RSA-3072", "RSA-4096", "EC-384", "EC-521", "Ed25519", ""} {
			for _, hash := range []string{"SHA-256", "SHA-384", "SHA-512", "SHA-1", ""} {
				add(plugin.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "9c", KeySpec: plugin.KeySpec(spec), Hash: plugin.HashAlgorithm(hash), Payload: r.Payload}, "")
			}
		}
		for _, payload := range [][]byte{nil, []byte("."), []byte("e30."), []byte("e30.e30="), []byte("a.b.c"), r.Payload[:12], []byte("e30." + strings.Repeat("A", MaxSigningInput))} {
			add(plugin.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "9c", KeySpec: r.KeySpec, Hash: r.Hash, Payload: payload}, "")
		}
	}
	f.Fuzz(func(t *testing.T, version, keyID, keySpec, hash string, payload []byte, config string) {
		checkEncoded(t, plugin.CommandGenerateSignature, plugin.GenerateSignatureRequest{
			ContractVersion: version, KeyID: keyID, KeySpec: plugin.KeySpec(keySpec), Hash: plugin.HashAlgorithm(hash),
			Payload: payload, PluginConfig: fuzzedConfig(config),
		})
	})
}

// FuzzGenerateEnvelope fuzzes the fields and the pluginConfig of
// generate-envelope.
func FuzzGenerateEnvelope(f *testing.F) {
	seeds := recordedRequests[plugin.GenerateEnvelopeRequest](f, plugin.CommandGenerateEnvelope)
	add := func(r plugin.GenerateEnvelopeRequest, config string) {
		f.Add(r.ContractVersion, r.KeyID, r.SignatureEnvelopeType, r.PayloadType, r.Payload, r.ExpiryDurationInSeconds, config)
	}
	configs := seedSettings(f)
	for _, r := range seeds {
		for _, s := range configs {
			add(r, s)
		}
		hostile := []plugin.GenerateEnvelopeRequest{r, r, r, r, r, r, r, r}
		hostile[0].SignatureEnvelopeType = "application/x-unknown"
		hostile[1].PayloadType = "application/json"
		hostile[2].Payload = []byte(`{"targetArtifact":{}}`)
		hostile[3].Payload = append(r.Payload[:len(r.Payload)-1:len(r.Payload)-1], `,"extra":1}`...)
		hostile[4].Payload = []byte(`{"targetArtifact":{"mediaType":"m","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1,"annotations":{"k":"` + strings.Repeat("v", MaxPayloadSize) + `"}}}`)
		hostile[5].ExpiryDurationInSeconds = 1 << 63
		hostile[6].KeyID = "9f"
		hostile[7].ContractVersion = strings.Repeat("2", 1000)
		for _, h := range hostile {
			add(h, "")
		}
	}
	f.Fuzz(func(t *testing.T, version, keyID, envelopeType, payloadType string, payload []byte, expiry uint64, config string) {
		checkEncoded(t, plugin.CommandGenerateEnvelope, plugin.GenerateEnvelopeRequest{
			ContractVersion: version, KeyID: keyID, SignatureEnvelopeType: envelopeType, PayloadType: payloadType,
			Payload: payload, ExpiryDurationInSeconds: expiry, PluginConfig: fuzzedConfig(config),
		})
	})
}

// writePEM writes certificates to a PEM file.
func writePEM(t testing.TB, path string, certs ...*x509.Certificate) string {
	t.Helper()
	writeFile(t, path, fixtures.PEM(certs...))
	return path
}

// writeFile writes a file of mode 0644.
func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
