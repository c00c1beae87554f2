package cose

import (
	"testing"

	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// TestDecode checks that Decode reads back everything this package signs,
// and the envelopes of stock notation v1.3.2 as notation-core-go reads them.
func TestDecode(t *testing.T) {
	envelopetest.CheckDecode(t, Format{}, Decode)
}

// FuzzDecode feeds mutations of real envelopes (stock notation v1.3.2's,
// with and without a timestamp, and this package's) to Decode: it must not
// panic, must return a result or an error, and must decode every envelope
// notation-core-go verifies into what notation-core-go reads.
func FuzzDecode(f *testing.F) {
	envelopetest.FuzzDecode(f, Format{}, Decode)
}
