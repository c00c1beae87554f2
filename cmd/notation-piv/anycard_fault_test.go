package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// faultTable is the fault cases run on one kind of card.
type faultTable struct {
	card  anyCard
	cases []faultCase
}

// TestCardFaultsOtherCards runs TestCardFaults' checks on the path that
// cards other than YubiKeys take through the plugin's own PIV client: a
// plain SP 800-73-4 card, one with gzip-compressed certificates, one that
// offers T=0 alone and a trussed card, each provisioned with EC-256 in
// slot 9c (PIN policy "always") and a certificate from
// fixtures.Intermediate. The card drops out of the reader, or answers an
// error status word, or never answers:
//   - at GET RESPONSE, which fetches the rest of a certificate, of the
//     answer to SELECT over T=0, and of a signature over T=0 (after the
//     card checked the PIN);
//   - during VERIFY, when the plugin asks for the PIN's retries and when it
//     sends the PIN;
//   - during the GET DATA chain of a compressed certificate, at its first
//     link and at GET RESPONSE, for generate-envelope and describe-key.
//
// (GET SERIAL, which only YubiKeys get, is in TestCardFaults.) Each run
// must fail within card_timeout+3 s with the right contract error, a
// message that says what happened and what to do, nothing on stdout, no
// PIN retry spent and the card as it was; and the next signature must
// succeed once the fault is gone.
func TestCardFaultsOtherCards(t *testing.T) {
	const (
		sign     = "sign with slot 9c"
		readCert = "read certificate from slot 9c"
	)
	removed := func(fault, command string, ins byte, skip int, says ...string) faultCase {
		return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Skip: skip, Times: 1, Disconnect: true}},
			code: plugin.ErrorCodeGeneric, says: append(says, "removed", "reinsert"), reinsert: true}
	}
	answers := func(fault, command string, ins byte, skip int, sw uint16, says ...string) faultCase {
		return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Skip: skip, Times: 1, SW: sw}},
			code: plugin.ErrorCodeGeneric, says: append(says, "try again")}
	}
	silent := func(fault, command string, ins byte, skip int, says ...string) faultCase {
		return faultCase{fault: fault, command: command, faults: []card.Fault{{INS: ins, Skip: skip, Delay: neverAnswers}},
			code: plugin.ErrorCodeTimeout, says: append(says, "did not answer within", "reinsert"), atLeast: faultCardTimeout}
	}
	afterPIN := func(c faultCase) faultCase { c.pinChecks = 1; return c }

	tables := []faultTable{
		{genericCard, []faultCase{
			// GET DATA of the certificate, then GET RESPONSE for its rest.
			removed("card removed at GET RESPONSE (certificate)", "generate-envelope", insGetResponse, 0, readCert),
			answers("GET RESPONSE (certificate) answers 6F00", "generate-envelope", insGetResponse, 0, 0x6F00, readCert, "6f00"),
			// VERIFY without data asks for the retries; then VERIFY
			// with the PIN.
			removed("card removed during VERIFY (PIN status)", "generate-envelope", insVerify, 0, "read PIN retries"),
			answers("VERIFY (PIN status) answers 6F00", "generate-envelope", insVerify, 0, 0x6F00, "read PIN retries", "6f00"),
			removed("card removed during VERIFY with the PIN", "generate-envelope", insVerify, 1, "verify PIN"),
			answers("VERIFY with the PIN answers 6581", "generate-envelope", insVerify, 1, 0x6581, "verify PIN", "6581"),
			silent("VERIFY with the PIN never answers", "generate-envelope", insVerify, 1, sign),
		}},
		{genericCompressedCard, []faultCase{
			removed("card removed at GET DATA (compressed certificate)", "generate-envelope", insGetData, 0, readCert),
			removed("card removed at GET RESPONSE (compressed certificate)", "generate-envelope", insGetResponse, 0, readCert),
			removed("card removed at GET RESPONSE (compressed certificate, describe-key)", "describe-key", insGetResponse, 0, readCert),
			answers("GET RESPONSE (compressed certificate) answers 6F00", "generate-envelope", insGetResponse, 0, 0x6F00, readCert, "6f00"),
			answers("GET RESPONSE (compressed certificate) answers 6581 (raw)", "generate-signature", insGetResponse, 0, 0x6581, readCert, "6581"),
			silent("GET RESPONSE (compressed certificate) never answers", "generate-envelope", insGetResponse, 0, readCert),
		}},
		{genericT0Card, []faultCase{
			// Over T=0 every answer to a command with data comes with
			// GET RESPONSE: SELECT's first, then the certificate's two,
			// then for an envelope the CHUID's (the card's GUID for the
			// annotation), then the signature's.
			removedWhileOpening("card removed at GET RESPONSE (SELECT)", "generate-envelope", insGetResponse, 0),
			answers("GET RESPONSE (SELECT) answers 6F00", "generate-envelope", insGetResponse, 0, 0x6F00, "6f00"),
			removed("card removed at GET RESPONSE (second part of the certificate)", "generate-envelope", insGetResponse, 2, readCert),
			removed("card removed at GET RESPONSE (CHUID)", "generate-envelope", insGetResponse, 3, "read the card's GUID"),
			afterPIN(removed("card removed at GET RESPONSE (signature)", "generate-envelope", insGetResponse, 4, sign)),
			afterPIN(answers("GET RESPONSE (signature) answers 6F00 (raw)", "generate-signature", insGetResponse, 3, 0x6F00, sign, "6f00")),
			afterPIN(silent("GET RESPONSE (signature) never answers", "generate-envelope", insGetResponse, 4, sign)),
		}},
		{trussedCard, []faultCase{
			removed("card removed at GET RESPONSE (certificate)", "generate-envelope", insGetResponse, 0, readCert),
			removed("card removed during VERIFY with the PIN", "generate-envelope", insVerify, 1, "verify PIN"),
			answers("VERIFY with the PIN answers 6581", "generate-envelope", insVerify, 1, 0x6581, "verify PIN", "6581"),
		}},
	}
	env := needCard(t)
	for _, table := range tables {
		t.Run(table.card.name, func(t *testing.T) {
			ic := newIssuedCard(t, table.card)
			insertCard(t, env, ic.card)
			provisioned := snapshot(t, env)
			caCerts := writePEM(t, filepath.Join(t.TempDir(), "ca.pem"), fixtures.Intermediate().Chain()...)
			// The only card present, with the CA chain of its
			// certificate.
			request := func(command string, config map[string]string) string {
				if config == nil {
					config = map[string]string{}
				}
				config["ca_certs"] = caCerts
				return withoutSerial(t, requestFor(command, config))
			}
			for _, tc := range table.cases {
				t.Run(tc.fault, func(t *testing.T) { runFaultCase(t, env, provisioned, tc, request) })
			}
		})
	}
}

