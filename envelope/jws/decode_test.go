package jws

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// notationEnvelopes reads the jws envelopes stock notation v1.3.2 made.
func notationEnvelopes(t testing.TB) [][]byte {
	return envelopetest.NotationEnvelopes(t, filepath.Join("..", "testdata", "notation-v1.3.2"), "jws")
}

// TestDecode checks that Decode reads back everything this package signs,
// and the envelopes of stock notation v1.3.2 as notation-core-go reads them.
func TestDecode(t *testing.T) {
	envelopetest.CheckDecode(t, Format{}, Decode, notationEnvelopes(t))
}

// FuzzDecode feeds mutations of real envelopes (stock notation v1.3.2's,
// with and without a timestamp, and this package's) to Decode: it must not
// panic, must return a result or an error, and must decode every envelope
// notation-core-go verifies into what notation-core-go reads.
func FuzzDecode(f *testing.F) {
	for _, env := range notationEnvelopes(f) {
		f.Add(env)
	}
	key := testKey(f, "EC-256")
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: selfSigned(f, key), SigningTime: time.Now(),
		Expiry: time.Now().Add(time.Hour), SigningAgent: agent})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if (d == nil) == (err == nil) {
			t.Fatalf("Decode returned %v and error %v", d, err)
		}
		envelopetest.CheckAgainstCore(t, Format{}.MediaType(), Decode, b)
	})
}
