package inspect

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// TestCriticalFlood inspects and verifies the envelopes of issue 13,
// finding 5: validly signed envelopes whose protected headers, 140,000 in
// JWS and 130,000 in COSE, are all marked critical. Inspect and Verify
// took 20 s to 100 s over each, in this package's decoders and again in
// notation-core-go (v1.3.0), which compares every extra label with every
// "crit" entry. Both must refuse them before either reads the headers,
// saying why.
func TestCriticalFlood(t *testing.T) {
	root := envelopetest.HostileRoot(t)
	for _, c := range []struct {
		name string
		env  []byte
	}{
		{"jws", envelopetest.CriticalJWS.JWS(t)},
		{"cose", envelopetest.CriticalCOSE.COSE(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Inspect(c.env, Options{})
			if r != nil {
				t.Fatalf("Inspect reported on it: %d protected headers, integrity %s", len(r.ProtectedHeaders), r.Integrity.Status)
			}
			envelopetest.CheckLimit(t, err, "protected header", envelope.MaxHeaderItems)
			v, err := Verify(c.env, VerifyOptions{TrustRoots: []*x509.Certificate{root}})
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified || v.Report != nil {
				t.Fatalf("verified %v, report %v", v.Verified, v.Report != nil)
			}
			for _, check := range v.Checks {
				want := Skipped
				if check.Name == CheckFormat {
					want = Failed
					if !strings.Contains(check.Detail, "protected header holds more than 1024") {
						t.Errorf("format check: %q does not say what is wrong", check.Detail)
					}
				}
				if check.Status != want {
					t.Errorf("check %s: %s (%s), want %s", check.Name, check.Status, check.Detail, want)
				}
			}
		})
	}
}

// TestCriticalWithinLimit inspects envelopes just within
// envelope.MaxHeaderItems: 337 extra headers, all critical. They reach
// notation-core-go, which finds the signature valid, and the report names
// every critical header Notary does not define.
func TestCriticalWithinLimit(t *testing.T) {
	h := envelopetest.Hostile{Headers: 337, Critical: 337}
	for _, c := range []struct {
		name string
		env  []byte
	}{{"jws", h.JWS(t)}, {"cose", h.COSE(t)}} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Inspect(c.env, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Integrity.Status != StatusValid {
				t.Errorf("integrity %+v", r.Integrity)
			}
			unknown := 0
			for _, p := range r.Problems {
				if strings.Contains(p, "is marked critical but Notary does not define it") {
					unknown++
				}
			}
			if unknown != 337 || len(r.Critical) != 338 {
				t.Errorf("%d problems of unknown critical headers, %d critical labels; want 337 and 338", unknown, len(r.Critical))
			}
		})
	}
}
