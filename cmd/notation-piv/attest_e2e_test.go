package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
)

// attestedPolicies are the trust policies of TestNotationAttested, by
// scope: each trusts the store e2e, under strict verification, with these
// trustedIdentities.
var attestedPolicies = map[string][]string{
	"local/attested-any":        {"piv.attested: any"},
	"local/attested-serial-in":  {fmt.Sprintf("piv.attested: serial=12345678|%d", testSerial)},
	"local/attested-serial-out": {"piv.attested: serial=12345678|87654321"},
	"local/attested-subject":    {"piv.attested: pin=always", trustedIdentity},
	"local/attested-other-subj": {"piv.attested: any", "x509.subject: C=US, ST=WA, O=Someone Else"},
}

// importAttestedPolicies imports attestedPolicies.
func (n *notationEnv) importAttestedPolicies() {
	n.t.Helper()
	var policies []any
	for scope, identities := range attestedPolicies {
		policies = append(policies, map[string]any{
			"name":                  strings.TrimPrefix(scope, "local/"),
			"registryScopes":        []string{scope},
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{"ca:e2e"},
			"trustedIdentities":     identities,
		})
	}
	b, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": policies})
	path := filepath.Join(n.dir, "attested-policy.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		n.t.Fatal(err)
	}
	n.run("policy", "import", "--force", path)
}

// TestNotationAttested signs with attest=true through stock notation
// v1.3.2, in an OCI layout, and verifies with notation verify, which runs
// the plugin's verify-signature with the virtual card's vendor root as
// pluginConfig attestation_roots: each attested signature passes or fails
// as its trust policy says, and a signature of the same key without
// attest=true fails under an attested-only policy.
func TestNotationAttested(t *testing.T) {
	env := needCard(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	root, err := env.Card.AttestationCA()
	if err != nil {
		t.Fatal(err)
	}
	n := newNotation(t)
	n.trust(leaf)
	n.importAttestedPolicies()
	roots := "attestation_roots=" + writePEM(t, filepath.Join(n.dir, "vendor-root.pem"), root)
	n.run("key", "add", "card", "--plugin", "piv", "--id", "9c", "--plugin-config", fmt.Sprintf("serial=%d", testSerial))

	verify := func(layout *ociLayout, scope string) (string, error) {
		return n.exec("verify", "--oci-layout", "--scope", scope, "--plugin-config", roots, layout.ref(), "-v")
	}
	for _, format := range []string{"jws", "cose"} {
		t.Run(format, func(t *testing.T) {
			layout := newLayout(t, "attested artifact "+format)
			n.run("sign", "--oci-layout", "--key", "card", "--signature-format", format, "--plugin-config", "attest=true", layout.ref())
			for _, tc := range []struct {
				scope, failure string // failure: "" for a pass
			}{
				{"local/attested-any", ""},
				{"local/attested-serial-in", ""},
				{"local/attested-serial-out", fmt.Sprintf("serial %d is not one of 12345678, 87654321", testSerial)},
				{"local/attested-subject", ""},
				{"local/attested-other-subj", "subject"},
			} {
				out, err := verify(layout, tc.scope)
				switch {
				case tc.failure == "" && err != nil:
					t.Errorf("%s: verify failed: %v\n%s", tc.scope, err, out)
				case tc.failure != "" && (err == nil || !strings.Contains(out, tc.failure)):
					t.Errorf("%s: verify = %v, want a failure saying %q\n%s", tc.scope, err, tc.failure, out)
				}
			}
			// Without attestation_roots the plugin trusts Yubico's roots
			// only, which did not issue the virtual card's attestation.
			out, err := n.exec("verify", "--oci-layout", "--scope", "local/attested-any", layout.ref(), "-v")
			if err == nil || !strings.Contains(out, "certificate signed by unknown authority") {
				t.Errorf("verify under Yubico's roots = %v, want a failure of the attestation chain\n%s", err, out)
			}
		})
	}

	layout := newLayout(t, "unattested artifact")
	n.run("sign", "--oci-layout", "--key", "card", layout.ref())
	out, err := verify(layout, "local/attested-any")
	if err == nil || !strings.Contains(out, "no x509 trusted identities are configured") {
		t.Errorf("an unattested signature under an attested-only policy: %v, want notation's refusal\n%s", err, out)
	}
}
