package main

import (
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// attestedEnvelope asks the plugin for an envelope of mediaType signed by
// slot 9c with attest=true, and returns its content as notation-core-go
// verifies it.
func attestedEnvelope(t *testing.T, mediaType string) *signature.EnvelopeContent {
	t.Helper()
	env, err := signature.ParseEnvelope(mediaType, generateAttested(t, mediaType))
	if err != nil {
		t.Fatal(err)
	}
	content, err := env.Verify()
	if err != nil {
		t.Fatalf("notation-core-go: %v", err)
	}
	return content
}

// generateAttested asks the plugin for an envelope of mediaType signed by
// slot 9c with attest=true, and returns it.
func generateAttested(t *testing.T, mediaType string) []byte {
	t.Helper()
	var req plugin.GenerateEnvelopeRequest
	if err := json.Unmarshal([]byte(envelopeRequest("9c", map[string]string{"attest": "true"})), &req); err != nil {
		t.Fatal(err)
	}
	req.SignatureEnvelopeType = mediaType
	body, _ := json.Marshal(req)
	r := invoke(t, "generate-envelope", string(body), "NOTATION_PIV_PIN=123456")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	var resp plugin.GenerateEnvelopeResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatal(err)
	}
	return resp.SignatureEnvelope
}

// TestAttestedEnvelope signs with attest=true in JWS and COSE: each
// envelope carries the three critical attributes of an attested
// signature, and its bundle verifies against the virtual card's vendor
// root and attests the signing key, with the card's serial number and
// the slot's policies.
func TestAttestedEnvelope(t *testing.T) {
	env := needCard(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	root, err := env.Card.AttestationCA()
	if err != nil {
		t.Fatal(err)
	}
	roots, err := attestation.NewRoots([]*x509.Certificate{root})
	if err != nil {
		t.Fatal(err)
	}
	for _, mediaType := range []string{"application/jose+json", "application/cose"} {
		t.Run(mediaType, func(t *testing.T) {
			env.Card.ResetStats()
			content := attestedEnvelope(t, mediaType)
			if n := countCommands(env, "ATTEST"); n != 1 {
				t.Errorf("%d ATTEST commands, want 1", n)
			}
			attrs := map[any]signature.Attribute{}
			for _, a := range content.SignerInfo.SignedAttributes.ExtendedAttributes {
				attrs[a.Key] = a
			}
			for key, want := range map[string]string{
				"io.cncf.notary.verificationPlugin":           "piv",
				"io.cncf.notary.verificationPluginMinVersion": "0.2.0",
			} {
				if a := attrs[key]; !a.Critical || a.Value != want {
					t.Errorf("%s = %+v, want critical %q", key, a, want)
				}
			}
			a := attrs[attestation.HeaderKey]
			value, ok := a.Value.(string)
			if !a.Critical || !ok {
				t.Fatalf("%s = %+v, want a critical string", attestation.HeaderKey, a)
			}
			bundle, err := attestation.ParseBundle(value)
			if err != nil {
				t.Fatal(err)
			}
			att, err := bundle.Verify(roots, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if err := att.CheckKey(leaf); err != nil {
				t.Error(err)
			}
			if att.Serial != testSerial || att.Slot != "9c" || att.PINPolicy != attestation.PINPolicyAlways || att.TouchPolicy != attestation.TouchPolicyNever {
				t.Errorf("attestation: serial %d slot %q pin %v touch %v", att.Serial, att.Slot, att.PINPolicy, att.TouchPolicy)
			}
		})
	}
}

// countCommands counts the commands named name in the card's log since
// its stats were reset.
func countCommands(env *vcardtest.Env, name string) int {
	n := 0
	for _, e := range env.Card.Stats().Log {
		if e.Name == name {
			n++
		}
	}
	return n
}

// TestAttestRefusals checks the refusals of attest=true, each a
// VALIDATION_ERROR before the PIN: an imported key, a card that cannot
// attest, raw mode, and a value that is not a boolean.
func TestAttestRefusals(t *testing.T) {
	env := needCard(t)
	key := fixtures.Key("EC-256")
	yk := openPIV(t)
	if err := yk.SetPrivateKeyInsecure(piv.DefaultManagementKey, piv.SlotSignature, key, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever}); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotSignature, fixtures.SelfSigned(key)); err != nil {
		t.Fatal(err)
	}
	yk.Close()
	retries := pinRetries(t, env)
	r := invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"attest": "true"}), "NOTATION_PIV_PIN=000000")
	expectError(t, r, plugin.ErrorCodeValidation, "slot 9c", "imported", "attest=true")
	if got := pinRetries(t, env); got != retries {
		t.Errorf("PIN retries %d after the refusal, want %d", got, retries)
	}

	provision(t, piv.AlgorithmEC256, nil)
	env.Card.InjectFault(card.Fault{INS: 0xF9, SW: 0x6D00})
	r = invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"attest": "true"}), "NOTATION_PIV_PIN=000000")
	env.Card.ClearFaults()
	expectError(t, r, plugin.ErrorCodeValidation, "cannot attest", "attest=true")
	if got := pinRetries(t, env); got != retries {
		t.Errorf("PIN retries %d after the refusal, want %d", got, retries)
	}

	for _, config := range []map[string]string{
		{"attest": "true", "mode": "raw"},
		{"attest": "sometimes"},
	} {
		body, _ := json.Marshal(plugin.GetMetadataRequest{PluginConfig: config})
		expectError(t, invoke(t, "get-plugin-metadata", string(body)), plugin.ErrorCodeValidation, "attest")
	}
}
