package contract

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/attestation"
)

// yubiKeyBundle returns the attestation of a real YubiKey 5 (firmware
// 5.4.3, serial 15732500, slot 9a, PIN once, touch never; see
// internal/attestation/testdata), which chains to Yubico's 2016 root, as
// the envelope attribute carries it, and a code-signing certificate for
// the attested key, issued by a test CA.
func yubiKeyBundle(t *testing.T) (value string, leaf *x509.Certificate) {
	t.Helper()
	var certs []*x509.Certificate
	for _, name := range []string{"yubikey-5.4.3-9a.pem", "yubikey-5.4.3-f9.pem"} {
		b, err := os.ReadFile(filepath.Join("..", "attestation", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	value, err := attestation.NewBundle(certs[0], certs[1]).Encode()
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Notation E2E"}, CommonName: "piv signer"}
	return value, fixtures.Intermediate().Issue(certs[0].PublicKey, fixtures.Subject(subject))
}

// verifyRequest is a verify-signature request as notation v1.3.2 sends
// it for an attested signature by leaf.
func verifyRequest(value string, leaf *x509.Certificate, identities []string, config map[string]string) []byte {
	b, _ := json.Marshal(plugin.VerifySignatureRequest{
		ContractVersion: plugin.ContractVersion,
		Signature: plugin.Signature{
			CriticalAttributes: plugin.CriticalAttributes{
				ContentType:        "application/vnd.cncf.notary.payload.v1+json",
				SigningScheme:      "notary.x509",
				ExtendedAttributes: map[string]any{attestation.HeaderKey: value},
			},
			UnprocessedAttributes: []string{attestation.HeaderKey},
			CertificateChain:      [][]byte{leaf.Raw, fixtures.Intermediate().Cert.Raw, fixtures.Root().Cert.Raw},
		},
		TrustPolicy: plugin.TrustPolicy{
			TrustedIdentities:     identities,
			SignatureVerification: []plugin.Capability{plugin.CapabilityTrustedIdentityVerifier},
		},
		PluginConfig: config,
	})
	return b
}

// verify runs verify-signature on body as Run does.
func verify(t *testing.T, body []byte) (*plugin.VerifySignatureResponse, *plugin.Error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	t.Setenv("NOTATION_PIV_LOG", "")
	if code := Run(t.Context(), testVersion, []string{"verify-signature"}, bytes.NewReader(body), &stdout, &stderr); code != 0 {
		var perr plugin.Error
		if err := json.Unmarshal(stderr.Bytes(), &perr); err != nil {
			t.Fatalf("stderr %q: %v", stderr.String(), err)
		}
		return nil, &perr
	}
	var resp plugin.VerifySignatureResponse
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return &resp, nil
}

// TestVerifySignature answers verify-signature requests for a real
// YubiKey's attestation: the policy decides, the reason names the
// failing constraint and the value seen, and the attestation is
// processed whatever the verdict.
func TestVerifySignature(t *testing.T) {
	value, leaf := yubiKeyBundle(t)
	other := fixtures.Intermediate().Issue(fixtures.Key("EC-256").Public(), fixtures.Subject(leaf.Subject))
	for _, tc := range []struct {
		name       string
		leaf       *x509.Certificate
		identities []string
		reason     string // "": success
	}{
		{"any", leaf, []string{"piv.attested: any"}, ""},
		{"wildcard", leaf, []string{"*"}, ""},
		{"serial in", leaf, []string{"piv.attested: serial=15732500|1"}, ""},
		{"serial out", leaf, []string{"piv.attested: serial=12345678|87654321"}, "serial 15732500 is not one of 12345678, 87654321"},
		{"pin always", leaf, []string{"piv.attested: pin=always"}, "pin"},
		{"firmware", leaf, []string{"piv.attested: firmware>=5.7.0"}, "firmware 5.4.3"},
		{"subject match", leaf, []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Notation E2E"}, ""},
		{"subject mismatch", leaf, []string{"piv.attested: any", "x509.subject: C=US, ST=WA, O=Other"}, "subject"},
		{"key is not the attested key", other, []string{"piv.attested: any"}, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, perr := verify(t, verifyRequest(value, tc.leaf, tc.identities, nil))
			if perr != nil {
				t.Fatalf("error %s: %s", perr.ErrCode, perr.Message)
			}
			r := resp.VerificationResults[plugin.CapabilityTrustedIdentityVerifier]
			if r == nil || len(resp.VerificationResults) != 1 {
				t.Fatalf("results %v", resp.VerificationResults)
			}
			if r.Success != (tc.reason == "") || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("result %+v, want reason %q", r, tc.reason)
			}
			if len(resp.ProcessedAttributes) != 1 || resp.ProcessedAttributes[0] != attestation.HeaderKey {
				t.Errorf("processedAttributes %v", resp.ProcessedAttributes)
			}
		})
	}
}

// TestVerifySignatureRoots replaces Yubico's roots with pluginConfig
// attestation_roots: a bundle of other roots fails the YubiKey's
// attestation, and a file that cannot serve is an error that names the key.
func TestVerifySignatureRoots(t *testing.T) {
	value, leaf := yubiKeyBundle(t)
	dir := t.TempDir()
	otherRoots := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(otherRoots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fixtures.Root().Cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, perr := verify(t, verifyRequest(value, leaf, []string{"piv.attested: any"}, map[string]string{"attestation_roots": otherRoots}))
	if perr != nil {
		t.Fatalf("error %s: %s", perr.ErrCode, perr.Message)
	}
	if r := resp.VerificationResults[plugin.CapabilityTrustedIdentityVerifier]; r == nil || r.Success || r.Reason == "" {
		t.Errorf("result %+v under roots without Yubico's, want a failure with a reason", r)
	}
	_, perr = verify(t, verifyRequest(value, leaf, []string{"piv.attested: any"}, map[string]string{"attestation_roots": filepath.Join(dir, "missing.pem")}))
	if perr == nil || perr.ErrCode != plugin.ErrorCodeValidation || !strings.Contains(perr.Message, "pluginConfig attestation_roots") {
		t.Errorf("missing roots file: %+v, want a VALIDATION_ERROR naming pluginConfig attestation_roots", perr)
	}
}

// TestVerifySignatureRefusals refuses what must never pass silently: a
// malformed identity, an unknown constraint, a policy without attested
// entries, and a capability the plugin does not declare.
func TestVerifySignatureRefusals(t *testing.T) {
	value, leaf := yubiKeyBundle(t)
	for _, identities := range [][]string{
		{"piv.attested: colour=blue"},
		{"piv.attested: serial=abc"},
		{"x509.subject: C=US, ST=WA, O=Notation E2E"},
	} {
		_, perr := verify(t, verifyRequest(value, leaf, identities, nil))
		if perr == nil || perr.ErrCode != plugin.ErrorCodeValidation || !strings.Contains(perr.Message, "trustedIdentities") {
			t.Errorf("identities %q: %+v, want a VALIDATION_ERROR naming trustedIdentities", identities, perr)
		}
	}
	var req plugin.VerifySignatureRequest
	if err := json.Unmarshal(verifyRequest(value, leaf, []string{"*"}, nil), &req); err != nil {
		t.Fatal(err)
	}
	req.TrustPolicy.SignatureVerification = append(req.TrustPolicy.SignatureVerification, plugin.CapabilityRevocationCheckVerifier)
	body, _ := json.Marshal(req)
	if _, perr := verify(t, body); perr == nil || !strings.Contains(perr.Message, "REVOCATION_CHECK") {
		t.Errorf("REVOCATION_CHECK asked: %+v, want an error naming it", perr)
	}
}
