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
	env := envelopetest.CriticalJWS.JWS(t)
	if len(env) < 4_000_000 || len(env) > envelope.MaxEnvelopeSize {
		t.Fatalf("the envelope is %d bytes, want 4 MB to %d", len(env), envelope.MaxEnvelopeSize)
	}
	d, err := Decode(env)
	if d != nil {
		t.Fatalf("Decode read %d protected headers", len(d.Protected))
	}
	envelopetest.CheckLimit(t, err, "protected header", envelope.MaxHeaderItems)
	if !strings.HasPrefix(err.Error(), "read jws envelope: ") {
		t.Errorf("error %q does not say what it was reading", err)
	}
}

// TestDecodeLimits checks each bound of Decode just below and above it:
// what is within is decoded, what is over is refused for the right part.
func TestDecodeLimits(t *testing.T) {
	for _, c := range []struct {
		shape envelopetest.Hostile
		part  string // "" when it must decode
		limit int
	}{
		// 12 values for the Notary headers, 3 for each extra critical one.
		{shape: envelopetest.Hostile{Headers: 337, Critical: 337}},
		{envelopetest.Hostile{Headers: 338, Critical: 338}, "protected header", envelope.MaxHeaderItems},
		{envelopetest.Hostile{Headers: 1000}, "protected header", envelope.MaxHeaderItems},
		{shape: envelopetest.Hostile{RepeatCritical: 1012}},
		{envelopetest.Hostile{RepeatCritical: 1013}, "protected header", envelope.MaxHeaderItems},
		// 12 values for the members and a chain of one, 2 for each extra
		// unprotected header.
		{shape: envelopetest.Hostile{Unprotected: 506}},
		{envelopetest.Hostile{Unprotected: 507}, "envelope outside its protected header", envelope.MaxHeaderItems},
		{shape: envelopetest.Hostile{Certificates: envelope.MaxCertificates}},
		{envelopetest.Hostile{Certificates: envelope.MaxCertificates + 1}, "certificate chain", envelope.MaxCertificates},
	} {
		t.Run(c.shape.String(), func(t *testing.T) {
			d, err := Decode(c.shape.JWS(t))
			if c.part != "" {
				envelopetest.CheckLimit(t, err, c.part, c.limit)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Problems) != 0 {
				t.Errorf("problems: %q", d.Problems)
			}
		})
	}
}

// TestDecodeCriticalMarks checks that every header the "crit" list names,
// and only those, is marked critical, in an envelope with many of each.
func TestDecodeCriticalMarks(t *testing.T) {
	d, err := Decode(envelopetest.Hostile{Headers: 300, Critical: 150, RepeatCritical: 5}.JWS(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Critical) != 1+150+5 {
		t.Errorf("crit lists %d labels, want 156", len(d.Critical))
	}
	critical := 0
	for _, h := range d.Protected {
		want := h.Label == envelope.HeaderSigningScheme || h.Label < "h000150" && strings.HasPrefix(h.Label, "h")
		if h.Critical != want {
			t.Errorf("header %q: critical %v, want %v", h.Label, h.Critical, want)
		}
		if h.Critical {
			critical++
		}
	}
	if critical != 151 {
		t.Errorf("%d headers marked critical, want 151", critical)
	}
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
