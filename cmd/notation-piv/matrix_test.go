package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/fixtures"
)

// matrixKey is one key spec of the matrix, in a slot of its own so that
// every key is generated once.
type matrixKey struct {
	spec string
	alg  piv.Algorithm
	slot piv.Slot
	id   string
	pin  piv.PINPolicy
}

var matrixKeys = []matrixKey{
	{"EC-256", piv.AlgorithmEC256, piv.SlotAuthentication, "9a", piv.PINPolicyOnce},
	{"EC-384", piv.AlgorithmEC384, piv.SlotSignature, "9c", piv.PINPolicyAlways},
	{"RSA-2048", piv.AlgorithmRSA2048, piv.SlotKeyManagement, "9d", piv.PINPolicyOnce},
	{"RSA-3072", piv.AlgorithmRSA3072, piv.SlotCardAuthentication, "9e", piv.PINPolicyAlways},
	{"RSA-4096", piv.AlgorithmRSA4096, retiredSlot(0x82), "82", piv.PINPolicyOnce},
}

func retiredSlot(key uint32) piv.Slot {
	s, _ := piv.RetiredKeyManagementSlot(key)
	return s
}

// TestNotationMatrix signs with every key spec a PIV card holds, in both
// envelope formats and both plugin modes, through notation v1.3.2 with the
// plugin and the virtual card; notation verify must accept each signature
// under a strict policy and reject it once its signature is tampered
// with. The matrix runs with self-signed leaves and with leaf →
// intermediate → root chains given through ca_certs.
func TestNotationMatrix(t *testing.T) {
	needCard(t)
	yk := openPIV(t)
	pubs := make([]crypto.PublicKey, len(matrixKeys))
	for i, k := range matrixKeys {
		pubs[i] = generateKey(t, yk, k.slot, k.alg, k.pin)
	}
	yk.Close()

	for _, chained := range []bool{false, true} {
		shape := "self-signed"
		if chained {
			shape = "CA chain"
		}
		t.Run(shape, func(t *testing.T) {
			n := newNotation(t)
			var config []string
			yk := openPIV(t)
			var ca *fixtures.CA
			if chained {
				ca = fixtures.Intermediate()
				config = append(config, "ca_certs="+writePEM(t, filepath.Join(n.dir, "ca.pem"), ca.Chain()...))
			}
			var leaves []*x509.Certificate
			for i, k := range matrixKeys {
				leaves = append(leaves, certify(t, yk, k.slot, pubs[i], ca))
			}
			yk.Close()
			if chained {
				n.trust(fixtures.Root().Cert)
			} else {
				n.trust(leaves...)
			}
			for _, k := range matrixKeys {
				for _, mode := range []string{"envelope", "raw"} {
					name := k.spec + "-" + mode
					n.addKey(name, k.id, append([]string{"mode=" + mode}, config...)...)
					for _, format := range []string{"jws", "cose"} {
						t.Run(fmt.Sprintf("%s/%s/%s", k.spec, mode, format), func(t *testing.T) {
							signVerifyTamper(t, n, name, format, mode)
						})
					}
				}
			}
		})
	}
}

// signVerifyTamper signs a new artifact with the named key, verifies it,
// checks who built the envelope, and checks that a tampered envelope fails.
// It returns the envelope as notation stored it, before the tampering.
func signVerifyTamper(t *testing.T, n *notationEnv, key, format, mode string) []byte {
	layout := newLayout(t, "artifact for "+t.Name())
	n.run("sign", "--oci-layout", "--key", key, "--signature-format", format, layout.ref())
	n.verify(layout)

	sigs := layout.signatures(t)
	if len(sigs) != 1 {
		t.Fatalf("%d signatures, want 1", len(sigs))
	}
	var signed []byte
	for digest, envelope := range sigs {
		signed = envelope
		agent := signingAgent(t, format, envelope)
		want := "notation-piv/" + testVersion
		if mode == "raw" {
			want = "notation-go/1.3.2 piv/" + testVersion
		}
		if agent != want {
			t.Errorf("signing agent %q, want %q", agent, want)
		}
		tampered, err := envelopetest.Tamper(mediaTypeOf[format], envelope, envelopetest.Signature)
		must(t, err)
		layout.replaceEnvelope(t, digest, tampered)
	}
	n.verifyFails(t, layout, "signature is invalid")
	return signed
}

// TestNotationExpiry checks that notation sign --expiry sets the expiry in
// both formats, that notation verify accepts the signature before it and
// rejects it after. The key names no serial in pluginConfig: the
// signature names the card by its serial number all the same.
func TestNotationExpiry(t *testing.T) {
	needCard(t)
	leaf := provision(t, piv.AlgorithmEC256, nil)
	n := newNotation(t)
	n.trust(leaf)
	n.run("key", "add", "pivkey", "--plugin", "piv", "--id", "9c", "--default")
	for _, format := range []string{"jws", "cose"} {
		t.Run(format, func(t *testing.T) {
			long := newLayout(t, "long-lived "+format)
			before := time.Now().Truncate(time.Second)
			n.run("sign", "--oci-layout", "--signature-format", format, "--expiry", "1h", long.ref())
			n.verify(long)
			for manifest, envelope := range long.signatures(t) {
				var m struct {
					Annotations map[string]string `json:"annotations"`
				}
				must(t, json.Unmarshal(long.blob(t, manifest), &m))
				if got := m.Annotations["io.github.notation-piv.card.serial"]; got != fmt.Sprint(testSerial) {
					t.Errorf("card serial annotation %q, want %d", got, testSerial)
				}
				expiry := expiryOf(t, format, envelope)
				if d := expiry.Sub(before); d < time.Hour || d > time.Hour+time.Minute {
					t.Errorf("expiry %v is %v after signing, want 1h", expiry, d)
				}
			}

			short := newLayout(t, "short-lived "+format)
			n.run("sign", "--oci-layout", "--signature-format", format, "--expiry", "2s", short.ref())
			time.Sleep(3 * time.Second)
			n.verifyFails(t, short, "expired")
		})
	}
}

func signingAgent(t *testing.T, format string, envelope []byte) string {
	t.Helper()
	return envelopeContent(t, format, envelope).SignerInfo.UnsignedAttributes.SigningAgent
}

func expiryOf(t *testing.T, format string, envelope []byte) time.Time {
	t.Helper()
	return envelopeContent(t, format, envelope).SignerInfo.SignedAttributes.Expiry
}
