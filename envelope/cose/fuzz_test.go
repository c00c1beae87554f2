package cose

import (
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// FuzzHeaders feeds mutations of a real envelope and of a minimal one to
// Headers and, for inputs Headers rejects, to envelope.Verify: neither may
// panic, Headers returns both headers or an error, and an envelope that
// verifies must have readable headers. The real seed is an EC-256 envelope
// with a self-signed leaf and every header (under 1 KiB); pass
// -fuzzminimizetime 2s so that minimizing a failure that long stays short.
func FuzzHeaders(f *testing.F) {
	f.Add(envelopetest.Sample(f, Format{}))
	f.Add([]byte("\xd2\x84\x45\xa1\x61\x74\xc1\x00\xa1\x18\x21\x81\x40\xf6\x40"))
	f.Fuzz(func(t *testing.T, b []byte) {
		protected, unprotected, err := Headers(b)
		if err == nil {
			if protected == nil || unprotected == nil {
				t.Fatal("Headers returned a nil header and no error")
			}
			return
		}
		// Verifying is slow; only inputs Headers rejects need it.
		if _, verr := envelope.Verify(envelope.MediaTypeCOSE, b); verr == nil {
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
