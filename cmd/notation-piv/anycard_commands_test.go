package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// commandRun is one run of the plugin binary in TestEveryCommandOnEveryCard.
type commandRun struct {
	name string
	// contract is the contract command, with request on stdin; "" for a
	// command for people, with args.
	contract string
	request  string
	args     []string
	env      []string
	// works says that the run must succeed; otherwise it must fail, with
	// an error that holds each of says, and leave the card as it was.
	works bool
	says  []string
	// spendsRetry marks the one failure that changes the card: a wrong
	// PIN costs a retry.
	spendsRetry bool
	// check, if not nil, checks the output of a run that succeeded and
	// the card after it.
	check func(t *testing.T, env *vcardtest.Env, r result)
	// before, if not nil, prepares the card for the run.
	before func(t *testing.T, env *vcardtest.Env)
}

// crashed matches what the Go runtime prints when a program panics or
// dies of a fatal error.
var crashed = regexp.MustCompile(`panic:|goroutine \d+|fatal error:`)

// TestEveryCommandOnEveryCard runs every contract command and every
// command for people once on each kind of card: a YubiKey, a plain SP
// 800-73-4 card (also with compressed certificates, and offering T=0
// alone) and a trussed card, each provisioned by import with EC-256 in 9c
// and RSA-2048 in 9d (see newIssuedCard). No run may panic; each exits 0
// or 1; a contract command that fails prints one JSON error on stderr and
// nothing on stdout, a command for people an error on stderr.
//
// On every card, list, cert export, envelope sign (JWS with 9c, COSE with
// 9d, both verified offline), pin change, pin unblock (of a blocked PIN)
// and puk change work, and change the card as they say. The management
// commands (cert import, management-key set, setup, reset) and attested
// signatures work on the YubiKey only; elsewhere they fail, naming what the
// card lacks, and leave the card as it was, its PIN and PUK unblocked.
func TestEveryCommandOnEveryCard(t *testing.T) {
	env := needCard(t)
	yubikeyCard := anyCard{"yubikey", card.Config{Serial: anyCardSerial, Profile: card.ProfileYubiKey}}
	for _, k := range []anyCard{yubikeyCard, genericCard, genericCompressedCard, genericT0Card, trussedCard} {
		t.Run(k.name, func(t *testing.T) {
			ic := newIssuedCard(t, k)
			insertCard(t, env, ic.card)
			for _, run := range everyCommand(t, ic, k.cfg.Profile == card.ProfileYubiKey) {
				t.Run(run.name, func(t *testing.T) { runCommand(t, env, run) })
			}
		})
	}
}