// TestCardErrorsNameEachStepOnce checks that an error status word from
// the card reaches the user with each step named once, as every layer
// adds only what its callee could not know: "read certificate from slot
// 9c: the card answered 6f00", not "read certificate from slot 9c: read
// certificate from slot 9c: …".
func TestCardErrorsNameEachStepOnce(t *testing.T) {
	env := needCard(t)
	insertIssuedCard(t, genericCard)
	caCerts := writePEM(t, filepath.Join(t.TempDir(), "ca.pem"), fixtures.Intermediate().Chain()...)
	request := withoutSerial(t, requestFor("generate-envelope", map[string]string{"ca_certs": caCerts}))
	for _, tc := range []struct {
		step  string
		fault card.Fault
	}{
		{"read certificate from slot 9c", card.Fault{INS: insGetData, Times: 1, SW: 0x6F00}},
		{"read PIN retries", card.Fault{INS: insVerify, Times: 1, SW: 0x6F00}},
		{"verify PIN", card.Fault{INS: insVerify, Skip: 1, Times: 1, SW: 0x6581}},
		{"sign with slot 9c", card.Fault{INS: insGenAuth, Times: 1, SW: 0x6F00}},
	} {
		t.Run(tc.step, func(t *testing.T) {
			env.Card.ClearFaults()
			env.Card.InjectFault(tc.fault)
			perr := expectError(t, invoke(t, "generate-envelope", request, "NOTATION_PIV_PIN=123456"), plugin.ErrorCodeGeneric, tc.step)
			if n := strings.Count(perr.Message, tc.step+":"); n != 1 {
				t.Errorf("the message names the step %q %d times: %q", tc.step, n, perr.Message)
			}
		})
	}
}
