package jws

import (
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// TestDecodeCriticalFlood decodes the envelope of issue 13, finding 5: a
// validly signed 4 MB JWS whose 140,000 protected headers are all marked
// critical. Decode took 20 s and more over it, comparing every label with
// every "crit" entry, and inspect then handed it to notation-core-go,
// which does the same. It must be refused for its protected header.
func TestDecodeCriticalFlood(t *testing.T) {
	envelopetest.CheckCriticalFlood(t, envelopetest.CriticalJWS.JWS(t), 4_000_000, "jws", Decode)
}

// TestDecodeLimits checks each bound of Decode just below and above it:
// what is within is decoded, what is over is refused for the right part.
func TestDecodeLimits(t *testing.T) {
	envelopetest.CheckDecodeLimits(t, envelopetest.Hostile.JWS, Decode, envelopetest.Bounds{
		// 12 values for the Notary headers, 3 for each extra critical one.
		Critical: 337, RepeatCritical: 1012,
		// 12 values for the members and a chain of one, 2 for each extra
		// unprotected header.
		Unprotected: 506, UnprotectedPart: "envelope outside its protected header",
	})
}

// TestDecodeCriticalMarks checks that every header the "crit" list names,
// and only those, is marked critical, in an envelope with many of each.
func TestDecodeCriticalMarks(t *testing.T) {
	envelopetest.CheckCriticalMarks(t, envelopetest.Hostile.JWS, Decode)
}

// TestTooManyItems checks the count of JSON values against
// envelope.MaxHeaderItems: keys, values, objects and arrays each count
// once, nested ones too; what does not parse is left to the decoder.
func TestTooManyItems(t *testing.T) {
	array := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]" }
	members := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + strings.Repeat("k", i+1) + `":true`)
		}
		return b.String() + "}"
	}
	for _, c := range []struct {
		name, json string
		over       bool
	}{
		{"array of 1023", array(envelope.MaxHeaderItems - 1), false},
		{"array of 1024", array(envelope.MaxHeaderItems), true},
		{"object of 511 members", members(511), false},
		{"object of 512 members", members(512), true},
		{"nested arrays", "[" + array(340) + "," + array(340) + "," + array(340) + "]", false},
		{"nested arrays over", "[" + array(340) + "," + array(340) + "," + array(341) + "]", true},
		{"strings and nulls", `{"a":"` + strings.Repeat("x", 1<<20) + `","b":null}`, false},
		{"not JSON", "[0,0," + strings.Repeat("x", 2000), false},
		{"empty", "", false},
	} {
		if got := tooManyItems([]byte(c.json)); got != c.over {
			t.Errorf("%s: over the limit %v, want %v", c.name, got, c.over)
		}
	}
}