// everyCommand returns the runs of TestEveryCommandOnEveryCard for the
// card ic, a YubiKey or not, in the order they must run.
func everyCommand(t *testing.T, ic provisionedCard, yubikey bool) []commandRun {
	dir := t.TempDir()
	caCerts := writePEM(t, filepath.Join(dir, "ca.pem"), fixtures.Intermediate().Chain()...)
	root := writePEM(t, filepath.Join(dir, "root.pem"), fixtures.Root().Cert)
	leaf := writePEM(t, filepath.Join(dir, "leaf-9c.pem"), ic.leaves["9c"])
	artifact := writeFile(t, dir, "artifact.txt", []byte("signed on every kind of card\n"))
	jws, cose := filepath.Join(dir, "artifact.jws"), filepath.Join(dir, "artifact.cose")
	config := func(extra ...string) map[string]string {
		c := map[string]string{"ca_certs": caCerts}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = extra[i+1]
		}
		return c
	}
	contract := func(command string, config map[string]string) string {
		return withoutSerial(t, requestFor(command, config))
	}
	signCOSE9d := withoutSerial(t, withEnvelopeType(envelopeRequest("9d", config()), "application/cose"))
	const (
		newPIN = "24682468"
		newPUK = "87654321"
	)
	pinEnv := []string{"NOTATION_PIV_PIN=" + card.DefaultPIN}
	cannot := "cannot do this"
	runs := []commandRun{
		{name: "get-plugin-metadata", contract: "get-plugin-metadata", request: "{}", works: true},
		{name: "describe-key", contract: "describe-key", request: contract("describe-key", config()), works: true},
		{name: "describe-key of an empty slot", contract: "describe-key",
			request: editRequest(t, contract("describe-key", config()), func(req map[string]any) { req["keyId"] = "9e" }),
			says:    []string{"slot 9e"}},
		{name: "generate-signature", contract: "generate-signature", request: contract("generate-signature", config()), env: pinEnv, works: true},
		{name: "generate-envelope with a wrong PIN", contract: "generate-envelope", request: contract("generate-envelope", config()),
			env: []string{"NOTATION_PIV_PIN=999999"}, says: []string{"wrong PIN"}, spendsRetry: true},
		{name: "generate-envelope", contract: "generate-envelope", request: contract("generate-envelope", config()), env: pinEnv, works: true,
			check: func(t *testing.T, env *vcardtest.Env, r result) {
				if !verifies(r.stdout) {
					t.Error("the envelope does not verify")
				}
			}},
		{name: "generate-envelope COSE with 9d", contract: "generate-envelope", request: signCOSE9d, env: pinEnv, works: true,
			check: func(t *testing.T, env *vcardtest.Env, r result) {
				if !verifies(r.stdout) {
					t.Error("the envelope does not verify")
				}
			}},
		{name: "generate-envelope without the CA chain", contract: "generate-envelope", request: contract("generate-envelope", nil), env: pinEnv,
			says: []string{"no CA bundle completes its chain"}},
		{name: "generate-envelope attested", contract: "generate-envelope", request: contract("generate-envelope", config("attest", "true")), env: pinEnv,
			says: []string{"attest"}},

		{name: "list", args: []string{"list"}, works: true},
		{name: "list --json", args: []string{"list", "--json"}, works: true, check: func(t *testing.T, env *vcardtest.Env, r result) {
			var out struct{ Cards []json.RawMessage }
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Cards) != 1 {
				t.Errorf("list --json: %v, %d cards, want 1\n%s", err, len(out.Cards), r.stdout)
			}
		}},
		{name: "cert export", args: []string{"cert", "export", "--slot", "9c"}, works: true, check: func(t *testing.T, env *vcardtest.Env, r result) {
			if block, _ := pem.Decode([]byte(r.stdout)); block == nil || !bytes.Equal(block.Bytes, ic.leaves["9c"].Raw) {
				t.Errorf("cert export wrote something else than the certificate of slot 9c:\n%s", r.stdout)
			}
		}},
		{name: "cert export of an empty slot", args: []string{"cert", "export", "--slot", "9e"}, says: []string{"9e"}},
		{name: "envelope sign JWS", args: []string{"envelope", "sign", "--artifact", artifact, "--out", jws, "--ca-certs", caCerts},
			env: pinEnv, works: true},
		{name: "envelope sign COSE with 9d", args: []string{"envelope", "sign", "--artifact", artifact, "--out", cose, "--format", "cose", "--slot", "9d", "--ca-certs", caCerts},
			env: pinEnv, works: true},
		{name: "envelope verify JWS", args: []string{"envelope", "verify", jws, "--trust-root", root, "--artifact", artifact}, works: true},
		{name: "envelope verify COSE", args: []string{"envelope", "verify", cose, "--trust-root", root, "--artifact", artifact}, works: true},
		{name: "pin change", args: []string{"pin", "change"}, env: []string{"NOTATION_PIV_PIN=" + card.DefaultPIN, "NOTATION_PIV_NEW_PIN=" + newPIN}, works: true,
			check: func(t *testing.T, env *vcardtest.Env, r result) { checkSecrets(t, env, newPIN, card.DefaultPUK, 3) }},
		{name: "pin unblock", args: []string{"pin", "unblock"}, env: []string{"NOTATION_PIV_PUK=" + card.DefaultPUK, "NOTATION_PIV_NEW_PIN=" + card.DefaultPIN}, works: true,
			before: func(t *testing.T, env *vcardtest.Env) { setRetries(t, env, 0, -1) },
			check: func(t *testing.T, env *vcardtest.Env, r result) {
				checkSecrets(t, env, card.DefaultPIN, card.DefaultPUK, 3)
			}},
		{name: "puk change", args: []string{"puk", "change"}, env: []string{"NOTATION_PIV_PUK=" + card.DefaultPUK, "NOTATION_PIV_NEW_PUK=" + newPUK}, works: true,
			check: func(t *testing.T, env *vcardtest.Env, r result) { checkSecrets(t, env, card.DefaultPIN, newPUK, 3) }},

		{name: "cert import", args: []string{"cert", "import", "--slot", "9c", "--ca-certs", caCerts, leaf}, env: pinEnv, works: yubikey, says: []string{cannot}},
		{name: "management-key set", args: []string{"management-key", "set", "--protect"}, env: pinEnv, works: yubikey, says: []string{cannot}},
		{name: "setup", args: []string{"setup", "--slot", "9a", "--yes", "--subject", "C=US, ST=WA, O=Notation E2E, CN=set up"}, env: pinEnv,
			works: yubikey, says: []string{cannot}},
		{name: "reset", args: []string{"reset", "--yes"}, works: yubikey, says: []string{cannot}},
	}
	return runs
}

// checkSecrets checks the PIN and PUK of the card in the reader, and the
// PIN's retries left.
func checkSecrets(t *testing.T, env *vcardtest.Env, pin, puk string, pinRetries int) {
	t.Helper()
	st := readCardState(t, env)
	if !hasSecret(st.PIN, pin) || !hasSecret(st.PUK, puk) || st.PINRetries != pinRetries {
		t.Errorf("the card's PIN or PUK is not the one set, or its PIN has %d retries left, want %d", st.PINRetries, pinRetries)
	}
}

