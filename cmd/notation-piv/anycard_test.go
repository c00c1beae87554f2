package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/cli"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// Cards that are not YubiKeys: a plain SP 800-73-4 card (the virtual
// card's generic profile) and trussed's PIV applet (Nitrokey 3, Solo 2).
// Neither has a serial number: notation-piv names them by the GUID of
// their CHUID. Both sign with the key their issuer put on them; neither
// can be set up, reset or attest through notation-piv.

// issuedSerial is the serial number the cards without one are made from:
// the virtual card derives their GUID from it (card.GUIDOf).
const issuedSerial = testSerial + 200

// guidOf is the GUID notation-piv shows for the virtual card made from
// serial.
func guidOf(serial uint32) string {
	guid := card.GUIDOf(serial)
	return hex.EncodeToString(guid[:])
}

// issuedConfig returns the configuration of a card of profile, made from
// serial, that holds an EC-256 key in slot 9c with a self-signed
// certificate that meets the Notary Project rules, as its issuer
// provisioned it, and the certificate.
func issuedConfig(profile card.Profile, serial uint32) (card.Config, *x509.Certificate) {
	key := fixtures.NewKey("EC-256").(*ecdsa.PrivateKey)
	leaf := fixtures.SelfSigned(key, fixtures.Subject(signerSubject))
	return card.Config{Serial: serial, Profile: profile, Imports: []card.Import{{Slot: 0x9C, Key: key, Certificate: leaf.Raw}}}, leaf
}

// issuedCard returns the card of issuedConfig, and its certificate.
func issuedCard(t *testing.T, profile card.Profile, serial uint32) (*card.Card, *x509.Certificate) {
	t.Helper()
	cfg, leaf := issuedConfig(profile, serial)
	c, err := card.New(cfg)
	if err != nil {
		t.Fatalf("make a %s card: %v", profile, err)
	}
	return c, leaf
}

// swapCard puts c into env's reader until the test ends, when the card
// that was there goes back.
func swapCard(t *testing.T, env *vcardtest.Env, c *card.Card) {
	t.Helper()
	original := env.Card
	must(t, env.Swap(c))
	t.Cleanup(func() {
		if err := env.Swap(original); err != nil {
			t.Errorf("put the original card back: %v", err)
		}
	})
}

// readOnly reports whether a command the card got cannot change it:
// selecting the application, reading its version, serial number, data
// objects and metadata, and asking for the PIN's retries without a PIN.
func readOnly(e card.LogEntry) bool {
	switch e.Name {
	case "SELECT", "GET VERSION", "GET SERIAL", "GET DATA", "GET RESPONSE", "GET METADATA":
		return true
	case "VERIFY":
		return e.DataLen == 0
	}
	return false
}

// unchanged checks that the card got nothing but read-only commands since
// its stats were reset, that its state is before, and that its PIN and
// PUK have all their retries.
func unchanged(t *testing.T, env *vcardtest.Env, what string, before []byte) {
	t.Helper()
	for _, e := range env.Card.Stats().Log {
		if !readOnly(e) {
			t.Errorf("%s: the card got %s (INS %02X P1 %02X P2 %02X, %d bytes of data)", what, e.Name, e.INS, e.P1, e.P2, e.DataLen)
		}
	}
	if !bytes.Equal(snapshot(t, env), before) {
		t.Errorf("%s: the card's state changed", what)
	}
	if st := readCardState(t, env); st.PINRetries != 3 || st.PUKRetries != 3 {
		t.Errorf("%s: %d PIN and %d PUK retries left, want 3 and 3", what, st.PINRetries, st.PUKRetries)
	}
}

