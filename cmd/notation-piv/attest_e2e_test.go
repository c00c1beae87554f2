package main

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/fixtures"
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
	"local/attested-pin-always": {"piv.attested: pin=always"},
	"local/attested-touch":      {"piv.attested: touch=always"},
	"local/attested-firmware":   {"piv.attested: firmware>=5.8.0"},
	"local/attested-malformed":  {"piv.attested: colour=red"},
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
// v1.3.2, in OCI layouts, and verifies with notation verify, which runs
// the plugin's verify-signature with the virtual card's vendor root as
// pluginConfig attestation_roots: attested EC-256 (JWS and COSE), RSA-2048
// (COSE) and EC-384 signatures pass or fail as their trust policies say
// (serial, PIN and touch policy, firmware, subject, a malformed identity);
// so do Yubico's roots and a root bundle without the vendor's, a
// signature of the same key without attest=true under an attested-only
// policy, and a software signature that carries a card key's attestation.
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
	type verdict struct {
		scope, failure string // failure: "" for a pass
	}
	expect := func(t *testing.T, layout *ociLayout, cases ...verdict) {
		t.Helper()
		for _, tc := range cases {
			out, err := verify(layout, tc.scope)
			switch {
			case tc.failure == "" && err != nil:
				t.Errorf("%s: verify failed: %v\n%s", tc.scope, err, out)
			case tc.failure != "" && (err == nil || !strings.Contains(out, tc.failure)):
				t.Errorf("%s: verify = %v, want a failure saying %q\n%s", tc.scope, err, tc.failure, out)
			}
		}
	}
	// sign signs a new layout with the key in slot 9c and attest=true.
	sign := func(format string) *ociLayout {
		layout := newLayout(t, "attested artifact "+format+" "+t.Name())
		n.run("sign", "--oci-layout", "--key", "card", "--signature-format", format, "--plugin-config", "attest=true", layout.ref())
		return layout
	}
	otherRoots := "attestation_roots=" + writePEM(t, filepath.Join(n.dir, "other-root.pem"), fixtures.Root().Cert)

	for _, format := range []string{"jws", "cose"} {
		t.Run(format, func(t *testing.T) {
			layout := sign(format)
			expect(t, layout,
				verdict{"local/attested-any", ""},
				verdict{"local/attested-serial-in", ""},
				verdict{"local/attested-serial-out", fmt.Sprintf("serial %d is not one of 12345678, 87654321", testSerial)},
				verdict{"local/attested-subject", ""},
				verdict{"local/attested-other-subj", "subject"},
				verdict{"local/attested-pin-always", ""},
				verdict{"local/attested-touch", "touch never is not always"},
				verdict{"local/attested-firmware", "firmware 5.7.1 is older than 5.8.0"},
				verdict{"local/attested-malformed", `unknown constraint "colour"`},
			)
			// Without attestation_roots the plugin trusts Yubico's roots
			// only, which did not issue the virtual card's attestation;
			// nor did the roots of another bundle.
			out, err := n.exec("verify", "--oci-layout", "--scope", "local/attested-any", layout.ref(), "-v")
			if err == nil || !strings.Contains(out, "certificate signed by unknown authority") {
				t.Errorf("verify under Yubico's roots = %v, want a failure of the attestation chain\n%s", err, out)
			}
			out, err = n.exec("verify", "--oci-layout", "--scope", "local/attested-any", "--plugin-config", otherRoots, layout.ref(), "-v")
			if err == nil || !strings.Contains(out, "certificate signed by unknown authority") {
				t.Errorf("verify under roots without the vendor's = %v, want a failure of the attestation chain\n%s", err, out)
			}
		})
	}

	layout := newLayout(t, "unattested artifact")
	n.run("sign", "--oci-layout", "--key", "card", layout.ref())
	out, err := verify(layout, "local/attested-any")
	if err == nil || !strings.Contains(out, "no x509 trusted identities are configured") {
		t.Errorf("an unattested signature under an attested-only policy: %v, want notation's refusal\n%s", err, out)
	}

	t.Run("software key", func(t *testing.T) {
		// The only signature of the layout, since notation verify
		// passes with any one that verifies.
		layout := newLayout(t, "artifact signed by a software key")
		n.run("cert", "add", "--type", "ca", "--store", "e2e", writePEM(t, filepath.Join(n.dir, "fixtures-root.pem"), fixtures.Root().Cert))
		before := signatureSet(t, layout)
		n.run("sign", "--oci-layout", "--key", "card", "--plugin-config", "attest=true", layout.ref())
		digest, genuine := newSignature(t, layout, before)
		layout.replaceEnvelope(t, digest, softwareEnvelope(t, envelopeContent(t, "jws", genuine)))
		out, err := n.exec("verify", "--oci-layout", "--scope", "local/attested-any", "--plugin-config", roots, layout.ref(), "-v")
		if err == nil || !strings.Contains(out, "the attested key is not the signing certificate's key") {
			t.Errorf("a software signature carrying a card's attestation: %v, want a failure\n%s", err, out)
		}
	})

	// reprovision puts a new key of alg with pinPolicy in slot 9c and
	// trusts its self-signed certificate.
	reprovision := func(t *testing.T, alg piv.Algorithm, pinPolicy piv.PINPolicy) {
		yk := openPIV(t)
		leaf := certify(t, yk, piv.SlotSignature, generateKey(t, yk, piv.SlotSignature, alg, pinPolicy), nil)
		yk.Close()
		n.run("cert", "add", "--type", "ca", "--store", "e2e", writePEM(t, filepath.Join(n.dir, strings.ReplaceAll(t.Name(), "/", "-")+".pem"), leaf))
	}
	t.Run("RSA-2048 cose", func(t *testing.T) {
		reprovision(t, piv.AlgorithmRSA2048, piv.PINPolicyAlways)
		expect(t, sign("cose"), verdict{"local/attested-any", ""}, verdict{"local/attested-pin-always", ""})
	})
	t.Run("EC-384 PIN once", func(t *testing.T) {
		reprovision(t, piv.AlgorithmEC384, piv.PINPolicyOnce)
		expect(t, sign("jws"), verdict{"local/attested-any", ""}, verdict{"local/attested-pin-always", "pin once is not always"})
	})
}

// softwareEnvelope signs, with a software key and a certificate issued by
// the fixtures' intermediate CA for the signing subject, an envelope
// carrying the payload and the extended attributes of genuine, among them
// the genuine attestation of a card key.
func softwareEnvelope(t *testing.T, genuine *signature.EnvelopeContent) []byte {
	t.Helper()
	key := fixtures.Key("EC-256 software signer")
	ca := fixtures.Intermediate()
	leaf := ca.Issue(key.Public(), fixtures.Subject(signerSubject))
	signer, err := signature.NewLocalSigner(append([]*x509.Certificate{leaf}, ca.Chain()...), key)
	must(t, err)
	env, err := signature.NewEnvelope(mediaTypeOf["jws"])
	must(t, err)
	b, err := env.Sign(&signature.SignRequest{
		Payload:                  genuine.Payload,
		Signer:                   signer,
		SigningTime:              time.Now(),
		SigningScheme:            signature.SigningSchemeX509,
		SigningAgent:             "software",
		ExtendedSignedAttributes: genuine.SignerInfo.SignedAttributes.ExtendedAttributes,
	})
	must(t, err)
	return b
}
