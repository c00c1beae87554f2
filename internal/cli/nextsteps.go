package cli

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/piv"
)

// notationKeyName is the name setup suggests for the key in notation.
func notationKeyName(serial uint32, slot piv.Slot) string {
	return fmt.Sprintf("piv-%d-%s", serial, slot)
}

// keyAddLine is the "notation key add" command for a slot's key; caCerts,
// if not "", names the CA bundle that completes the chain.
func keyAddLine(name string, serial uint32, slot piv.Slot, caCerts string) string {
	words := []string{"notation", "key", "add", name, "--plugin", attestation.VerificationPlugin, "--id", slot.String(), "--plugin-config", fmt.Sprintf("serial=%d", serial)}
	if caCerts != "" {
		words = append(words, "--plugin-config", "ca_certs="+caCerts)
	}
	return commandLine(words...)
}

// trustStore is the notation trust store setup suggests.
const trustStore = "notation-piv"

// trustPolicy returns a notation trust policy document that trusts the
// subject of cert, found in trustStore, for every repository.
func trustPolicy(name string, cert *x509.Certificate) string {
	type policy struct {
		Name                  string            `json:"name"`
		RegistryScopes        []string          `json:"registryScopes"`
		SignatureVerification map[string]string `json:"signatureVerification"`
		TrustStores           []string          `json:"trustStores"`
		TrustedIdentities     []string          `json:"trustedIdentities"`
	}
	doc := struct {
		Version       string   `json:"version"`
		TrustPolicies []policy `json:"trustPolicies"`
	}{"1.0", []policy{{
		Name:                  name,
		RegistryScopes:        []string{"*"},
		SignatureVerification: map[string]string{"level": "strict"},
		TrustStores:           []string{"ca:" + trustStore},
		TrustedIdentities:     []string{"x509.subject: " + cert.Subject.String()},
	}}}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

// attestationStep tells how to hand the attestation bundle to a CA, for
// the first step after setup --csr; "" without a bundle.
func attestationStep(attestationPath string) string {
	if attestationPath == "" {
		return ""
	}
	return fmt.Sprintf(`
   A CA that needs proof that the key lives on the card (code-signing
   CAs do) takes %s with the request: it
   holds the slot's attestation certificate and the card's f9 certificate.`, filepath.Base(attestationPath))
}

// printSetupDone prints what setup made and the commands to run next.
// attestationPath is "" when the card gave no attestation.
func printSetupDone(w io.Writer, serial uint32, o *setupOptions, cert *x509.Certificate, certPath, csrPath, attestationPath string) {
	fmt.Fprintf(w, "Slot %s of PIV card %d now holds a new %s key (PIN %s, touch %s) and a self-signed\ncode-signing certificate:\n",
		o.slot, serial, o.key.Spec.Name, o.key.PINPolicy, o.key.TouchPolicy)
	fmt.Fprintf(w, "  subject    %s\n  valid      %s to %s\n  sha256     %s\n  file       %s\n",
		cert.Subject, cert.NotBefore.UTC().Format("2006-01-02"), cert.NotAfter.UTC().Format("2006-01-02"), inspect.Fingerprint(cert), certPath)
	if attestationPath != "" {
		fmt.Fprintf(w, "The card's attestation that it generated the key is in\n  %s\n", attestationPath)
	}
	if csrPath != "" {
		fmt.Fprintf(w, `
Wrote a certificate signing request for the key to %s.
Until you import the CA's certificate, the slot keeps the self-signed one.

Next steps:
1. Send %s to your certificate authority and ask for a code-signing
   certificate: key usage digitalSignature (critical), extended key usage
   codeSigning or none, not a CA.%s
2. Import the certificate it issues, with the CA certificates that complete
   its chain in one PEM file, the issuer first and the root last:
   %s
   It checks the certificate and prints the notation commands to run.
`, csrPath, filepath.Base(csrPath), attestationStep(attestationPath),
			commandLine("notation-piv", "cert", "import", "--serial", fmt.Sprint(serial), "--slot", o.slot.String(), "--ca-certs", "ca-chain.pem", "signer.crt"))
		return
	}
	keyName := notationKeyName(serial, o.slot)
	fmt.Fprintf(w, `
Next steps:
1. Install the plugin, unless notation has it already:
   %s
2. Add the key to notation:
   %s
3. Trust the certificate when verifying:
   %s
4. Trust its subject in a trust policy. Without a trust policy yet, save
   these lines as trustpolicy.json and run "notation policy import trustpolicy.json";
   otherwise add the policy to yours:
%s
5. Sign and verify:
   %s
   %s
`,
		commandLine("notation", "plugin", "install", "--file", pluginPath()),
		keyAddLine(keyName, serial, o.slot, ""),
		commandLine("notation", "cert", "add", "--type", "ca", "--store", trustStore, certPath),
		trustPolicy(keyName, cert),
		commandLine("notation", "sign", "--key", keyName, "REGISTRY/REPOSITORY@DIGEST"),
		commandLine("notation", "verify", "REGISTRY/REPOSITORY@DIGEST"))
}
