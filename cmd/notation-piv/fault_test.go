package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// Instructions the faults aim at. A signature by serial number sends
// SELECT, GET VERSION, GET SERIAL, GET DATA, GET RESPONSE, GENERAL
// AUTHENTICATE (answered 6982: PIN policy "always"), VERIFY (PIN status),
// VERIFY (with the PIN) and GENERAL AUTHENTICATE again.
const (
	insSelect      byte = 0xA4
	insGetVersion  byte = 0xFD
	insGetSerial   byte = 0xF8
	insGetData     byte = 0xCB
	insGetResponse byte = 0xC0
	insVerify      byte = 0x20
	insGenAuth     byte = 0x87
)

// faultCardTimeout is the pluginConfig card_timeout of every faulty run.
const faultCardTimeout = 2 * time.Second

// faultBound is the longest a faulty run may take: card_timeout, plus the
// process start and the steps before the fault.
const faultBound = faultCardTimeout + 3*time.Second

// hangGuard kills a plugin run that takes this long, so that a hang fails
// the test instead of blocking it.
const hangGuard = 20 * time.Second

// neverAnswers is a delay that stands for a card that never answers;
// ClearFaults cuts it short.
const neverAnswers = 10 * time.Minute

// holderLetsGo is how long another process holds the card in the case
// where it lets go while the plugin waits.
const holderLetsGo = 500 * time.Millisecond

// holder is another process using the card while the plugin runs.
type holder int

const (
	noHolder   holder = iota
	holdsCard         // holds the card exclusively for the whole run
	letsCardGo        // holds the card exclusively for holderLetsGo
)

// faultCase is one fault and how the plugin must answer it.
type faultCase struct {
	fault   string       // what goes wrong, for the FAULT line
	command string       // generate-envelope, generate-signature (raw mode) or describe-key
	faults  []card.Fault // armed on the card before the run
	holder  holder
	// code is the contract error code the run must fail with; "" means
	// that the run must succeed.
	code plugin.ErrorCode
	// says are fragments the error message must hold: what happened and
	// what to do next.
	says []string
	// atLeast is the shortest the run may take: a deadline must be waited
	// for, and so must a card another process holds.
	atLeast time.Duration
	// pinChecks is how many VERIFY commands carrying the PIN must reach
	// the card's PIN check: 0 when the fault comes before the PIN is sent,
	// and never more than the one a signature needs.
	pinChecks int
	// reinsert means that the fault dropped the card from the reader: the
	// user puts it back before signing again.
	reinsert bool
}

// removedWhileOpening is the case of a card that drops out of the reader
// while the plugin opens it, at the skip+1st command with instruction ins:
// the plugin finds no card to use, says which command the card did not
// answer, and asks for one.
func removedWhileOpening(fault, command string, ins byte, skip int) faultCase {
	return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Skip: skip, Times: 1, Disconnect: true}},
		code: plugin.ErrorCodeValidation, says: []string{"no PIV card found", "the card answered nothing", "insert a card"}, reinsert: true}
}

// verifies reports whether stdout is a generate-envelope response whose
// envelope verifies.
func verifies(stdout string) bool {
	var resp plugin.GenerateEnvelopeResponse
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		return false
	}
	_, err := envelope.Verify(resp.SignatureEnvelopeType, resp.SignatureEnvelope)
	return err == nil
}

