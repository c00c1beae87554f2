package envelopetest

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
)

// CheckLimit fails t unless err is an *envelope.LimitError for part and
// limit whose message names them.
func CheckLimit(t testing.TB, err error, part string, limit int) {
	t.Helper()
	var le *envelope.LimitError
	if !errors.As(err, &le) || le.Part != part || le.Limit != limit {
		t.Fatalf("got error %v, want a limit error: %s over %d", err, part, limit)
	}
	if msg := err.Error(); !strings.Contains(msg, part) || !strings.Contains(msg, strconv.Itoa(limit)) {
		t.Fatalf("error %q does not name the %s and the limit %d", msg, part, limit)
	}
}

// Decoder is a format package's Decode function.
type Decoder func(env []byte) (*envelope.Decoded, error)

// Encode is Hostile.JWS or Hostile.COSE: it builds an envelope of a shape.
type Encode func(Hostile, testing.TB) []byte

// CheckCriticalFlood decodes the envelope of issue 13, finding 5: a
// validly signed envelope of about minSize bytes whose protected headers
// are all marked critical (CriticalJWS, CriticalCOSE). Decoders took 20 s
// and more over it, comparing every label with every "crit" entry. decode
// must refuse it for its protected header, saying it was reading an
// envelope of format ("jws", "cose").
func CheckCriticalFlood(t *testing.T, env []byte, minSize int, format string, decode Decoder) {
	if len(env) < minSize || len(env) > envelope.MaxEnvelopeSize {
		t.Fatalf("the envelope is %d bytes, want %d to %d", len(env), minSize, envelope.MaxEnvelopeSize)
	}
	d, err := decode(env)
	if d != nil {
		t.Fatalf("Decode read %d protected headers", len(d.Protected))
	}
	CheckLimit(t, err, "protected header", envelope.MaxHeaderItems)
	if !strings.HasPrefix(err.Error(), "read "+format+" envelope: ") {
		t.Errorf("error %q does not say what it was reading", err)
	}
}

// Bounds are where a format's decoder reaches envelope.MaxHeaderItems,
// which depends on how the format counts items: the most extra headers,
// all critical, the most repeats of the signing scheme in "crit", and the
// most extra unprotected headers that still decode, and the part of the
// envelope that the unprotected headers are counted in.
type Bounds struct {
	Critical, RepeatCritical, Unprotected int
	UnprotectedPart                       string
}

// CheckDecodeLimits decodes envelopes made with encode just within and
// just over each of the bounds and envelope.MaxCertificates: what is
// within must decode without a problem, what is over must be refused for
// the right part.
func CheckDecodeLimits(t *testing.T, encode Encode, decode Decoder, b Bounds) {
	const items = envelope.MaxHeaderItems
	for _, c := range []struct {
		shape Hostile
		part  string // "" when it must decode
		limit int
	}{
		{shape: Hostile{Headers: b.Critical, Critical: b.Critical}},
		{Hostile{Headers: b.Critical + 1, Critical: b.Critical + 1}, "protected header", items},
		{Hostile{Headers: 1000}, "protected header", items},
		{shape: Hostile{RepeatCritical: b.RepeatCritical}},
		{Hostile{RepeatCritical: b.RepeatCritical + 1}, "protected header", items},
		{shape: Hostile{Unprotected: b.Unprotected}},
		{Hostile{Unprotected: b.Unprotected + 1}, b.UnprotectedPart, items},
		{shape: Hostile{Certificates: envelope.MaxCertificates}},
		{Hostile{Certificates: envelope.MaxCertificates + 1}, "certificate chain", envelope.MaxCertificates},
	} {
		t.Run(c.shape.String(), func(t *testing.T) {
			d, err := decode(encode(c.shape, t))
			if c.part != "" {
				CheckLimit(t, err, c.part, c.limit)
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

// CheckCriticalMarks checks that every header the "crit" list names, and
// only those, is marked critical, in an envelope made with encode with
// many of each.
func CheckCriticalMarks(t *testing.T, encode Encode, decode Decoder) {
	d, err := decode(encode(Hostile{Headers: 300, Critical: 150, RepeatCritical: 5}, t))
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
