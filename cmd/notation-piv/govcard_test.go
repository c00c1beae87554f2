package main

import (
	"bytes"
	"crypto"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/cli"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// A US government PIV or CAC card cannot sign with Notation in any slot:
// the certificate of its digital signature key (9c) has the extended key
// usage emailProtection, that of its authentication key (9a) clientAuth,
// and notation refuses both in a signing certificate. The test puts such
// certificates on the virtual card, issued by a CA as a government card
// holds them, and checks that every way to sign refuses them up front,
// through the plugin binary: exit status 1, nothing on stdout, a
// VALIDATION_ERROR that quotes the Notary Project rule, and the card
// neither asked for its PIN (no VERIFY at all) nor to sign, its state and
// PIN retries unchanged.

// govSlot is a slot of a government card and the extended key usage its
// certificate has that notation refuses.
type govSlot struct {
	keyID     string
	slot      piv.Slot
	pinPolicy piv.PINPolicy
	profile   fixtures.Option
	refused   string
	pub       crypto.PublicKey
}

// govRefusal is what every refusal of a slot's certificate says: the
// slot, the usage, the rule quoted word for word, and what to do.
func govRefusal(s govSlot) []string {
	return []string{
		"the certificate in slot " + s.keyID + " cannot sign Notary Project signatures",
		"has the extended key usage " + s.refused + ", which notation refuses in a signing certificate",
		`"` + certchain.ExtKeyUsageRule + `"`,
		`sign with a card whose certificate allows code signing`,
	}
}

// untouched checks that the card got no VERIFY and no GENERAL
// AUTHENTICATE since its stats were reset, and that its state, PIN
// retries included, is before.
func untouched(t *testing.T, env *vcardtest.Env, what string, before []byte) {
	t.Helper()
	if n := sent(env, "VERIFY"); n != 0 {
		t.Errorf("%s: %d VERIFY sent before the certificate was refused", what, n)
	}
	if n := sent(env, "GENERAL AUTHENTICATE"); n != 0 {
		t.Errorf("%s: %d GENERAL AUTHENTICATE sent before the certificate was refused", what, n)
	}
	if after := snapshot(t, env); !bytes.Equal(after, before) {
		t.Errorf("%s: the card's state changed", what)
	}
	if n := pinRetries(t, env); n != 3 {
		t.Errorf("%s: %d PIN retries left, want 3", what, n)
	}
}

func TestGovernmentCardRefused(t *testing.T) {
	env := needCard(t)
	ca := fixtures.Intermediate()
	dir := t.TempDir()
	bundle := writePEM(t, filepath.Join(dir, "ca.pem"), ca.Chain()...)
	slots := []govSlot{
		{keyID: "9c", slot: piv.SlotSignature, pinPolicy: piv.PINPolicyAlways, profile: fixtures.PIVDigitalSignature, refused: "emailProtection"},
		{keyID: "9a", slot: piv.SlotAuthentication, pinPolicy: piv.PINPolicyOnce, profile: fixtures.PIVAuthentication, refused: "clientAuth"},
	}
	yk := openPIV(t)
	certs := map[string]string{}
	for i, s := range slots {
		slots[i].pub = generateKey(t, yk, s.slot, piv.AlgorithmRSA2048, s.pinPolicy)
		certs[s.keyID] = writePEM(t, filepath.Join(dir, s.keyID+".crt"), certify(t, yk, s.slot, slots[i].pub, ca, s.profile))
	}
	yk.Close()
	must(t, env.Reinsert()) // forget the PIN piv-go verified

	for _, s := range slots {
		t.Run(s.keyID+" contract", func(t *testing.T) {
			for _, config := range []map[string]string{nil, {"ca_certs": bundle}} {
				requests := map[string]string{
					"describe-key":           requestFor("describe-key", maps.Clone(config)),
					"generate-signature":     requestFor("generate-signature", maps.Clone(config)),
					"generate-envelope JWS":  requestFor("generate-envelope", maps.Clone(config)),
					"generate-envelope COSE": withEnvelopeType(requestFor("generate-envelope", maps.Clone(config)), "application/cose"),
				}
				for name, req := range requests {
					command, _, _ := strings.Cut(name, " ")
					req = editRequest(t, req, func(m map[string]any) {
						m["keyId"] = s.keyID
						if _, ok := m["keySpec"]; ok {
							m["keySpec"] = "RSA-2048"
						}
					})
					what := name + " without ca_certs"
					if config != nil {
						what = name + " with ca_certs"
					}
					before := snapshot(t, env)
					env.Card.ResetStats()
					perr := expectError(t, invoke(t, command, req, "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeValidation, govRefusal(s)...)
					untouched(t, env, what, before)
					t.Logf("%s: %s", what, perr.Message)
				}
			}
		})
		t.Run(s.keyID+" envelope sign", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "signature.jws")
			before := snapshot(t, env)
			env.Card.ResetStats()
			r := runUser(t, "", []string{"NOTATION_PIV_PIN=123456"}, "envelope", "sign", serialFlag, "--slot", s.keyID, "--ca-certs", bundle,
				"--descriptor", `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5e1ad14c87a9fb1a7333811d393dd3ba167fcb659c44aed0bbb5b9ada0c94cd9","size":406}`,
				"--out", out)
			expectNoOutputFailure(t, r, govRefusal(s)...)
			if !strings.Contains(r.stderr, "\nhint: sign with a card whose certificate allows code signing") {
				t.Errorf("no hint:\n%s", r.stderr)
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("--out %s: %v, want no file", out, err)
			}
			untouched(t, env, "envelope sign", before)
		})
		t.Run(s.keyID+" cert import", func(t *testing.T) {
			before := snapshot(t, env)
			env.Card.ResetStats()
			r := runUser(t, "", []string{"NOTATION_PIV_PIN=123456"}, "cert", "import", serialFlag, "--slot", s.keyID, "--ca-certs", bundle, certs[s.keyID])
			expectNoOutputFailure(t, r, certs[s.keyID]+" cannot sign Notary Project signatures", "extended key usage "+s.refused, `"`+certchain.ExtKeyUsageRule+`"`)
			if n := env.Card.Stats().Commands; n != 0 {
				t.Errorf("the card got %d APDUs for a certificate refused from its file", n)
			}
			untouched(t, env, "cert import", before)
		})
	}

	t.Run("list", func(t *testing.T) {
		r := runUser(t, "", nil, "list", "--json")
		mustSucceed(t, "list --json", r)
		var out cli.ListOutput
		must(t, json.Unmarshal([]byte(r.stdout), &out))
		if len(out.Cards) != 1 {
			t.Fatalf("%d cards listed", len(out.Cards))
		}
		found := 0
		for _, ls := range out.Cards[0].Slots {
			for _, s := range slots {
				if ls.Slot != s.keyID {
					continue
				}
				found++
				c := ls.Certificate
				if c == nil || c.MeetsNotaryRules || !strings.Contains(c.NotaryProblem, "extended key usage "+s.refused) || !strings.Contains(c.NotaryProblem, certchain.ExtKeyUsageRule) {
					t.Errorf("slot %s: %+v, want the refused usage and the rule", s.keyID, c)
				}
			}
		}
		if found != len(slots) {
			t.Errorf("list shows %d of the %d slots", found, len(slots))
		}
	})

	// The same key with a code-signing certificate signs: the refusals
	// above came from the extended key usage, not from the requests.
	t.Run("control: a code-signing certificate for the same key", func(t *testing.T) {
		s := slots[0]
		yk := openPIV(t)
		certify(t, yk, s.slot, s.pub, ca)
		yk.Close()
		must(t, env.Reinsert())
		r := invoke(t, "describe-key", requestFor("describe-key", map[string]string{"ca_certs": bundle}), "NOTATION_PIV_PIN=123456")
		if r.code != 0 || !strings.Contains(r.stdout, `"keySpec":"RSA-2048"`) {
			t.Fatalf("describe-key: exit %d, stdout %s, stderr %s", r.code, r.stdout, r.stderr)
		}
		env.Card.ResetStats()
		r = invoke(t, "generate-envelope", requestFor("generate-envelope", map[string]string{"ca_certs": bundle}), "NOTATION_PIV_PIN=123456")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("generate-envelope: exit %d, stderr %s", r.code, r.stderr)
		}
		if pinsChecked(env) != 1 || sent(env, "GENERAL AUTHENTICATE") == 0 {
			t.Errorf("the signature sent %d PINs and %d GENERAL AUTHENTICATE, want 1 and some", pinsChecked(env), sent(env, "GENERAL AUTHENTICATE"))
		}
	})
}