// yesNo formats a bool for the FAULT lines.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// TestCardFaults runs the plugin binary against a card that misbehaves at
// each step of a signature: it drops out of the reader, answers an error
// status word, never answers, or another process holds it. Each run must
// fail within card_timeout+3 s with the right contract error and a message
// that says what happened and what to do, print nothing on stdout, spend
// no PIN retry, send the PIN no more than once (not at all if the fault
// came first) and leave the card's state as it was; and once the fault is
// gone (and a dropped card reinserted) the next signature must succeed.
// Each case logs one line for the fault table in the issue:
//
//	FAULT | <fault> | <code> | <message> | <time to fail> | retries before→after | nothing lost: yes/no
func TestCardFaults(t *testing.T) {
	env := needCard(t)
	provision(t, piv.AlgorithmEC256, nil)
	provisioned := snapshot(t, env)
	const reader = `"Virtual PCD 00 00"`
	const sign, readCert = "sign with slot 9c", "read certificate from slot 9c"
	// The kinds of fault: the card drops out of the reader in the middle
	// of the step; it answers the step with an error status word; it never
	// answers it; another process holds it.
	removed := func(fault, command string, ins byte, step string) faultCase {
		return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Times: 1, Disconnect: true}},
			code: plugin.ErrorCodeGeneric, says: []string{step, "removed", "reinsert"}, reinsert: true}
	}
	answers := func(fault, command string, ins byte, skip int, sw uint16, code plugin.ErrorCode, says ...string) faultCase {
		return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Skip: skip, Times: 1, SW: sw}}, code: code, says: says}
	}
	silent := func(fault, command string, ins byte, skip int, step string) faultCase {
		return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Skip: skip, Delay: neverAnswers}},
			code: plugin.ErrorCodeTimeout, says: []string{step, "did not answer within", "reinsert"}, atLeast: faultCardTimeout}
	}
	held := func(fault, command string) faultCase {
		return faultCase{fault: fault, command: command, holder: holdsCard,
			code: plugin.ErrorCodeTimeout, says: []string{reader, "in use by another program", "try again"}, atLeast: faultCardTimeout}
	}
	afterPIN := func(c faultCase) faultCase { c.pinChecks = 1; return c }
	cases := []faultCase{
		removed("card removed during GENERAL AUTHENTICATE", "generate-envelope", insGenAuth, sign),
		removed("card removed during GENERAL AUTHENTICATE (raw)", "generate-signature", insGenAuth, sign),
		removed("card removed during GET DATA", "generate-envelope", insGetData, readCert),
		removedWhileOpening("card removed during GET SERIAL", "generate-envelope", insGetSerial, 0),
		removedWhileOpening("card removed during GET SERIAL (describe-key)", "describe-key", insGetSerial, 0),
		removed("card removed at GET RESPONSE", "generate-envelope", insGetResponse, readCert),
		// The card is there and is a PIV card, but broken: not a missing
		// card, nor anything in the request to fix.
		answers("SELECT answers 6F00", "generate-envelope", insSelect, 0, 0x6F00, plugin.ErrorCodeGeneric, reader, "6f00", "try again"),
		// No PIV application: the card cannot be used to sign.
		answers("SELECT answers 6A82", "generate-envelope", insSelect, 0, 0x6A82, plugin.ErrorCodeValidation, "no PIV card", reader, "6a82"),
		answers("GET VERSION answers 6581", "generate-envelope", insGetVersion, 0, 0x6581, plugin.ErrorCodeGeneric, reader, "6581", "try again"),
		answers("GET SERIAL answers 6F00", "generate-envelope", insGetSerial, 0, 0x6F00, plugin.ErrorCodeGeneric, reader, "6f00", "try again"),
		answers("GET DATA answers 6F00", "generate-envelope", insGetData, 0, 0x6F00, plugin.ErrorCodeGeneric, readCert, "6f00", "try again"),
		answers("GET RESPONSE answers 6F00", "generate-envelope", insGetResponse, 0, 0x6F00, plugin.ErrorCodeGeneric, readCert, "6f00", "try again"),
		answers("GET RESPONSE answers 6A82 (raw)", "generate-signature", insGetResponse, 0, 0x6A82, plugin.ErrorCodeGeneric, readCert, "6a82", "try again"),
		answers("GET DATA answers 6581 (describe-key)", "describe-key", insGetData, 0, 0x6581, plugin.ErrorCodeGeneric, readCert, "6581", "try again"),
		// The card says the certificate is not there: believe it.
		answers("GET DATA answers 6A82", "generate-envelope", insGetData, 0, 0x6A82, plugin.ErrorCodeValidation, "slot 9c", "no certificate", "store the key's certificate"),
		answers("VERIFY (PIN status) answers 6F00", "generate-envelope", insVerify, 0, 0x6F00, plugin.ErrorCodeGeneric, "read PIN retries", "6f00", "try again"),
		answers("VERIFY with the PIN answers 6581", "generate-envelope", insVerify, 1, 0x6581, plugin.ErrorCodeGeneric, "verify PIN", "6581", "try again"),
		answers("GENERAL AUTHENTICATE (first try) answers 6F00", "generate-envelope", insGenAuth, 0, 0x6F00, plugin.ErrorCodeGeneric, sign, "6f00", "try again"),
		afterPIN(answers("GENERAL AUTHENTICATE after VERIFY answers 6581", "generate-envelope", insGenAuth, 1, 0x6581, plugin.ErrorCodeGeneric, sign, "6581", "try again")),
		afterPIN(answers("GENERAL AUTHENTICATE after VERIFY answers 6A82 (raw)", "generate-signature", insGenAuth, 1, 0x6A82, plugin.ErrorCodeGeneric, sign, "6a82", "try again")),
		silent("GENERAL AUTHENTICATE never answers", "generate-envelope", insGenAuth, 0, sign),
		afterPIN(silent("GENERAL AUTHENTICATE after VERIFY never answers (raw)", "generate-signature", insGenAuth, 1, sign)),
		silent("GET SERIAL never answers", "generate-envelope", insGetSerial, 0, reader),
		silent("GET DATA never answers", "generate-envelope", insGetData, 0, readCert),
		silent("GET RESPONSE never answers (describe-key)", "describe-key", insGetResponse, 0, readCert),
		silent("GET DATA never answers (describe-key)", "describe-key", insGetData, 0, readCert),
		held("another process holds the card", "generate-envelope"),
		held("another process holds the card (describe-key)", "describe-key"),
		{fault: "another process holds the card, lets go after 500ms", command: "generate-envelope", holder: letsCardGo, atLeast: holderLetsGo, pinChecks: 1},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) { runFaultCase(t, env, provisioned, tc, requestFor) })
	}
}

