package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// The targets of issue 17, which BenchmarkFloor checks and reports; no
// timed test asserts them.
const (
	targetEnvelopeAboveFloor = 4 * time.Millisecond // generate-envelope EC-256 over the empty cgo program
	targetMetadataRatio      = 1.25                 // get-plugin-metadata over the empty cgo program
	targetNotationRatio      = 2.0                  // notation sign, card over local key
	targetRSSKiB             = 30 << 10             // peak RSS of any contract command
)

// BenchmarkFloor is the distance to the floor, in one interleaved run:
// each round runs the empty cgo program (the least any plugin linked
// against libpcsclite can cost), get-plugin-metadata, describe-key,
// generate-envelope with an EC-256 key (slot 9c) and with an RSA-2048 key
// (slot 9a), and notation sign with the card and with a local key file,
// one after the other, so that whatever else the machine does weighs on
// all alike. It reports the medians, the plugin's peak RSS, and each
// target of issue 17 met or not; then it logs the APDUs of one EC-256
// signature, each with the reason it is sent.
func BenchmarkFloor(b *testing.B) {
	env := needCard(b)
	yk := openPIV(b)
	ecLeaf := certify(b, yk, piv.SlotSignature, generateKey(b, yk, piv.SlotSignature, piv.AlgorithmEC256, piv.PINPolicyAlways), nil)
	certify(b, yk, piv.SlotAuthentication, generateKey(b, yk, piv.SlotAuthentication, piv.AlgorithmRSA2048, piv.PINPolicyAlways), nil)
	yk.Close()
	emptyCgo := buildEmptyProgram(b, "package main\n\nimport \"C\"\n\nfunc main() {}\n")
	n := newNotation(b)
	n.trust(ecLeaf)
	n.run("key", "add", "piv", "--plugin", "piv", "--id", "9c")
	n.run("cert", "generate-test", "local")

	ecRequest := withoutSerial(b, envelopeRequest("9c", nil))
	pluginRuns := []struct{ name, command, request string }{
		{"get-plugin-metadata", "get-plugin-metadata", "{}"},
		{"describe-key", "describe-key", marshal(plugin.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "9c", PluginConfig: map[string]string{}})},
		{"generate-envelope EC-256", "generate-envelope", ecRequest},
		{"generate-envelope RSA-2048", "generate-envelope", withoutSerial(b, envelopeRequest("9a", nil))},
	}
	var floor, withCard, withFile []time.Duration
	walls := make([][]time.Duration, len(pluginRuns))
	rss := make([][]int64, len(pluginRuns))
	for b.Loop() {
		floor = append(floor, runEmpty(b, emptyCgo))
		for i, r := range pluginRuns {
			w, kib := runPlugin(b, r.command, r.request, "NOTATION_PIV_PIN=123456")
			walls[i], rss[i] = append(walls[i], w), append(rss[i], kib)
		}
		for _, key := range []string{"piv", "local"} {
			layout := newLayout(b, "floor "+key)
			start := time.Now()
			n.run("sign", "--oci-layout", "--key", key, layout.ref())
			if d := time.Since(start); key == "piv" {
				withCard = append(withCard, d)
			} else {
				withFile = append(withFile, d)
			}
		}
	}
	b.StopTimer()

	var peak int64
	b.ReportMetric(ms(median(floor)), "empty-cgo-ms")
	for i, r := range pluginRuns {
		unit := strings.ReplaceAll(strings.TrimPrefix(r.name, "generate-envelope "), " ", "-")
		b.ReportMetric(ms(median(walls[i])), unit+"-ms")
		peak = max(peak, median(rss[i]))
	}
	b.ReportMetric(ms(median(withCard)), "notation-card-ms")
	b.ReportMetric(ms(median(withFile)), "notation-local-ms")
	b.ReportMetric(float64(peak), "peak-RSS-KiB")

	// b.Log keeps only 10 lines of a benchmark's output: the report goes
	// to stdout, once, as b.Loop runs this function once.
	var report reportLines
	defer report.print()
	above := median(walls[2]) - median(floor)
	metadataRatio := float64(median(walls[0])) / float64(median(floor))
	notationRatio := float64(median(withCard)) / float64(median(withFile))
	report.F("targets over %d interleaved rounds (medians):", len(floor))
	report.F("  generate-envelope EC-256 above the empty cgo program: %.2f ms, target at most %.0f ms: %s", ms(above), ms(targetEnvelopeAboveFloor), verdict(above <= targetEnvelopeAboveFloor))
	report.F("  get-plugin-metadata over the empty cgo program: %.2fx, target at most %.2fx: %s", metadataRatio, targetMetadataRatio, verdict(metadataRatio <= targetMetadataRatio))
	report.F("  notation sign, card over local key: %.2fx, target at most %.1fx: %s", notationRatio, targetNotationRatio, verdict(notationRatio <= targetNotationRatio))
	report.F("  peak RSS: %.1f MiB, target under %d MiB: %s", float64(peak)/1024, targetRSSKiB>>10, verdict(peak < targetRSSKiB))

	env.Card.ResetStats()
	runPlugin(b, "generate-envelope", ecRequest, "NOTATION_PIV_PIN=123456")
	log := env.Card.Stats().Log
	report.F("the %d APDUs of one EC-256 generate-envelope, the only card present, no pluginConfig:", len(log))
	for i, e := range log {
		report.F("  %d. %s (INS %02X, P1 %02X, P2 %02X, SW %04X): %s", i+1, e.Name, e.INS, e.P1, e.P2, e.SW, apduReason(e))
	}
}

// reportLines collects BenchmarkFloor's report.
type reportLines struct{ strings.Builder }

// F adds a line.
func (r *reportLines) F(format string, args ...any) { fmt.Fprintf(r, format+"\n", args...) }

// print writes the report to stdout.
func (r *reportLines) print() { os.Stdout.WriteString(r.String()) }

// verdict is "met" or "not met".
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

// apduReason says why the plugin sends the command e during a signature.
func apduReason(e card.LogEntry) string {
	switch {
	case e.Chained:
		return "a part of a chained command (CLA 10): its data is longer than one APDU"
	case e.Name == "SELECT":
		return "select the PIV application, as every session must"
	case e.Name == "GET VERSION":
		return "the firmware version, which piv-go reads when it opens the card to pick YubiKey or plain PIV commands"
	case e.Name == "GET SERIAL":
		return "the card's serial number, for the io.github.notation-piv.card.serial annotation (and pluginConfig serial)"
	case e.Name == "GET DATA":
		return "the slot's certificate, which the envelope carries and the plugin checks against the key"
	case e.Name == "GET RESPONSE":
		return "the rest of the previous answer, which was longer than one response APDU (61xx)"
	case e.Name == "GENERAL AUTHENTICATE" && e.SW == 0x6982:
		return "sign without the PIN first: the card answers 6982 when the key's PIN policy needs it"
	case e.Name == "GENERAL AUTHENTICATE":
		return "sign the digest with the slot's key"
	case e.Name == "VERIFY" && e.P1 == 0xFF:
		return "forget the PIN: VERIFY with P1=FF resets its verified status (SP 800-73-4)"
	case e.Name == "VERIFY" && e.DataLen == 0:
		return "the PIN status: verified or not, and the tries left for the prompt and the last-try guard"
	case e.Name == "VERIFY":
		return "verify the PIN"
	case e.Name == "ATTEST", e.Name == "GET METADATA":
		return "not expected on this path: no attest=true, no metadata read"
	}
	return fmt.Sprintf("not explained: add %s to apduReason", e.Name)
}