// TestManagementRefused runs every command that changes a card's keys or
// management key on a generic and on a trussed card, with the PIN and PUK
// given and every confirmation waived: each fails, naming what the card
// lacks and what to do, and the card gets nothing that could change it:
// its state, PIN and PUK retries included, is the same after, and its
// APDU log holds only reads. reset in particular never blocks the PIN or
// the PUK on a card that has no RESET. On a terminal, the refusal comes
// before any prompt.
func TestManagementRefused(t *testing.T) {
	env := needCard(t)
	for _, profile := range []card.Profile{card.ProfileGeneric, card.ProfileTrussed} {
		t.Run(string(profile), func(t *testing.T) {
			c, leaf := issuedCard(t, profile, issuedSerial)
			swapCard(t, env, c)
			guid := guidOf(issuedSerial)
			kind := map[card.Profile]string{card.ProfileGeneric: "(SP 800-73-4)", card.ProfileTrussed: "(trussed (Nitrokey 3, Solo 2) 6.6.6)"}[profile]
			dir := t.TempDir()
			certFile := writePEM(t, filepath.Join(dir, "9c.crt"), leaf)
			secrets := []string{"NOTATION_PIV_PIN=123456", "NOTATION_PIV_PUK=12345678"}
			lacks := "setup, cert import, management-key set and reset need a YubiKey"
			for _, tc := range []struct {
				name, op string
				args     []string
			}{
				{"setup", "generate a key in slot 9c", []string{"setup", "--force", "--yes", "--guid", guid}},
				{"setup in another slot", "generate a key in slot 9d", []string{"setup", "--slot", "9d", "--pin-policy", "never"}},
				{"reset", "reset the card", []string{"reset", "--yes", "--guid", strings.ToUpper(guid)}},
				{"reset without a selector", "reset the card", []string{"reset", "--yes"}},
				{"management-key set", "change the management key", []string{"management-key", "set", "--protect", "--guid", guid}},
				{"cert import", "store a certificate in slot 9c", []string{"cert", "import", "--guid", guid, certFile}},
			} {
				before := snapshot(t, env)
				env.Card.ResetStats()
				r := runUser(t, dir, secrets, tc.args...)
				mustFail(t, tc.name, r, tc.op+": the card GUID "+guid+" "+kind, "cannot do this", "\nhint: this card signs with the keys its issuer put on it", lacks)
				if r.stdout != "" {
					t.Errorf("%s: stdout %q", tc.name, r.stdout)
				}
				unchanged(t, env, tc.name, before)
			}

			before := snapshot(t, env)
			env.Card.ResetStats()
			r := runUser(t, dir, secrets, "envelope", "sign", "--attest", "--guid", guid, "--out", filepath.Join(dir, "attested.jws"),
				"--descriptor", `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5e1ad14c87a9fb1a7333811d393dd3ba167fcb659c44aed0bbb5b9ada0c94cd9","size":406}`)
			mustFail(t, "envelope sign --attest", r, "attest the key in slot 9c: the card GUID "+guid, "cannot do this", "such as a YubiKey 5", "or sign without --attest")
			unchanged(t, env, "envelope sign --attest", before)

			for _, mediaType := range []string{"application/jose+json", "application/cose"} {
				req := editRequest(t, withEnvelopeType(requestFor("generate-envelope", map[string]string{"attest": "true"}), mediaType), func(m map[string]any) {
					config := m["pluginConfig"].(map[string]any)
					delete(config, "serial")
					config["guid"] = guid
				})
				env.Card.ResetStats()
				expectError(t, invoke(t, "generate-envelope", req, secrets...), plugin.ErrorCodeValidation,
					"attest the key in slot 9c: the card GUID "+guid+" "+kind, "cannot do this", "such as a YubiKey 5", "or sign without pluginConfig attest=true")
				unchanged(t, env, "generate-envelope attest=true "+mediaType, before)
			}

			// On a terminal: no confirmation, no PIN prompt.
			for _, args := range [][]string{{"reset", "--guid", guid}, {"setup", "--force", "--guid", guid}} {
				env.Card.ResetStats()
				r, screen := converse(t, nil, nil, args...)
				mustFail(t, args[0]+" on a terminal", r, "cannot do this", lacks)
				if strings.Contains(screen, "Enter the") || strings.Contains(screen, "?") || strings.Contains(screen, "Type ") {
					t.Errorf("%s on a terminal prompted:\n%s", args[0], screen)
				}
				unchanged(t, env, args[0]+" on a terminal", before)
			}
		})
	}
}

