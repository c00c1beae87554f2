package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// result is what one plugin invocation produced.
type result struct {
	stdout, stderr string
	code           int
}

// invoke runs the plugin binary as notation does: the command as its only
// argument, the request on stdin, in a new session with no controlling
// terminal (so a PIN prompt cannot block), and with only the given
// environment. A run that lasts a minute is killed and fails the test.
func invoke(t *testing.T, command, request string, env ...string) result {
	t.Helper()
	r, _ := invokeWithin(t, time.Minute, command, request, env...)
	return r
}

// invokeWithin runs the plugin as invoke does and returns how long it
// took. A run that lasts limit is killed and fails the test, so that a
// hang fails instead of stalling the tests.
func invokeWithin(t *testing.T, limit time.Duration, command, request string, env ...string) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.plugin, command)
	cmd.Stdin = strings.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("%s hung: killed after %v; stderr %q", command, took.Round(time.Millisecond), stderr.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run plugin: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}, took
}

// expectError checks the contract for a failure: exit status 1, nothing on
// stdout, and a JSON error with the given code on stderr whose message
// contains each of the given fragments.
func expectError(t *testing.T, r result, code plugin.ErrorCode, fragments ...string) *plugin.Error {
	t.Helper()
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and empty stdout", r.code, r.stdout, r.stderr)
	}
	var perr plugin.Error
	dec := json.NewDecoder(strings.NewReader(r.stderr))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&perr); err != nil || dec.More() {
		t.Fatalf("stderr is not one JSON error: %q (%v)", r.stderr, err)
	}
	if perr.ErrCode != code {
		t.Fatalf("error code %s (%s), want %s", perr.ErrCode, perr.Message, code)
	}
	for _, f := range fragments {
		if !strings.Contains(perr.Message, f) {
			t.Errorf("error message %q lacks %q", perr.Message, f)
		}
	}
	return &perr
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
		if err := json.Unmarshal([]byte(r.stdout), &md); err != nil {
			t.Fatal(err)
		}
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
				{"unknown config key", `{` + fields + `"contractVersion":"1.0","keyId":"9c","pluginConfig":{"serail":"1"}}`, plugin.ErrorCodeValidation, []string{"serail", "allow_last_pin_try, attest, attestation_roots, ca_certs, card_timeout, mode, pin_file, pinentry, reader, serial"}},
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
