package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope/jws"
)

func TestGenerateEnvelopeWithCard(t *testing.T) {
	needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	logFile := filepath.Join(t.TempDir(), "plugin.log")

	r := invoke(t, "generate-envelope", envelopeRequest("9C", nil), "NOTATION_PIV_PIN=123456", "NOTATION_PIV_LOG="+logFile)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	var resp plugin.GenerateEnvelopeResponse
	must(t, json.Unmarshal([]byte(r.stdout), &resp))
	if resp.SignatureEnvelopeType != "application/jose+json" {
		t.Errorf("envelope type %q", resp.SignatureEnvelopeType)
	}
	want := map[string]string{
		"io.github.notation-piv.card.serial": fmt.Sprint(testSerial),
		"io.github.notation-piv.card.slot":   "9c",
		"io.github.notation-piv.key.spec":    "EC-256",
	}
	if !maps.Equal(resp.Annotations, want) {
		t.Errorf("annotations %v, want %v", resp.Annotations, want)
	}
	// Without pluginConfig serial the card's serial number is read from
	// the card and annotated all the same.
	r = invoke(t, "generate-envelope", withoutSerial(t, envelopeRequest("9c", nil)), "NOTATION_PIV_PIN=123456")
	var resp2 plugin.GenerateEnvelopeResponse
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &resp2) != nil {
		t.Fatalf("without pluginConfig serial: exit %d, stderr %s", r.code, r.stderr)
	}
	if !maps.Equal(resp2.Annotations, want) {
		t.Errorf("without pluginConfig serial: annotations %v, want %v", resp2.Annotations, want)
	}
	protected, unprotected, err := jws.Headers(resp.SignatureEnvelope)
	must(t, err)
	if protected["alg"] != "ES256" || unprotected["io.cncf.notary.signingAgent"] != "notation-piv/"+testVersion {
		t.Errorf("headers %v %v", protected, unprotected)
	}
	var jwsEnv struct{ Payload string }
	must(t, json.Unmarshal(resp.SignatureEnvelope, &jwsEnv))
	if p, _ := base64.RawURLEncoding.DecodeString(jwsEnv.Payload); string(p) != notaryPayload {
		t.Errorf("payload not embedded verbatim: %s", p)
	}
	log, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(log), "generate-envelope succeeded") {
		t.Errorf("debug log: %v\n%s", err, log)
	}
}

