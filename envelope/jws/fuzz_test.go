package jws

import (
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// FuzzHeaders feeds mutations of a real envelope to Headers and to
// envelope.Verify: neither may panic, and an envelope that verifies must
// have readable headers.
func FuzzHeaders(f *testing.F) {
	f.Add(envelopetest.Sample(f, Format{}))
	f.Add([]byte(`{"payload":"e30","protected":"e30","header":{"x5c":[]},"signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		protected, _, err := Headers(b)
		if err == nil && protected == nil {
			t.Fatal("Headers returned no protected header and no error")
		}
		if _, verr := envelope.Verify(envelope.MediaTypeJWS, b); verr == nil && err != nil {
			t.Fatalf("envelope verifies but Headers fails: %v", err)
		}
	})
}

// FuzzDecode runs envelopetest.FuzzDecode on Decode: mutations of real
// envelopes must not make it panic, and every envelope notation-core-go
// verifies must decode into what notation-core-go reads.
func FuzzDecode(f *testing.F) {
	envelopetest.FuzzDecode(f, Format{}, Decode)
}