// runCommand runs one command of TestEveryCommandOnEveryCard on the card in
// env, checks it and returns what it printed.
func runCommand(t *testing.T, env *vcardtest.Env, run commandRun) result {
	if run.before != nil {
		run.before(t, env)
	}
	before := snapshot(t, env)
	var r result
	if run.contract != "" {
		r = invoke(t, run.contract, run.request, run.env...)
	} else {
		r = runUser(t, "", run.env, run.args...)
	}
	output := r.stdout + r.stderr
	if crashed.MatchString(output) {
		t.Fatalf("the plugin crashed: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r.code != 0 && r.code != 1 {
		t.Fatalf("exit %d, want 0 or 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	message := r.stderr
	switch {
	case r.code == 0 && run.contract != "":
		if r.stderr != "" || !json.Valid([]byte(r.stdout)) {
			t.Errorf("succeeded with stderr %q and stdout that is no JSON document: %q", r.stderr, r.stdout)
		}
	case r.code == 1 && run.contract != "":
		if r.stdout != "" {
			t.Errorf("failed with stdout %q, want nothing", r.stdout)
		}
		perr, err := pluginError(r.stderr)
		if err != nil {
			t.Fatal(err)
		}
		message = perr.Message
		if perr.ErrCode == plugin.ErrorCodeGeneric && !run.works {
			t.Errorf("a failure the plugin foresees is a generic error: %s", perr.Message)
		}
	case r.code == 1 && !strings.HasPrefix(r.stderr, "notation-piv: error: "):
		t.Errorf("failed without an error on stderr:\n%s", r.stderr)
	}
	if run.works {
		if r.code != 0 {
			t.Fatalf("exit %d, want success\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if run.check != nil {
			run.check(t, env, r)
		}
		return r
	}
	if r.code != 1 {
		t.Fatalf("exit %d, want a failure\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range run.says {
		if !strings.Contains(message, s) {
			t.Errorf("the error does not say %q: %s", s, message)
		}
	}
	if run.spendsRetry {
		setRetries(t, env, readCardState(t, env).PINRetries+1, -1)
	}
	if !bytes.Equal(snapshot(t, env), before) {
		t.Errorf("the failed command changed the card:\n%s", message)
	}
	return r
}

// unnamed matches what commands print for a card whose serial number they
// do not know: "card 0", an empty firmware version, "unknown serial".
var unnamed = regexp.MustCompile(`card 0\b|firmware ,|unknown serial`)

// TestCardWithoutSerialIsNamed runs the commands for people that name the
// card on a plain SP 800-73-4 card, which has no serial number: list must
// show the GUID of its CHUID, and no command may call it "card 0" or a
// card of "unknown serial", nor show an empty firmware version.
func TestCardWithoutSerialIsNamed(t *testing.T) {
	env := needCard(t)
	insertIssuedCard(t, genericCard)
	guid := card.GUIDOf(anyCardSerial)
	dir := t.TempDir()
	caCerts := writePEM(t, filepath.Join(dir, "ca.pem"), fixtures.Intermediate().Chain()...)
	artifact := writeFile(t, dir, "artifact.txt", []byte("signed by a card without a serial number\n"))
	pinEnv := []string{"NOTATION_PIV_PIN=" + card.DefaultPIN}
	for _, run := range []commandRun{
		{name: "list", args: []string{"list"}, works: true, check: func(t *testing.T, env *vcardtest.Env, r result) {
			if !strings.Contains(r.stdout, hex.EncodeToString(guid[:])) {
				t.Errorf("list does not show the card's GUID %x:\n%s", guid, r.stdout)
			}
		}},
		{name: "envelope sign", args: []string{"envelope", "sign", "--artifact", artifact, "--out", filepath.Join(dir, "a.jws"), "--ca-certs", caCerts}, env: pinEnv, works: true},
		{name: "pin change", args: []string{"pin", "change"}, env: []string{"NOTATION_PIV_PIN=" + card.DefaultPIN, "NOTATION_PIV_NEW_PIN=" + card.DefaultPIN}, works: true},
		{name: "puk change", args: []string{"puk", "change"}, env: []string{"NOTATION_PIV_PUK=" + card.DefaultPUK, "NOTATION_PIV_NEW_PUK=" + card.DefaultPUK}, works: true},
		{name: "setup", args: []string{"setup", "--slot", "9a", "--yes", "--subject", "C=US, ST=WA, O=Notation E2E, CN=set up"}, env: pinEnv, says: []string{"cannot do this"}},
	} {
		t.Run(run.name, func(t *testing.T) {
			r := runCommand(t, env, run)
			if m := unnamed.FindString(r.stdout + r.stderr); m != "" {
				t.Errorf("the output says %q of a card without a serial number:\n%s%s", m, r.stdout, r.stderr)
			}
		})
	}
}