func TestCardErrors(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)

	t.Run("empty slot", func(t *testing.T) {
		for _, cmd := range []string{"describe-key", "generate-envelope"} {
			expectError(t, invoke(t, cmd, envelopeRequest("9d", nil), "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeValidation, "no certificate in the slot")
		}
	})
	t.Run("unknown envelope type", func(t *testing.T) {
		req := withEnvelopeType(envelopeRequest("9c", nil), "application/x-unknown")
		expectError(t, invoke(t, "generate-envelope", req, "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeValidation, "application/jose+json")
	})
	t.Run("no card with that serial", func(t *testing.T) {
		req := strings.Replace(envelopeRequest("9c", nil), fmt.Sprint(testSerial), "99999999", 1)
		expectError(t, invoke(t, "generate-envelope", req, "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeValidation, fmt.Sprint(testSerial))
	})
	t.Run("PIN file readable by others", func(t *testing.T) {
		pinFile := writeMode(t, filepath.Join(t.TempDir(), "pin"), "123456\n", 0o644)
		env.Card.ResetStats()
		expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"pin_file": pinFile})), plugin.ErrorCodeValidation, "chmod 600")
		if n := env.Card.Stats().Commands; n != 0 {
			t.Errorf("the card got %d commands before the config was found wrong", n)
		}
	})
	t.Run("no PIN source", func(t *testing.T) {
		perr := expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", nil)), plugin.ErrorCodeAccessDenied, "NOTATION_PIV_PIN")
		if perr.Metadata["retriesLeft"] != "" {
			t.Errorf("metadata %v", perr.Metadata)
		}
		if n := pinRetries(t, env); n != 3 {
			t.Errorf("%d retries left after no PIN was given, want 3", n)
		}
	})
	t.Run("wrong PIN costs exactly one retry", func(t *testing.T) {
		perr := expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN=999999"), plugin.ErrorCodeAccessDenied, "2")
		if perr.Metadata["retriesLeft"] != "2" {
			t.Errorf("metadata %v, want retriesLeft 2", perr.Metadata)
		}
		// Each layer names only what its callee did not: the signing
		// step once, then what the card said.
		if want := "sign with slot 9c: wrong PIN, 2 tries left before the PIN is blocked: check the PIN source and sign again"; perr.Message != want {
			t.Errorf("message %q, want %q", perr.Message, want)
		}
		if n := pinRetries(t, env); n != 2 {
			t.Errorf("%d retries left, want 2", n)
		}
	})
	t.Run("the last PIN try is not spent unless allowed", func(t *testing.T) {
		allow := map[string]string{"allow_last_pin_try": "true"}
		expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", allow), "NOTATION_PIV_PIN=999999"), plugin.ErrorCodeAccessDenied, "1 try left")
		if n := pinRetries(t, env); n != 1 {
			t.Fatalf("%d retries left after a second wrong PIN, want 1", n)
		}
		env.Card.ResetStats()
		perr := expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeAccessDenied, "1 PIN try left", "allow_last_pin_try=true")
		if perr.Metadata["retriesLeft"] != "1" {
			t.Errorf("metadata %v, want retriesLeft 1", perr.Metadata)
		}
		if pinsChecked(env) != 0 {
			t.Error("the PIN was sent to the card with 1 try left and allow_last_pin_try unset")
		}
		if n := pinRetries(t, env); n != 1 {
			t.Errorf("%d retries left after the refusal, want 1", n)
		}
		if r := invoke(t, "generate-envelope", envelopeRequest("9c", allow), "NOTATION_PIV_PIN=123456"); r.code != 0 {
			t.Fatalf("allow_last_pin_try=true with the right PIN: exit %d: %s", r.code, r.stderr)
		}
		// Power the card off so that the verified PIN is forgotten and the
		// status query gives the retries again.
		must(t, env.Reinsert())
		if n := pinRetries(t, env); n != 3 {
			t.Errorf("%d retries left after the right PIN, want 3", n)
		}
	})
	t.Run("PIN from a file", func(t *testing.T) {
		pinFile := writeMode(t, filepath.Join(t.TempDir(), "pin"), "123456\n", 0o600)
		r := invoke(t, "generate-envelope", envelopeRequest("9c", map[string]string{"pin_file": pinFile}))
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("keySpec mismatch in RAW mode", func(t *testing.T) {
		req := marshal(plugin.GenerateSignatureRequest{
			ContractVersion: "1.0", KeyID: "9c", KeySpec: "RSA-2048", Hash: "SHA-256",
			Payload: []byte("eyJhbGciOiJQUzI1NiJ9.e30"), PluginConfig: map[string]string{"mode": "raw"},
		})
		expectError(t, invoke(t, "generate-signature", req, "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeValidation, "EC-256")
	})
}

// TestWrongPINMessage checks that a wrong PIN's message, through the
// plugin (JWS) and through "envelope sign" (COSE), names the signing step
// at most once and none of the envelope code's steps around it.
func TestWrongPINMessage(t *testing.T) {
	needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	wrongOnce := func(what, msg string) {
		t.Helper()
		t.Logf("%s: %s", what, msg)
		if !strings.Contains(msg, "wrong PIN") || strings.Count(msg, "wrong PIN") > 1 || strings.Count(msg, "sign with slot") > 1 {
			t.Errorf("%s: %q names the wrong PIN or the signing step more than once", what, msg)
		}
		for _, step := range []string{"sign jws", "sign cose", "sign with EC-256 key"} {
			if strings.Contains(msg, step) {
				t.Errorf("%s: %q names the envelope step %q", what, msg, step)
			}
		}
	}
	perr := expectError(t, invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN=999999"), plugin.ErrorCodeAccessDenied, "2")
	wrongOnce("generate-envelope", perr.Message)
	dir := t.TempDir()
	artifact := writeFile(t, dir, "artifact", []byte("signed with a wrong PIN\n"))
	r := runUser(t, dir, []string{"NOTATION_PIV_PIN=999999"}, "envelope", "sign", "--format", "cose", "--out", "a.sig", "--artifact", artifact, serialFlag)
	mustFail(t, "envelope sign", r, "wrong PIN: 1 try left")
	wrongOnce("envelope sign", r.stderr)
}

// TestCanaryPIN signs with a PIN no other test uses and checks that it
// appears nowhere: not on stdout, stderr, in the debug log, the
// annotations or the envelope, in any of the encodings they use.
func TestCanaryPIN(t *testing.T) {
	needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	const canary = "73915824"
	yk := openPIV(t)
	must(t, yk.SetPIN(piv.DefaultPIN, canary))
	yk.Close()
	logFile := filepath.Join(t.TempDir(), "plugin.log")
	forms := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), base64.RawURLEncoding.EncodeToString([]byte(canary)), fmt.Sprintf("%x", canary)}

	ok := invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN="+canary, "NOTATION_PIV_LOG="+logFile)
	if ok.code != 0 {
		t.Fatalf("sign with the canary PIN: %s", ok.stderr)
	}
	var resp plugin.GenerateEnvelopeResponse
	must(t, json.Unmarshal([]byte(ok.stdout), &resp))
	bad := invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN="+canary+"9", "NOTATION_PIV_LOG="+logFile)
	expectError(t, bad, plugin.ErrorCodeAccessDenied)
	log, err := os.ReadFile(logFile)
	must(t, err)
	annotations, _ := json.Marshal(resp.Annotations)
	for name, text := range map[string]string{
		"stdout": ok.stdout, "stderr": ok.stderr + bad.stdout + bad.stderr, "log": string(log),
		"envelope": string(resp.SignatureEnvelope), "annotations": string(annotations),
	} {
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("the canary PIN appears in %s as %q", name, f)
			}
		}
	}
	if !strings.Contains(string(log), "generate-envelope failed: ACCESS_DENIED") {
		t.Errorf("the log does not record the failure:\n%s", log)
	}
}

// TestRawCommandsWithoutRawMode checks that describe-key and
// generate-signature work even when the config does not ask for RAW mode,
// whatever get-plugin-metadata would advertise.
func TestRawCommandsWithoutRawMode(t *testing.T) {
	needCard(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	config := map[string]string{"serial": fmt.Sprint(testSerial)}

	r := invoke(t, "describe-key", marshal(plugin.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "9C", PluginConfig: config}))
	var desc plugin.DescribeKeyResponse
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &desc) != nil || desc.KeyID != "9C" || desc.KeySpec != "EC-256" {
		t.Fatalf("describe-key: %+v", r)
	}

	r = invoke(t, "generate-signature", marshal(plugin.GenerateSignatureRequest{
		ContractVersion: "1.0", KeyID: "9C", KeySpec: "EC-256", Hash: "SHA-256", Payload: rawPayload, PluginConfig: config,
	}), "NOTATION_PIV_PIN=123456")
	var sig plugin.GenerateSignatureResponse
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sig) != nil {
		t.Fatalf("generate-signature: %+v", r)
	}
	if sig.KeyID != "9C" || sig.SigningAlgorithm != "ECDSA-SHA-256" || len(sig.CertificateChain) != 1 || !bytes.Equal(sig.CertificateChain[0], leaf.Raw) {
		t.Errorf("response %+v", sig)
	}
	if len(sig.Signature) != 64 {
		t.Fatalf("signature of %d bytes, want r||s of 64", len(sig.Signature))
	}
	digest := sha256.Sum256(rawPayload)
	rInt, sInt := new(big.Int).SetBytes(sig.Signature[:32]), new(big.Int).SetBytes(sig.Signature[32:])
	if !ecdsa.Verify(leaf.PublicKey.(*ecdsa.PublicKey), digest[:], rInt, sInt) {
		t.Error("the RAW signature does not verify with the slot's certificate")
	}
}

