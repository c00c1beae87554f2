package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/attestation"
)

// TestEnvelopeAttested inspects and verifies attested envelopes with
// envelope inspect and envelope verify: a JWS from envelope sign --attest,
// a COSE from the plugin with attest=true, and a JWS that the test signs
// with a software key and certificate but that carries the card's genuine
// attestation. Inspect shows the attested facts and whether the chain
// verifies; verify gives the verdicts notation verify gives
// (TestNotationAttested) for the same roots and piv.attested constraints.
func TestEnvelopeAttested(t *testing.T) {
	env := needCard(t)
	t.Setenv("NOTATION_PIV_PIN", piv.DefaultPIN)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	vendor, err := env.Card.AttestationCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trustRoot := writePEM(t, filepath.Join(dir, "leaf.pem"), leaf)
	vendorRoot := writePEM(t, filepath.Join(dir, "vendor-root.pem"), vendor)
	otherRoot := writePEM(t, filepath.Join(dir, "other-root.pem"), fixtures.Root().Cert)

	signed := filepath.Join(dir, "attested.jws")
	artifact := writeFile(t, dir, "artifact.txt", []byte("an attested artifact\n"))
	r := runEnv(t, nil, "sign", "--serial", fmt.Sprint(testSerial), "--attest", "--artifact", artifact, "--out", signed)
	if r.code != 0 || !strings.Contains(r.stdout, "attested") {
		t.Fatalf("envelope sign --attest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	plugin := filepath.Join(dir, "attested.cose")
	if err := os.WriteFile(plugin, generateAttested(t, "application/cose"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{signed, plugin} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			rep, _ := inspectJSON(t, path)
			a := rep.Attestation
			if a == nil {
				t.Fatal("inspect shows no attestation")
			}
			if a.Problem != "" || a.Serial != testSerial || a.Slot != "9c" || a.PINPolicy != "always" || a.TouchPolicy != "never" || a.Firmware == "" || !a.AttestsSigningKey {
				t.Errorf("attestation %+v", a)
			}
			if a.Roots != inspect.RootsYubico || a.Status != inspect.StatusInvalid || len(a.Chain) != 2 {
				t.Errorf("under Yubico's roots: roots %q, status %q, %d certificates, want invalid with the bundle's 2", a.Roots, a.Status, len(a.Chain))
			}
			if len(rep.Problems) != 0 {
				t.Errorf("problems %q: the attestation header is for the plugin", rep.Problems)
			}
			rep, r := inspectJSON(t, path, "--attestation-roots", vendorRoot)
			if a := rep.Attestation; a.Status != inspect.StatusValid || a.Roots != inspect.RootsGiven || len(a.Chain) != 3 || a.Chain[2].Subject != vendor.Subject.String() {
				t.Errorf("under the vendor root: %+v\n%s", a, r.stdout)
			}
			text := runEnv(t, nil, "inspect", path, "--attestation-roots", vendorRoot)
			for _, want := range []string{"Attestation", fmt.Sprintf("serial %d", testSerial), "PIN always, touch never", "the signing certificate's key", "verifies against the given attestation roots"} {
				if !strings.Contains(text.stdout, want) {
					t.Errorf("inspect lacks %q:\n%s", want, text.stdout)
				}
			}

			for _, tc := range []struct {
				name    string
				args    []string
				failure string // "" for a pass
			}{
				{"any", []string{"--attestation-roots", vendorRoot, "--attested", "any"}, ""},
				{"roots only", []string{"--attestation-roots", vendorRoot}, ""},
				{"serial in", []string{"--attestation-roots", vendorRoot, "--attested", fmt.Sprintf("serial=12345678|%d, pin=always", testSerial)}, ""},
				{"serial out", []string{"--attestation-roots", vendorRoot, "--attested", "serial=12345678|87654321"}, fmt.Sprintf("serial %d is not one of 12345678, 87654321", testSerial)},
				{"touch", []string{"--attestation-roots", vendorRoot, "--attested", "touch=always"}, "touch"},
				{"Yubico's roots", nil, "certificate signed by unknown authority"},
				{"wrong roots", []string{"--attestation-roots", otherRoot}, "certificate signed by unknown authority"},
			} {
				args := append([]string{"verify", path, "--trust-root", trustRoot}, tc.args...)
				r := runEnv(t, nil, args...)
				switch {
				case tc.failure == "" && (r.code != 0 || !strings.Contains(r.stdout, "ok      attestation")):
					t.Errorf("%s: exit %d\n%s%s", tc.name, r.code, r.stdout, r.stderr)
				case tc.failure != "" && (r.code == 0 || !strings.Contains(r.stdout, "FAILED  attestation") || !strings.Contains(r.stdout, tc.failure)):
					t.Errorf("%s: exit %d, want the attestation check failing with %q\n%s%s", tc.name, r.code, tc.failure, r.stdout, r.stderr)
				}
			}
		})
	}

	// The software key signs, with a genuine attestation of the card's
	// key: every check but the attestation passes.
	content := attestedEnvelope(t, "application/jose+json")
	attrs := []envelope.Attribute{{Key: envelope.HeaderVerificationPlugin, Value: attestation.VerificationPlugin}}
	for _, a := range content.SignerInfo.SignedAttributes.ExtendedAttributes {
		if a.Key == attestation.HeaderKey {
			attrs = append(attrs, envelope.Attribute{Key: attestation.HeaderKey, Value: a.Value.(string)})
		}
	}
	software, req := envelopetest.Sign(t, jws.Format{}, func(r *envelope.SignRequest) { r.Attributes = attrs })
	path := filepath.Join(dir, "software.jws")
	if err := os.WriteFile(path, software, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _ := inspectJSON(t, path, "--attestation-roots", vendorRoot)
	if a := rep.Attestation; a == nil || a.AttestsSigningKey || a.Status != inspect.StatusValid {
		t.Errorf("software-signed: attestation %+v, want a valid one of another key", a)
	}
	text := runEnv(t, nil, "inspect", path, "--attestation-roots", vendorRoot)
	if !strings.Contains(text.stdout, "not the signing certificate's key") {
		t.Errorf("inspect of the software-signed envelope:\n%s", text.stdout)
	}
	softRoot := writePEM(t, filepath.Join(dir, "software.pem"), req.Chain...)
	r = runEnv(t, nil, "verify", path, "--trust-root", softRoot, "--attestation-roots", vendorRoot, "--attested", "any")
	if r.code == 0 || !strings.Contains(r.stdout, "FAILED  attestation: the attested key is not the signing certificate's key") || strings.Count(r.stdout, "FAILED") != 1 {
		t.Errorf("verify of the software-signed envelope: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestEnvelopeAttestationMalformed shows a malformed attestation as a
// problem of inspect and a failure of verify, and an envelope without one
// with the attestation check skipped, unless a policy is given.
func TestEnvelopeAttestationMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, attrs := range map[string][]envelope.Attribute{
		"malformed": {{Key: envelope.HeaderVerificationPlugin, Value: attestation.VerificationPlugin}, {Key: attestation.HeaderKey, Value: "AAAA,BBBB"}},
		"none":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			env, req := envelopetest.Sign(t, jws.Format{}, func(r *envelope.SignRequest) { r.Attributes = attrs })
			path := filepath.Join(dir, name+".jws")
			if err := os.WriteFile(path, env, 0o600); err != nil {
				t.Fatal(err)
			}
			root := writePEM(t, filepath.Join(dir, name+".pem"), req.Chain...)
			rep, _ := inspectJSON(t, path)
			verify := runEnv(t, nil, "verify", path, "--trust-root", root)
			attested := runEnv(t, nil, "verify", path, "--trust-root", root, "--attested", "any")
			if name == "none" {
				if rep.Attestation != nil || verify.code != 0 || !strings.Contains(verify.stdout, "skipped attestation") {
					t.Errorf("no attestation: %+v\n%s%s", rep.Attestation, verify.stdout, verify.stderr)
				}
				if attested.code == 0 || !strings.Contains(attested.stdout, "the envelope has no attestation") {
					t.Errorf("no attestation, --attested any: exit %d\n%s", attested.code, attested.stdout)
				}
				return
			}
			if a := rep.Attestation; a == nil || a.Problem == "" || a.Status != inspect.StatusUnchecked {
				t.Errorf("malformed: %+v", a)
			}
			text := runEnv(t, nil, "inspect", path)
			if text.code != 0 || !strings.Contains(text.stdout, "problem") {
				t.Errorf("inspect: exit %d\n%s%s", text.code, text.stdout, text.stderr)
			}
			if verify.code == 0 || !strings.Contains(verify.stdout, "FAILED  attestation: attestation bundle: certificate 1") {
				t.Errorf("verify: exit %d\n%s%s", verify.code, verify.stdout, verify.stderr)
			}
		})
	}
}
