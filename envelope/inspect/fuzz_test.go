package inspect

import (
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/fixtures/recorded"
)

// FuzzInspect feeds mutations of real envelopes to Inspect and Verify: the
// envelopes stock notation v1.3.2 made (JWS and COSE, with and without
// timestamps, from fixtures/recorded) and envelopes this project
// builds with a CA chain. Neither may panic; Inspect returns a report or
// an error, never both or neither; a report encodes to JSON; Verify only
// verifies what has a valid integrity verdict and no problems.
func FuzzInspect(f *testing.F) {
	for _, name := range recorded.Envelopes {
		f.Add(recorded.Envelope(name))
	}
	pki := newPKI()
	for _, mt := range mediaTypes {
		env, _ := sign(f, mt, signOpts{chain: pki.chain(), key: pki.leafKey, expiry: time.Hour})
		f.Add(env)
	}
	roots := []*x509.Certificate{recorded.Signer(), pki.root}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Inspect(b, Options{})
		if (r == nil) == (err == nil) {
			t.Fatalf("Inspect returned report %v and error %v", r != nil, err)
		}
		if r != nil {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("report does not encode: %v", err)
			}
		}
		v, err := Verify(b, VerifyOptions{TrustRoots: roots})
		if err != nil {
			t.Fatal(err)
		}
		if v.Verified && (r == nil || r.Integrity.Status != StatusValid || len(r.Problems) != 0) {
			t.Fatalf("verified an envelope whose report says integrity %+v, problems %q", r.Integrity, r.Problems)
		}
	})
}