// TestYubiKeyAndGenericCard puts a YubiKey and a generic card side by
// side: each signs when pluginConfig names it, the YubiKey by serial and
// the generic card by guid, in JWS and COSE, and each envelope verifies
// with notation-core-go, carries the card's own certificate and names the
// card in its annotations: the serial number, or the GUID where there is
// none. Naming the card costs the generic card one GET DATA of its CHUID
// and the YubiKey nothing more than its GET SERIAL. Without a selector
// the plugin and the commands for people refuse to choose, and list each
// card by its serial number or GUID. list shows both, with what each can
// do, and --guid picks the generic card for the commands for people.
func TestYubiKeyAndGenericCard(t *testing.T) {
	env := needCard(t)
	ykLeaf := provision(t, piv.AlgorithmEC256, nil)
	cfg, genericLeaf := issuedConfig(card.ProfileGeneric, issuedSerial)
	generic, err := vcardtest.Start(vcardtest.Options{Port: vcardtest.SecondPort, Config: cfg})
	if err != nil {
		t.Fatalf("second virtual card: %v", err)
	}
	t.Cleanup(func() {
		if err := generic.Close(); err != nil {
			t.Errorf("remove the second card: %v", err)
		}
	})
	guid := guidOf(issuedSerial)
	pin := "NOTATION_PIV_PIN=123456"

	for _, tc := range []struct {
		name        string
		env         *vcardtest.Env
		config      map[string]string
		leaf        *x509.Certificate
		annotations map[string]string
		// getSerial and getData are how many GET SERIAL and GET DATA
		// commands a signature sends.
		getSerial, getData int
	}{
		{"yubikey by serial", env, map[string]string{"serial": fmt.Sprint(testSerial)}, ykLeaf,
			map[string]string{"io.github.notation-piv.card.serial": fmt.Sprint(testSerial)}, 1, 1},
		{"generic by guid", generic, map[string]string{"guid": guid}, genericLeaf,
			map[string]string{"io.github.notation-piv.card.guid": guid}, 0, 2},
		{"generic by guid as a UUID", generic, map[string]string{"guid": strings.ToUpper(guid[:8] + "-" + guid[8:12] + "-" + guid[12:16] + "-" + guid[16:20] + "-" + guid[20:])}, genericLeaf,
			map[string]string{"io.github.notation-piv.card.guid": guid}, 0, 2},
		{"generic by reader", generic, map[string]string{"reader": generic.Reader}, genericLeaf,
			map[string]string{"io.github.notation-piv.card.guid": guid}, 0, 2},
	} {
		for _, format := range []string{"jws", "cose"} {
			t.Run(tc.name+" "+format, func(t *testing.T) {
				req := editRequest(t, withEnvelopeType(requestFor("generate-envelope", nil), mediaTypeOf[format]), func(m map[string]any) {
					config := map[string]any{}
					for k, v := range tc.config {
						config[k] = v
					}
					m["pluginConfig"] = config
				})
				tc.env.Card.ResetStats()
				r := invoke(t, "generate-envelope", req, pin)
				if r.code != 0 {
					t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
				}
				var resp plugin.GenerateEnvelopeResponse
				must(t, json.Unmarshal([]byte(r.stdout), &resp))
				content := verifiedContent(t, format, resp.SignatureEnvelope)
				if chain := content.SignerInfo.CertificateChain; len(chain) != 1 || !chain[0].Equal(tc.leaf) {
					t.Errorf("the envelope carries %d certificates, not the card's own", len(chain))
				}
				for k, v := range map[string]string{"io.github.notation-piv.card.slot": "9c", "io.github.notation-piv.key.spec": "EC-256"} {
					tc.annotations[k] = v
				}
				if len(resp.Annotations) != len(tc.annotations) {
					t.Errorf("annotations %v, want %v", resp.Annotations, tc.annotations)
				}
				for k, v := range tc.annotations {
					if resp.Annotations[k] != v {
						t.Errorf("annotation %s = %q, want %q (all: %v)", k, resp.Annotations[k], v, resp.Annotations)
					}
				}
				if got, want := sent(tc.env, "GET SERIAL"), tc.getSerial; got != want {
					t.Errorf("%d GET SERIAL, want %d", got, want)
				}
				if got, want := sent(tc.env, "GET DATA"), tc.getData; got != want {
					t.Errorf("%d GET DATA, want %d (the certificate, and the CHUID of a card without a serial number)", got, want)
				}
				if n := pinsChecked(tc.env); n != 1 {
					t.Errorf("%d PINs checked, want 1", n)
				}
			})
		}
	}

	t.Run("no selector", func(t *testing.T) {
		cards := []string{fmt.Sprintf("serial %d (YubiKey 5.7.1)", testSerial), "GUID " + guid + " (SP 800-73-4)", "choose one by serial number, GUID or reader name"}
		req := withoutSerial(t, requestFor("generate-envelope", nil))
		expectError(t, invoke(t, "generate-envelope", req, pin), plugin.ErrorCodeValidation, append(cards, "guid=GUID (cards without a serial number)")...)
		r := runUser(t, "", nil, "cert", "export")
		mustFail(t, "cert export without a selector", r, append(cards, "hint: run \"notation-piv list\" to see the cards; choose one with --serial, --guid")...)
		expectError(t, invoke(t, "generate-envelope", editRequest(t, req, func(m map[string]any) {
			m["pluginConfig"] = map[string]any{"guid": guidOf(issuedSerial + 1)}
		}), pin), plugin.ErrorCodeValidation, "no PIV card matches GUID "+guidOf(issuedSerial+1), cards[0], cards[1])
	})

	t.Run("list", func(t *testing.T) {
		r := runUser(t, "", nil, "list")
		mustSucceed(t, "list", r)
		for _, want := range []string{
			fmt.Sprintf("PIV card %d, firmware 5.7.1, in reader %q\n  kind            YubiKey: signs", testSerial, env.Reader),
			fmt.Sprintf("PIV card with GUID %s, in reader %q\n  kind            SP 800-73-4 card: signs with the keys its issuer put on it; setup, reset and attestation need a YubiKey", guid, generic.Reader),
			"ready: the self-signed certificate meets the Notary Project rules",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("list lacks %q:\n%s", want, r.stdout)
			}
		}
		r = runUser(t, "", nil, "list", "--json")
		mustSucceed(t, "list --json", r)
		var out cli.ListOutput
		must(t, json.Unmarshal([]byte(r.stdout), &out))
		found := 0
		for _, c := range out.Cards {
			switch {
			case c.Reader == env.Reader:
				found++
				if c.Serial != testSerial || c.GUID != "" || c.Kind != "yubikey" || strings.Join(c.Capabilities, ",") != "sign,setup,reset,attest" {
					t.Errorf("the YubiKey: %+v", c)
				}
			case c.Reader == generic.Reader:
				found++
				if c.Serial != 0 || c.GUID != guid || c.Kind != "plain" || strings.Join(c.Capabilities, ",") != "sign" || c.Firmware != "" ||
					len(c.Slots) != 1 || c.Slots[0].Certificate == nil || !c.Slots[0].Certificate.MeetsNotaryRules {
					t.Errorf("the generic card: %+v", c)
				}
			}
		}
		if found != 2 {
			t.Errorf("list --json shows %d of the 2 cards:\n%s", found, r.stdout)
		}
	})

	t.Run("--guid", func(t *testing.T) {
		dir := t.TempDir()
		r := runUser(t, dir, nil, "cert", "export", "--guid", guid, "--output", "9c.pem")
		mustSucceed(t, "cert export --guid", r)
		if !strings.Contains(r.stdout, "of PIV card with GUID "+guid) || !readCert(t, filepath.Join(dir, "9c.pem")).Equal(genericLeaf) {
			t.Errorf("cert export --guid: %s", r.stdout)
		}
		out := filepath.Join(dir, "signature.cose")
		r = runUser(t, dir, []string{pin}, "envelope", "sign", "--guid", guid, "--format", "cose", "--out", out,
			"--descriptor", `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5e1ad14c87a9fb1a7333811d393dd3ba167fcb659c44aed0bbb5b9ada0c94cd9","size":406}`)
		mustSucceed(t, "envelope sign --guid", r)
		if !strings.Contains(r.stdout, "EC-256 key in slot 9c of card with GUID "+guid) {
			t.Errorf("envelope sign --guid does not name the card:\n%s", r.stdout)
		}
		if chain := verifiedContent(t, "cose", readFile(t, out)).SignerInfo.CertificateChain; !chain[0].Equal(genericLeaf) {
			t.Error("envelope sign --guid signed with another card")
		}
		mustFail(t, "a bad --guid", runUser(t, dir, nil, "cert", "export", "--guid", "12345678"), `--guid: "12345678" is not a card GUID: want 32 hex digits`)
		r = runUser(t, dir, []string{pin, "NOTATION_PIV_NEW_PIN=654321"}, "pin", "change", "--guid", guid)
		mustSucceed(t, "pin change --guid", r)
		if !strings.Contains(r.stdout, "Changed the PIN of PIV card with GUID "+guid) || !hasSecret(readCardState(t, generic).PIN, "654321") {
			t.Errorf("pin change --guid: %s", r.stdout)
		}
	})
}

// verifiedContent verifies an envelope with notation-core-go, the
// reference verifier, and returns its content.
func verifiedContent(t *testing.T, format string, envelope []byte) *signature.EnvelopeContent {
	t.Helper()
	env, err := signature.ParseEnvelope(mediaTypeOf[format], envelope)
	if err != nil {
		t.Fatalf("parse %s envelope: %v", format, err)
	}
	content, err := env.Verify()
	if err != nil {
		t.Fatalf("notation-core-go: %v", err)
	}
	return content
}