// TestUnsupportedKeys puts keys no Notary signature can use into a slot,
// with a certificate, and expects a VALIDATION_ERROR naming the supported
// key specs, before any PIN is asked for.
func TestUnsupportedKeys(t *testing.T) {
	for name, alg := range map[string]piv.Algorithm{"RSA-1024": piv.AlgorithmRSA1024, "Ed25519": piv.AlgorithmEd25519, "X25519": piv.AlgorithmX25519} {
		t.Run(name, func(t *testing.T) {
			needCard(t)
			yk := openPIV(t)
			leaf := certifyWithOpenSSL(t, generateKey(t, yk, piv.SlotSignature, alg, piv.PINPolicyAlways))
			must(t, yk.SetCertificate(piv.DefaultManagementKey, piv.SlotSignature, leaf))
			yk.Close()
			for _, cmd := range []string{"describe-key", "generate-envelope"} {
				expectError(t, invoke(t, cmd, envelopeRequest("9c", nil)), plugin.ErrorCodeValidation, "RSA-2048", "EC-384")
			}
		})
	}
}

// certifyWithOpenSSL issues a certificate for any public key, X25519
// included (which Go's x509 cannot), from a throwaway CA made by openssl.
func certifyWithOpenSSL(t *testing.T, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(pub)
	must(t, err)
	write(t, filepath.Join(dir, "leaf.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	run := func(args ...string) {
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=unsupported keys CA", "-days", "1")
	run("x509", "-new", "-subj", "/CN=unsupported key", "-force_pubkey", "leaf.pub", "-CA", "ca.crt", "-CAkey", "ca.key", "-days", "1", "-outform", "DER", "-out", "leaf.der")
	b, err := os.ReadFile(filepath.Join(dir, "leaf.der"))
	must(t, err)
	leaf, err := x509.ParseCertificate(b)
	must(t, err)
	return leaf
}
