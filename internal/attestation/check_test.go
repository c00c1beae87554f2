package attestation

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	v := newVendor(t)
	key := newECKey(t)
	leaf := signingCert(t, key.Public(), exampleSubject)
	value, err := v.attest(t, key.Public(), defaultFacts).Encode()
	if err != nil {
		t.Fatal(err)
	}
	otherValue, err := v.attest(t, newECKey(t).Public(), defaultFacts).Encode()
	if err != nil {
		t.Fatal(err)
	}
	policy := func(identities ...string) *Policy {
		p, err := ParsePolicy(identities)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := func(v any) map[string]any { return map[string]any{HeaderKey: v, "other": "x"} }

	for _, tc := range []struct {
		name        string
		attrs       map[string]any
		opts        Options
		want        string // "" to pass
		processed   bool   // HeaderKey among the processed attributes
		attestation bool   // an attestation in the verdict
	}{
		{"passes", header(value), Options{Roots: v.roots(t), Policy: policy("piv.attested: serial=12345678, pin=always")}, "", true, true},
		{"no policy", header(value), Options{Roots: v.roots(t)}, "", true, true},
		{"policy fails", header(value), Options{Roots: v.roots(t), Policy: policy("piv.attested: touch=cached")}, "touch always is not cached", true, true},
		{"no attestation", map[string]any{"other": "x"}, Options{Roots: v.roots(t)}, "the envelope has no attestation (io.github.notation-piv.attestation)", false, false},
		{"not a string", header(42), Options{Roots: v.roots(t)}, "io.github.notation-piv.attestation is a int, not a string", true, false},
		{"malformed", header("AAAA"), Options{Roots: v.roots(t)}, "attestation bundle has 1 certificate", true, false},
		{"built-in roots", header(value), Options{}, "certificate signed by unknown authority", true, false},
		{"attested key is not the signing key", header(otherValue), Options{Roots: v.roots(t), Policy: policy("*")}, "the attested key is not the signing certificate's key", true, true},
		{"expired at the given time", header(value), Options{Roots: v.roots(t), Time: time.Now().Add(2 * 365 * 24 * time.Hour)}, "expired", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.attrs, leaf, tc.opts)
			switch {
			case tc.want == "" && got.Err != nil:
				t.Errorf("Check: %v, want a pass", got.Err)
			case tc.want != "" && (got.Err == nil || !strings.Contains(got.Err.Error(), tc.want)):
				t.Errorf("Check: %v, want %q", got.Err, tc.want)
			}
			if slices.Contains(got.ProcessedAttributes, HeaderKey) != tc.processed || len(got.ProcessedAttributes) > 1 {
				t.Errorf("processed attributes %q", got.ProcessedAttributes)
			}
			if (got.Attestation != nil) != tc.attestation {
				t.Errorf("attestation in the verdict: %v, want %v", got.Attestation != nil, tc.attestation)
			}
		})
	}
}

func TestCheckWithoutSigningCertificate(t *testing.T) {
	v := newVendor(t)
	value, err := v.attest(t, newECKey(t).Public(), defaultFacts).Encode()
	if err != nil {
		t.Fatal(err)
	}
	got := Check(map[string]any{HeaderKey: value}, nil, Options{Roots: v.roots(t)})
	if got.Err == nil || got.Err.Error() != "no signing certificate" || got.Attestation == nil {
		t.Errorf("Check without a signing certificate: %+v", got)
	}
}
