package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures/recorded"
)

// notaryPayload is a Notary payload as notation sends it.
const notaryPayload = `{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	`"digest":"sha256:5e1ad14c87a9fb1a7333811d393dd3ba167fcb659c44aed0bbb5b9ada0c94cd9","size":406}}`

// envelopeRequest is a generate-envelope request for slot keyID, with
// pluginConfig config and the card picked by serial number.
func envelopeRequest(keyID string, config map[string]string) string {
	if config == nil {
		config = map[string]string{}
	}
	config["serial"] = fmt.Sprint(testSerial)
	return marshal(plugin.GenerateEnvelopeRequest{
		ContractVersion:       "1.0",
		KeyID:                 keyID,
		PayloadType:           "application/vnd.cncf.notary.payload.v1+json",
		SignatureEnvelopeType: "application/jose+json",
		Payload:               []byte(notaryPayload),
		PluginConfig:          config,
	})
}

// withEnvelopeType is a generate-envelope request for another envelope
// type.
func withEnvelopeType(request, mediaType string) string {
	return strings.Replace(request, "application/jose+json", mediaType, 1)
}

// rawPayload is a JWS signing input, as notation sends it in raw mode.
var rawPayload = []byte("eyJhbGciOiJFUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319")

// requestFor is the request for command, for slot 9c, with pluginConfig
// config, the card picked by serial number. generate-signature is in raw
// mode.
func requestFor(command string, config map[string]string) string {
	if config == nil {
		config = map[string]string{}
	}
	config["serial"] = fmt.Sprint(testSerial)
	switch command {
	case "generate-envelope":
		return envelopeRequest("9c", config)
	case "generate-signature":
		config["mode"] = "raw"
		return marshal(plugin.GenerateSignatureRequest{
			ContractVersion: "1.0", KeyID: "9c", KeySpec: "EC-256", Hash: "SHA-256", Payload: rawPayload, PluginConfig: config,
		})
	case "describe-key":
		return marshal(plugin.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "9c", PluginConfig: config})
	}
	panic("no request for " + command)
}

// hostileRequest returns the request notation sent for command (package
// recorded: the JWS one for the signing commands), with keyId 9c and
// pluginConfig config, which also picks the virtual card by its serial
// number, changed by change (if not nil).
func hostileRequest(t *testing.T, command string, config map[string]string, change func(map[string]any)) string {
	t.Helper()
	name := map[string]string{
		"describe-key":       "describe-key.raw.json",
		"generate-signature": "generate-signature.jws.json",
		"generate-envelope":  "generate-envelope.jws.json",
	}[command]
	settings := map[string]any{"serial": fmt.Sprint(testSerial)}
	for k, v := range config {
		settings[k] = v
	}
	return editRequest(t, string(recorded.Request(name)), func(req map[string]any) {
		req["keyId"], req["pluginConfig"] = "9c", settings
		if change != nil {
			change(req)
		}
	})
}

// withoutSerial removes pluginConfig serial from a request, so that the
// plugin takes the only card present.
func withoutSerial(t testing.TB, request string) string {
	t.Helper()
	return editRequest(t, request, func(req map[string]any) { delete(req["pluginConfig"].(map[string]any), "serial") })
}

// editRequest returns request changed by change.
func editRequest(t testing.TB, request string, change func(map[string]any)) string {
	t.Helper()
	var req map[string]any
	must(t, json.Unmarshal([]byte(request), &req))
	change(req)
	return marshal(req)
}

// marshal encodes a request as notation does.
func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestMetadata(t *testing.T) {
	for _, tc := range []struct {
		request string
		want    plugin.Capability
	}{
		{"", plugin.CapabilityEnvelopeGenerator},
		{"{}", plugin.CapabilityEnvelopeGenerator},
		{`{"pluginConfig":{"mode":"envelope","serial":"5"}}`, plugin.CapabilityEnvelopeGenerator},
		{`{"pluginConfig":{"mode":"raw"}}`, plugin.CapabilitySignatureGenerator},
	} {
		r := invoke(t, "get-plugin-metadata", tc.request)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%q: exit %d, stderr %q", tc.request, r.code, r.stderr)
		}
		var md plugin.GetMetadataResponse
		must(t, json.Unmarshal([]byte(r.stdout), &md))
		if md.Name != "piv" || md.Version != testVersion || md.URL == "" || md.Description == "" ||
			len(md.SupportedContractVersions) != 1 || md.SupportedContractVersions[0] != "1.0" ||
			len(md.Capabilities) != 2 || md.Capabilities[0] != tc.want || md.Capabilities[1] != plugin.CapabilityTrustedIdentityVerifier {
			t.Errorf("%q: metadata %+v", tc.request, md)
		}
	}
	expectError(t, invoke(t, "get-plugin-metadata", `{"pluginConfig":{"mode":"both"}}`), plugin.ErrorCodeValidation, "mode")
}

// TestBadRequests feeds every contract command malformed requests; none
// needs the card, and all are answered before it would be touched.
func TestBadRequests(t *testing.T) {
	const (
		payload  = `"payload":"eyJ0YXJnZXRBcnRpZmFjdCI6e319"`
		envelope = `"payloadType":"application/vnd.cncf.notary.payload.v1+json","signatureEnvelopeType":"application/jose+json",` + payload
		sig      = `"keySpec":"EC-256","hashAlgorithm":"SHA-256",` + payload
	)
	commands := map[string]string{
		"describe-key":       ``,
		"generate-signature": sig + `,`,
		"generate-envelope":  envelope + `,`,
	}
	for command, fields := range commands {
		t.Run(command, func(t *testing.T) {
			for _, tc := range []struct {
				name, request string
				code          plugin.ErrorCode
				fragments     []string
			}{
				{"empty", ``, plugin.ErrorCodeValidation, []string{"Input is not a valid JSON"}},
				{"bad JSON", `{"contractVersion":`, plugin.ErrorCodeValidation, []string{"Input is not a valid JSON"}},
				{"two documents", `{} {}`, plugin.ErrorCodeValidation, []string{"more than one"}},
				{"wrong type", `{"contractVersion":"1.0","keyId":5}`, plugin.ErrorCodeValidation, []string{"Input is not a valid JSON"}},
				{"missing contract version", `{` + fields + `"keyId":"9c"}`, plugin.ErrorCodeValidation, []string{"contractVersion"}},
				{"missing keyId", `{` + fields + `"contractVersion":"1.0"}`, plugin.ErrorCodeValidation, []string{"keyId"}},
				{"contract 2.0", `{` + fields + `"contractVersion":"2.0","keyId":"9c"}`, plugin.ErrorCodeUnsupportedContractVersion, []string{"2.0"}},
				{"unknown slot", `{` + fields + `"contractVersion":"1.0","keyId":"9f"}`, plugin.ErrorCodeValidation, []string{"9f", "9c"}},
				{"unknown config key", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"serail":"1"}}`, plugin.ErrorCodeValidation, []string{"serail", "allow_last_pin_try, attest, attestation_roots, ca_certs, card_timeout, guid, mode, pin_file, pinentry, reader, serial"}},
				{"card_timeout too short", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"card_timeout":"10ms"}}`, plugin.ErrorCodeValidation, []string{"card_timeout", "1s to 10m0s"}},
				{"card_timeout not a duration", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"card_timeout":"forever"}}`, plugin.ErrorCodeValidation, []string{"card_timeout", "such as 30s"}},
				{"allow_last_pin_try not a boolean", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"allow_last_pin_try":"maybe"}}`, plugin.ErrorCodeValidation, []string{"allow_last_pin_try", "true or false"}},
				{"pin in config", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"pin":"123456"}}`, plugin.ErrorCodeValidation, []string{"NOTATION_PIV_PIN", "pin_file"}},
				{"bad serial", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"serial":"abc"}}`, plugin.ErrorCodeValidation, []string{"notation-piv list"}},
			} {
				perr := expectError(t, invoke(t, command, tc.request), tc.code, tc.fragments...)
				if strings.Contains(perr.Message, "123456") {
					t.Errorf("%s: the PIN from pluginConfig is echoed: %q", tc.name, perr.Message)
				}
			}
		})
	}
	t.Run("unknown fields are ignored", func(t *testing.T) {
		r := invoke(t, "get-plugin-metadata", `{"future":true,"pluginConfig":{}}`)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("other commands", func(t *testing.T) {
		r := invoke(t, "sign-everything", "{}")
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "notation-piv --help") {
			t.Errorf("unknown command: %+v", r)
		}
	})
}