// runFaultCase runs one case of a fault table (see TestCardFaults) on the
// card in env, restored to the state provisioned first. request makes the
// request of a contract command for that card, with pluginConfig config
// besides the settings the card needs.
func runFaultCase(t *testing.T, env *vcardtest.Env, provisioned []byte, tc faultCase, request func(command string, config map[string]string) string) {
	env.Card.ClearFaults()
	must(t, env.Card.Restore(provisioned))
	env.Card.ResetStats()
	retriesBefore := pinRetries(t, env)
	var letGo func()
	switch tc.holder {
	case holdsCard:
		letGo = holdCard(t, env, 0)
	case letsCardGo:
		letGo = holdCard(t, env, holderLetsGo)
	}
	for _, f := range tc.faults {
		env.Card.InjectFault(f)
	}

	config := map[string]string{"card_timeout": faultCardTimeout.String()}
	r, took := invokeWithin(t, hangGuard, tc.command, request(tc.command, config), "NOTATION_PIV_PIN=123456")

	retriesAfter := pinRetries(t, env)
	pins := pinsChecked(env)
	unchanged := bytes.Equal(snapshot(t, env), provisioned)
	env.Card.ClearFaults()
	if letGo != nil {
		letGo()
	}
	if tc.reinsert {
		must(t, env.Reinsert())
	}
	// The card recovers: the next signature succeeds, with the
	// same key, and verifies.
	again, _ := invokeWithin(t, hangGuard, "generate-envelope", request("generate-envelope", nil), "NOTATION_PIV_PIN=123456")
	recovered := again.code == 0 && verifies(again.stdout)

	code, message := "none (signed)", "-"
	perr, perrErr := pluginError(r.stderr)
	switch {
	case r.code == 0:
	case perrErr == nil:
		code, message = string(perr.ErrCode), perr.Message
	default:
		code, message = "?", perrErr.Error()
	}
	quiet := tc.code == "" || r.stdout == ""
	lostNothing := quiet && unchanged && retriesAfter == retriesBefore && pins == tc.pinChecks && recovered
	t.Logf("FAULT | %s | %s | %s | %v | %d→%d | nothing lost: %s",
		tc.fault, code, message, took.Round(10*time.Millisecond), retriesBefore, retriesAfter, yesNo(lostNothing))

	if tc.code == "" {
		if r.code != 0 || r.stderr != "" || !verifies(r.stdout) {
			t.Errorf("exit %d, stderr %q; want success and an envelope that verifies", r.code, r.stderr)
		}
	} else {
		if r.code != 1 || r.stdout != "" {
			t.Errorf("exit %d, stdout %q; want exit 1 and nothing on stdout", r.code, r.stdout)
		}
		switch {
		case perrErr != nil:
			t.Error(perrErr)
		case perr.ErrCode != tc.code:
			t.Errorf("error code %s, want %s", perr.ErrCode, tc.code)
		}
		for _, s := range tc.says {
			if !strings.Contains(message, s) {
				t.Errorf("the message does not say %q", s)
			}
		}
	}
	if took > faultBound || took < tc.atLeast {
		t.Errorf("the run took %v, want %v to %v", took, tc.atLeast, faultBound)
	}
	if retriesAfter != retriesBefore {
		t.Errorf("PIN retries %d→%d: a retry was spent", retriesBefore, retriesAfter)
	}
	if pins != tc.pinChecks {
		t.Errorf("the card checked the PIN %d times, want %d", pins, tc.pinChecks)
	}
	if !unchanged {
		t.Error("the card's state changed")
	}
	if !recovered {
		t.Errorf("the signature after the fault: exit %d, stderr %q", again.code, again.stderr)
	}
}
