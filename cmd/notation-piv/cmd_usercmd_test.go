package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/cli"
)

func TestUserList(t *testing.T) {
	env := needCard(t)
	r := runUser(t, "", nil, "list")
	mustSucceed(t, "list", r)
	for _, want := range []string{fmt.Sprintf("PIV card %d, firmware 5.7.1", testSerial), "PIN             3 of 3 tries left, factory default",
		"management key  3DES, factory default", "no keys or certificates"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"factory PIN", "factory PUK", "factory management key", "notation-piv management-key set --protect"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("list does not warn about %q:\n%s", want, r.stderr)
		}
	}

	leaf := provision(t, piv.AlgorithmEC256, nil)
	yk := openPIV(t)
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotKeyManagement, piv.Key{Algorithm: piv.AlgorithmRSA2048, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyAlways})
	must(t, err)
	certify(t, yk, piv.SlotKeyManagement, pub, fixtures.Intermediate())
	if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotCardAuthentication,
		fixtures.SelfSigned(fixtures.Key("EC-256 no key usage"), fixtures.Name("no key usage"), fixtures.KeyUsage(0), fixtures.ExtKeyUsage())); err != nil {
		t.Fatal(err)
	}
	yk.Close()
	env.Card.ResetStats()
	r = runUser(t, "", nil, "list", "--json")
	mustSucceed(t, "list --json", r)
	if n := sent(env, "VERIFY"); n > 0 || readCardState(t, env).PINRetries != 3 {
		t.Errorf("list sent %d VERIFY commands", n)
	}
	if r.stderr != "" {
		t.Errorf("list --json wrote to stderr: %s", r.stderr)
	}
	var out cli.ListOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	var c *cli.ListCard
	for i := range out.Cards {
		if out.Cards[i].Serial == testSerial {
			c = &out.Cards[i]
		}
	}
	if c == nil || len(c.Slots) != 3 || *c.PIN.RetriesLeft != 3 || !*c.PUK.Default || !c.ManagementKey.Default || len(c.Warnings) != 3 {
		t.Fatalf("list --json: %s", r.stdout)
	}
	sig, mgmt, auth := c.Slots[0], c.Slots[1], c.Slots[2]
	if sig.Slot != "9c" || sig.Key.Algorithm != "EC-256" || sig.Key.PINPolicy != "always" || sig.Key.Origin != "generated" ||
		!sig.Certificate.MeetsNotaryRules || !*sig.Certificate.MatchesKey || !sig.Certificate.SelfSigned ||
		sig.Certificate.SHA256 != sha256Hex(leaf.Raw) || sig.Certificate.Subject != leaf.Subject.String() {
		t.Errorf("slot 9c: %+v %+v", sig.Key, sig.Certificate)
	}
	if mgmt.Slot != "9d" || mgmt.Key.Algorithm != "RSA-2048" || mgmt.Key.TouchPolicy != "always" || !mgmt.Certificate.MeetsNotaryRules || mgmt.Certificate.SelfSigned {
		t.Errorf("slot 9d: %+v %+v", mgmt.Key, mgmt.Certificate)
	}
	if auth.Slot != "9e" || auth.Key != nil || auth.Certificate.MeetsNotaryRules || *auth.Certificate.MatchesKey || !strings.Contains(auth.Certificate.NotaryProblem, "no key") {
		t.Errorf("slot 9e: %+v %+v", auth.Key, auth.Certificate)
	}

	r = runUser(t, "", nil, "list")
	mustSucceed(t, "list", r)
	for _, want := range []string{"slot 9c         EC-256 key, generated on the card, PIN always, touch never", "issuer        self-signed",
		"notation      ready: the self-signed certificate meets the Notary Project rules",
		"notation      ready: the certificate meets the Notary Project leaf rules; give notation its CA chain",
		"slot 9e         no key", "notation      cannot sign: the slot holds no key for the certificate"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestUserPINCommands(t *testing.T) {
	env := needCard(t)
	pin := func(v string) string { return "NOTATION_PIV_PIN=" + v }
	newPIN := func(v string) string { return "NOTATION_PIV_NEW_PIN=" + v }
	puk := func(v string) string { return "NOTATION_PIV_PUK=" + v }

	env.Card.ResetStats()
	mustFail(t, "no PIN source", runUser(t, "", nil, "pin", "change", serialFlag),
		"needs the PIN and the new PIN", "NOTATION_PIV_PIN and NOTATION_PIV_NEW_PIN are not set and there is no terminal", "run it in a terminal")
	if n := env.Card.Stats().Commands; n != 0 {
		t.Errorf("the card got %d commands although no PIN could be had", n)
	}
	mustFail(t, "short new PIN", runUser(t, "", []string{pin("123456"), newPIN("12345")}, "pin", "change", serialFlag),
		"the new PIN must be 6 to 8 characters long", "fix NOTATION_PIV_NEW_PIN")
	if n := readCardState(t, env).PINRetries; n != 3 {
		t.Fatalf("a short new PIN cost %d retries", 3-n)
	}

	r := runUser(t, "", []string{pin("999999"), newPIN("24682468")}, "pin", "change", serialFlag)
	mustFail(t, "wrong PIN", r, "wrong PIN: 2 tries left before the PIN is blocked", "notation-piv pin unblock")
	if n := readCardState(t, env).PINRetries; n != 2 {
		t.Fatalf("a wrong PIN left %d retries, want 2", n)
	}
	r = runUser(t, "", []string{pin("123456"), newPIN("24682468")}, "pin", "change", serialFlag)
	mustSucceed(t, "pin change", r)
	if st := readCardState(t, env); !hasSecret(st.PIN, "24682468") || st.PINRetries != 3 {
		t.Fatalf("PIN not changed")
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("Changed the PIN of PIV card %d", testSerial)) || strings.Contains(r.stderr, "factory PIN") ||
		!strings.Contains(r.stderr, "factory PUK") {
		t.Errorf("pin change output:\n%s%s", r.stdout, r.stderr)
	}

	for i := 0; i < 3; i++ {
		runUser(t, "", []string{pin("000000"), newPIN("11111111")}, "pin", "change", "--allow-last-pin-try", serialFlag)
	}
	env.Card.ResetStats()
	mustFail(t, "blocked PIN", runUser(t, "", []string{pin("24682468"), newPIN("11111111")}, "pin", "change", serialFlag),
		"the PIN is blocked", `"notation-piv pin unblock"`)
	if n := sent(env, "CHANGE REFERENCE DATA"); n != 0 {
		t.Errorf("pin change sent %d CHANGE REFERENCE DATA to a blocked PIN", n)
	}
	mustFail(t, "wrong PUK", runUser(t, "", []string{puk("87654321"), newPIN("13572468")}, "pin", "unblock", serialFlag),
		"wrong PUK: 2 tries left before the PUK is blocked")
	if n := readCardState(t, env).PUKRetries; n != 2 {
		t.Fatalf("a wrong PUK left %d retries, want 2", n)
	}
	r = runUser(t, "", []string{puk("12345678"), newPIN("13572468")}, "pin", "unblock", serialFlag)
	mustSucceed(t, "pin unblock", r)
	if st := readCardState(t, env); !hasSecret(st.PIN, "13572468") || st.PINRetries != 3 || st.PUKRetries != 3 {
		t.Fatalf("PIN not unblocked: %+v", st)
	}

	mustFail(t, "wrong PUK", runUser(t, "", []string{puk("00000000"), "NOTATION_PIV_NEW_PUK=24681357"}, "puk", "change", serialFlag),
		"wrong PUK: 2 tries left")
	r = runUser(t, "", []string{puk("12345678"), "NOTATION_PIV_NEW_PUK=24681357"}, "puk", "change", serialFlag)
	mustSucceed(t, "puk change", r)
	if st := readCardState(t, env); !hasSecret(st.PUK, "24681357") || st.PUKRetries != 3 {
		t.Fatalf("PUK not changed")
	}
	var out cli.ListOutput
	must(t, json.Unmarshal([]byte(runUser(t, "", nil, "list", "--json").stdout), &out))
	if c := out.Cards[0]; *c.PIN.Default || *c.PUK.Default || len(c.Warnings) != 1 {
		t.Errorf("list after changing PIN and PUK: %+v", c)
	}
}

func TestUserManagementKey(t *testing.T) {
	env := needCard(t)
	pin := []string{"NOTATION_PIV_PIN=123456"}
	mustFail(t, "no option", runUser(t, "", pin, "management-key", "set", serialFlag), "either --protect or --new-key-file")

	r := runUser(t, "", pin, "management-key", "set", "--protect", serialFlag)
	mustSucceed(t, "management-key set --protect", r)
	st := readCardState(t, env)
	if len(st.MgmtKey) != 24 || bytes.Equal(st.MgmtKey, piv.DefaultManagementKey) {
		t.Fatal("the management key did not change")
	}
	if strings.Contains(r.stdout+r.stderr, fmt.Sprintf("%x", st.MgmtKey)) || strings.Contains(strings.ToUpper(r.stdout+r.stderr), fmt.Sprintf("%X", st.MgmtKey)) {
		t.Error("the new management key was printed")
	}
	if strings.Contains(r.stderr, "factory management key") {
		t.Errorf("still warns about the factory key:\n%s", r.stderr)
	}

	// Commands that need the key read it with the PIN.
	mustFail(t, "wrong PIN", runUser(t, "", []string{"NOTATION_PIV_PIN=654321"}, "setup", "--slot", "9a", "--pin-policy", "never", serialFlag),
		"wrong PIN: 2 tries left")
	if n := readCardState(t, env).PINRetries; n != 2 {
		t.Fatalf("a wrong PIN left %d retries, want 2", n)
	}
	if len(readCardState(t, env).Keys) != 1 {
		t.Fatal("setup changed the card after a wrong PIN")
	}
	mustSucceed(t, "setup with a protected key", runUser(t, "", pin, "setup", "--slot", "9a", "--pin-policy", "never", serialFlag))

	// A key of the user's own, in a file.
	dir := t.TempDir()
	own := strings.Repeat("0a1b2c3d", 6)
	keyFile := writeMode(t, filepath.Join(dir, "mgmt.hex"), own+"\n", 0o644)
	mustFail(t, "readable key file", runUser(t, "", pin, "management-key", "set", "--new-key-file", keyFile, serialFlag), "chmod 600")
	os.Chmod(keyFile, 0o600)
	r = runUser(t, "", pin, "management-key", "set", "--new-key-file", keyFile, serialFlag)
	mustSucceed(t, "management-key set --new-key-file", r)
	if strings.Contains(r.stdout+r.stderr, own) {
		t.Error("the management key was printed")
	}
	if fmt.Sprintf("%x", readCardState(t, env).MgmtKey) != own {
		t.Fatal("the management key is not the one in the file")
	}
	mustFail(t, "no key", runUser(t, "", pin, "setup", "--slot", "9d", serialFlag), "keeps no PIN-protected management key", "--management-key-file")
	mustSucceed(t, "setup with a key file", runUser(t, "", pin, "setup", "--slot", "9d", "--management-key-file", keyFile, serialFlag))
}

func TestUserReset(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	env.Card.ResetStats()
	mustFail(t, "reset without --yes", runUser(t, "", nil, "reset", serialFlag), "needs confirmation", "no terminal", "--yes")
	if n := env.Card.Stats().Commands; n != 0 {
		t.Fatalf("the card got %d commands", n)
	}
	r := runUser(t, "", nil, "reset", "--yes", serialFlag)
	mustSucceed(t, "reset --yes", r)
	if st := readCardState(t, env); len(st.Keys) != 1 || !hasSecret(st.PIN, "123456") || st.PINRetries != 3 || st.PUKRetries != 3 {
		t.Fatalf("card not reset: %d keys, PIN retries %d", len(st.Keys), st.PINRetries)
	}
	if !strings.Contains(r.stdout, "notation-piv setup") {
		t.Errorf("reset does not say what next:\n%s", r.stdout)
	}
}

// TestUserLastTry runs every user command that sends a PIN or PUK with a
// card that has 1 try left and a wrong value in the environment: each
// sends nothing, says so, and leaves the counter at 1. With
// --allow-last-pin-try each tries.
func TestUserLastTry(t *testing.T) {
	env := needCard(t)
	const wrongPIN, wrongPUK = "NOTATION_PIV_PIN=999999", "NOTATION_PIV_PUK=99999999"
	const rightPIN, rightPUK = "NOTATION_PIV_PIN=123456", "NOTATION_PIV_PUK=12345678"
	newPIN, newPUK := "NOTATION_PIV_NEW_PIN=24682468", "NOTATION_PIV_NEW_PUK=24681357"
	noPINSent := []string{"no PIN was sent", "the card has 1 PIN try left", "--allow-last-pin-try", "unset NOTATION_PIV_PIN"}
	noPUKSent := []string{"no PUK was sent", "the card has 1 PUK try left", "--allow-last-pin-try"}
	held := func(what string, r result, fragments []string, pinLeft, pukLeft int) {
		t.Helper()
		mustFail(t, what, r, fragments...)
		if strings.Contains(r.stderr, "error: wrong PIN") || strings.Contains(r.stderr, "error: wrong PUK") {
			t.Errorf("%s: says a wrong value was given, though none was sent:\n%s", what, r.stderr)
		}
		if n := secretsSent(env); n != 0 {
			t.Errorf("%s: %d PINs or PUKs reached the card", what, n)
		}
		if st := readCardState(t, env); st.PINRetries != pinLeft || st.PUKRetries != pukLeft {
			t.Errorf("%s: PIN retries %d, PUK retries %d; want %d and %d", what, st.PINRetries, st.PUKRetries, pinLeft, pukLeft)
		}
	}
	keys := len(readCardState(t, env).Keys)

	// pin change
	setRetries(t, env, 1, -1)
	env.Card.ResetStats()
	held("pin change", runUser(t, "", []string{wrongPIN, newPIN}, "pin", "change", serialFlag), noPINSent, 1, 3)
	r := runUser(t, "", []string{wrongPIN, newPIN}, "pin", "change", "--allow-last-pin-try", serialFlag)
	mustFail(t, "pin change --allow-last-pin-try, wrong PIN", r, "the PIN is blocked")
	if n := readCardState(t, env).PINRetries; n != 0 {
		t.Fatalf("pin change --allow-last-pin-try with a wrong PIN left %d retries, want 0 (blocked)", n)
	}

	// pin unblock and puk change: the PUK.
	setRetries(t, env, -1, 1)
	env.Card.ResetStats()
	held("pin unblock", runUser(t, "", []string{wrongPUK, newPIN}, "pin", "unblock", serialFlag), noPUKSent, 0, 1)
	held("puk change", runUser(t, "", []string{wrongPUK, newPUK}, "puk", "change", serialFlag), noPUKSent, 0, 1)
	mustSucceed(t, "pin unblock --allow-last-pin-try", runUser(t, "", []string{rightPUK, "NOTATION_PIV_NEW_PIN=123456"}, "pin", "unblock", "--allow-last-pin-try", serialFlag))
	if st := readCardState(t, env); st.PINRetries != 3 || st.PUKRetries != 3 {
		t.Fatalf("after pin unblock --allow-last-pin-try: %+v", st)
	}
	setRetries(t, env, -1, 1)
	r = runUser(t, "", []string{wrongPUK, newPUK}, "puk", "change", "--allow-last-pin-try", serialFlag)
	mustFail(t, "puk change --allow-last-pin-try, wrong PUK", r, "the PUK is blocked")
	if n := readCardState(t, env).PUKRetries; n != 0 {
		t.Fatalf("puk change --allow-last-pin-try with a wrong PUK left %d retries, want 0", n)
	}
	setRetries(t, env, -1, 3)

	// setup
	setRetries(t, env, 1, -1)
	env.Card.ResetStats()
	dir := t.TempDir()
	held("setup", runUser(t, dir, []string{wrongPIN}, "setup", "--subject", setupSubject, serialFlag), noPINSent, 1, 3)
	if n := len(readCardState(t, env).Keys); n != keys || sent(env, "GENERATE ASYMMETRIC KEY PAIR") != 0 {
		t.Fatal("setup changed the card although it sent no PIN")
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("setup left files: %v", files)
	}
	r = runUser(t, dir, []string{rightPIN}, "setup", "--subject", setupSubject, "--allow-last-pin-try", serialFlag)
	mustSucceed(t, "setup --allow-last-pin-try", r)
	if st := readCardState(t, env); st.PINRetries != 3 || len(st.Keys) != keys+1 {
		t.Fatalf("setup --allow-last-pin-try with the right PIN: %d retries, %d keys", st.PINRetries, len(st.Keys))
	}
	certFile := printedCommands(t, r.stdout, "notation cert add")[0]

	// envelope sign, whose guard is the signer's.
	setRetries(t, env, 1, -1)
	env.Card.ResetStats()
	held("envelope sign", runUser(t, dir, []string{wrongPIN}, "envelope", "sign", "--out", "a.jws", serialFlag,
		"--descriptor", `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+strings.Repeat("ab", 32)+`","size":1}`),
		[]string{"no PIN was sent", "1 PIN try left", "--allow-last-pin-try"}, 1, 3)
	setRetries(t, env, 3, -1)

	// management-key set --protect, then cert import, which reads the
	// protected key with the PIN.
	setRetries(t, env, 1, -1)
	env.Card.ResetStats()
	held("management-key set --protect", runUser(t, "", []string{wrongPIN}, "management-key", "set", "--protect", serialFlag), noPINSent, 1, 3)
	mustSucceed(t, "management-key set --protect --allow-last-pin-try",
		runUser(t, "", []string{rightPIN}, "management-key", "set", "--protect", "--allow-last-pin-try", serialFlag))
	setRetries(t, env, 1, -1)
	env.Card.ResetStats()
	held("cert import", runUser(t, "", []string{wrongPIN}, "cert", "import", certFile[len(certFile)-1], serialFlag), noPINSent, 1, 3)
	if n := sent(env, "PUT DATA"); n != 0 {
		t.Fatalf("cert import stored %d objects", n)
	}
	r = runUser(t, "", []string{wrongPIN}, "cert", "import", "--allow-last-pin-try", certFile[len(certFile)-1], serialFlag)
	mustFail(t, "cert import --allow-last-pin-try, wrong PIN", r, "the PIN is blocked")
	if n := readCardState(t, env).PINRetries; n != 0 {
		t.Fatalf("cert import --allow-last-pin-try with a wrong PIN left %d retries, want 0", n)
	}
}

// TestUserPINNormalised gives the PIN and the PUK with one newline at the
// end, which is removed, and with other whitespace or control characters,
// which are refused before they reach the card.
func TestUserPINNormalised(t *testing.T) {
	env := needCard(t)

	// The plugin: NOTATION_PIV_PIN and pin_file.
	provision(t, piv.AlgorithmEC256, nil)
	dir := t.TempDir()
	pinFile := func(content string) map[string]string {
		return map[string]string{"pin_file": writeMode(t, filepath.Join(dir, fmt.Sprintf("pin-%d", len(content))), content, 0o600)}
	}
	for _, env := range []string{"NOTATION_PIV_PIN=123456\n", "NOTATION_PIV_PIN=123456\r\n"} {
		if r := invoke(t, "generate-envelope", envelopeRequest("9c", nil), env); r.code != 0 {
			t.Errorf("%q: %s", env, r.stderr)
		}
	}
	if r := invoke(t, "generate-envelope", envelopeRequest("9c", pinFile("123456\r\n"))); r.code != 0 {
		t.Errorf("pin_file with CRLF: %s", r.stderr)
	}
	env.Card.ResetStats()
	for what, r := range map[string]result{
		"NOTATION_PIV_PIN with a trailing space": invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN=123456 "),
		"NOTATION_PIV_PIN with two newlines":     invoke(t, "generate-envelope", envelopeRequest("9c", nil), "NOTATION_PIV_PIN=123456\n\n"),
		"pin_file with a trailing space":         invoke(t, "generate-envelope", envelopeRequest("9c", pinFile("123456 \n"))),
		"pin_file with two newlines":             invoke(t, "generate-envelope", envelopeRequest("9c", pinFile("123456\n\n"))),
	} {
		if r.code != 1 || !strings.Contains(r.stderr, "it was not sent to the card") || strings.Contains(r.stderr, "123456") {
			t.Errorf("%s: exit %d: %s", what, r.code, r.stderr)
		}
	}
	if n := secretsSent(env); n != 0 || readCardState(t, env).PINRetries != 3 {
		t.Errorf("malformed PINs: %d reached the card, %d retries left", n, readCardState(t, env).PINRetries)
	}

	// The user commands.
	r := runUser(t, "", []string{"NOTATION_PIV_PIN=123456\n", "NOTATION_PIV_NEW_PIN=24682468\r\n"}, "pin", "change", serialFlag)
	mustSucceed(t, "pin change with newlines", r)
	if st := readCardState(t, env); !hasSecret(st.PIN, "24682468") || st.PINRetries != 3 {
		t.Fatalf("the new PIN is not 24682468: %+v", st)
	}
	env.Card.ResetStats()
	for _, tc := range []struct {
		env       []string
		args      []string
		fragments []string
	}{
		{[]string{"NOTATION_PIV_PIN=24682468 \n", "NOTATION_PIV_NEW_PIN=11223344"}, []string{"pin", "change"}, []string{"the PIN begins or ends with whitespace; it was not sent to the card", "NOTATION_PIV_PIN"}},
		{[]string{"NOTATION_PIV_PIN=24682468\n\n", "NOTATION_PIV_NEW_PIN=11223344"}, []string{"pin", "change"}, []string{"the PIN holds a control character", "it was not sent to the card"}},
		{[]string{"NOTATION_PIV_PIN=24682468", "NOTATION_PIV_NEW_PIN=11223344 "}, []string{"pin", "change"}, []string{"the new PIN begins or ends with whitespace", "fix NOTATION_PIV_NEW_PIN"}},
		{[]string{"NOTATION_PIV_PUK=12345678\t", "NOTATION_PIV_NEW_PIN=11223344"}, []string{"pin", "unblock"}, []string{"the PUK holds a control character", "NOTATION_PIV_PUK"}},
		{[]string{"NOTATION_PIV_PIN= 24682468"}, []string{"setup", "--slot", "9a", "--subject", setupSubject}, []string{"the PIN begins or ends with whitespace"}},
	} {
		what := strings.Join(tc.args, " ")
		r := runUser(t, "", tc.env, append(tc.args, serialFlag)...)
		mustFail(t, what, r, tc.fragments...)
		if strings.Contains(r.stderr, "24682468") || strings.Contains(r.stderr, "12345678") || strings.Contains(r.stderr, "11223344") {
			t.Errorf("%s: the error shows the PIN:\n%s", what, r.stderr)
		}
	}
	if n := secretsSent(env); n != 0 {
		t.Errorf("%d malformed PINs or PUKs reached the card", n)
	}
	if st := readCardState(t, env); st.PINRetries != 3 || st.PUKRetries != 3 || !hasSecret(st.PIN, "24682468") {
		t.Errorf("malformed PINs cost retries or changed the PIN: %+v", st)
	}
}
