package envelope_test

import (
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/jws"
)

// decoders are the formats whose Decode the tests below check alike, one
// subtest each.
var decoders = []struct {
	name   string
	format envelope.Format
	decode envelopetest.Decoder
	encode envelopetest.Encode
	// flood is the envelope of issue 13, finding 5, and floodSize its
	// least size.
	flood     envelopetest.Hostile
	floodSize int
	// bounds are where the format reaches envelope.MaxHeaderItems.
	bounds envelopetest.Bounds
}{
	{
		name: "jws", format: jws.Format{}, decode: jws.Decode, encode: envelopetest.Hostile.JWS,
		flood: envelopetest.CriticalJWS, floodSize: 4_000_000,
		bounds: envelopetest.Bounds{
			// 12 values for the Notary headers, 3 for each extra critical one.
			Critical: 337, RepeatCritical: 1012,
			// 12 values for the members and a chain of one, 2 for each extra
			// unprotected header.
			Unprotected: 506, UnprotectedPart: "envelope outside its protected header",
		},
	},
	{
		name: "cose", format: cose.Format{}, decode: cose.Decode, encode: envelopetest.Hostile.COSE,
		flood: envelopetest.CriticalCOSE, floodSize: 2_200_000,
		bounds: envelopetest.Bounds{
			// 13 items for the Notary headers, 3 for each extra critical one.
			Critical: 337, RepeatCritical: 1011,
			// 4 items for a chain of one, 2 for each extra unprotected header.
			Unprotected: 510, UnprotectedPart: "unprotected header",
		},
	},
}

// TestDecode checks that each format's Decode reads back everything the
// format signs, and the envelopes of stock notation v1.3.2 as
// notation-core-go reads them.
func TestDecode(t *testing.T) {
	for _, f := range decoders {
		t.Run(f.name, func(t *testing.T) { envelopetest.CheckDecode(t, f.format, f.decode) })
	}
}

// TestDecodeCriticalFlood decodes the envelope of issue 13, finding 5, in
// each format: a validly signed 4 MB JWS whose 140,000 protected headers
// are all marked critical, and a 2.2 MB COSE_Sign1 with 130,000 (go-cose
// refuses maps of more than 131,072). Decode took 20 s and more over it,
// comparing every label with every "crit" entry, and inspect then handed
// it to notation-core-go, which does the same. It must be refused for its
// protected header.
func TestDecodeCriticalFlood(t *testing.T) {
	for _, f := range decoders {
		t.Run(f.name, func(t *testing.T) {
			envelopetest.CheckCriticalFlood(t, f.encode(f.flood, t), f.floodSize, f.name, f.decode)
		})
	}
}

// TestDecodeLimits checks each bound of each format's Decode just below
// and above it: what is within is decoded, what is over is refused for
// the right part.
func TestDecodeLimits(t *testing.T) {
	for _, f := range decoders {
		t.Run(f.name, func(t *testing.T) { envelopetest.CheckDecodeLimits(t, f.encode, f.decode, f.bounds) })
	}
}

// TestDecodeCriticalMarks checks that every header the "crit" list names,
// and only those, is marked critical, in an envelope with many of each.
func TestDecodeCriticalMarks(t *testing.T) {
	for _, f := range decoders {
		t.Run(f.name, func(t *testing.T) { envelopetest.CheckCriticalMarks(t, f.encode, f.decode) })
	}
}
