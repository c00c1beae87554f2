package inspect

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

var mediaTypes = []string{envelope.MediaTypeJWS, envelope.MediaTypeCOSE}

// TestInspect reads envelopes of both formats, with a self-signed leaf and
// with a CA chain, with an expiry and a timestamp, and checks every field
// of the report against what was signed.
func TestInspect(t *testing.T) {
	tsa := timestamptest.Start(t)
	pki := newPKI()
	for _, mt := range mediaTypes {
		for _, shape := range []string{"self-signed", "CA chain"} {
			t.Run(mt+"/"+shape, func(t *testing.T) {
				o := signOpts{expiry: time.Hour, tsa: tsa}
				if shape == "CA chain" {
					o.chain, o.key = pki.chain(), pki.leafKey
				}
				before := time.Now().Add(-time.Second)
				env, req := sign(t, mt, o)
				r, err := Inspect(env, Options{})
				if err != nil {
					t.Fatal(err)
				}
				checkReport(t, r, env, req)
				if ts := r.Timestamp; ts == nil || ts.Status != StatusUnchecked || !strings.Contains(ts.Detail, "no TSA root") {
					t.Errorf("timestamp without TSA roots: %+v", ts)
				}
				ts := r.Timestamp
				if ts.GenTime.Before(before.Truncate(time.Second)) || ts.GenTime.After(time.Now()) || ts.Accuracy != "1s" ||
					ts.HashAlgorithm != "SHA-256" || !ts.StampsSignature || ts.TSA == nil || !strings.Contains(ts.TSA.Subject, "notation-piv test TSA") {
					t.Errorf("timestamp: %+v (TSA %+v)", ts, ts.TSA)
				}

				r, err = Inspect(env, Options{TSARoots: tsa.Roots()})
				if err != nil {
					t.Fatal(err)
				}
				if r.Timestamp.Status != StatusValid {
					t.Errorf("timestamp with the TSA root: %s: %s", r.Timestamp.Status, r.Timestamp.Detail)
				}
				if r, _ = Inspect(env, Options{TSARoots: timestamptest.Start(t).Roots()}); r.Timestamp.Status != StatusInvalid || !strings.Contains(r.Timestamp.Detail, "trusted TSA root") {
					t.Errorf("timestamp with another TSA's root: %s: %s", r.Timestamp.Status, r.Timestamp.Detail)
				}
			})
		}
	}
}

// checkReport compares a report with the request an envelope was signed for.
func checkReport(t *testing.T, r *Report, env []byte, req envelope.SignRequest) {
	t.Helper()
	format := map[string]string{envelope.MediaTypeJWS: "jws", envelope.MediaTypeCOSE: "cose"}[r.MediaType]
	if format == "" || r.Format != format || r.Size != len(env) {
		t.Errorf("media type %q, format %q, size %d", r.MediaType, r.Format, r.Size)
	}
	if r.Integrity.Status != StatusValid {
		t.Errorf("integrity %s: %s", r.Integrity.Status, r.Integrity.Detail)
	}
	if len(r.Problems) != 0 {
		t.Errorf("problems: %q", r.Problems)
	}
	alg, _ := keyspec.Of(req.Chain[0].PublicKey)
	want := AlgorithmInfo{Name: alg.JWS, SigningAlgorithm: alg.SigningAlgorithm, KeySpec: alg.Name, LeafKeySpec: alg.Name, MatchesLeaf: true, Header: alg.JWS}
	if format == "cose" {
		want.Header = map[string]string{"ES256": "-7", "PS256": "-37"}[alg.JWS]
	}
	if r.Algorithm != want {
		t.Errorf("algorithm %+v, want %+v", r.Algorithm, want)
	}
	if r.SigningScheme != envelope.SigningScheme || r.ContentType != envelope.PayloadType || r.SigningAgent != req.SigningAgent {
		t.Errorf("scheme %q, content type %q, agent %q", r.SigningScheme, r.ContentType, r.SigningAgent)
	}
	if r.SigningTime == nil || !r.SigningTime.Equal(req.SigningTime) {
		t.Errorf("signing time %v, want %v", r.SigningTime, req.SigningTime)
	}
	if (r.Expiry == nil) != req.Expiry.IsZero() || (r.Expiry != nil && !r.Expiry.Equal(req.Expiry)) {
		t.Errorf("expiry %v, want %v", r.Expiry, req.Expiry)
	}
	wantCrit := []string{envelope.HeaderSigningScheme}
	if !req.Expiry.IsZero() {
		wantCrit = append(wantCrit, envelope.HeaderExpiry)
	}
	if !slices.Equal(slices.Sorted(slices.Values(r.Critical)), slices.Sorted(slices.Values(wantCrit))) {
		t.Errorf("critical %q, want %q", r.Critical, wantCrit)
	}
	names := map[string]HeaderInfo{}
	for _, h := range append(slices.Clone(r.ProtectedHeaders), r.UnprotectedHeaders...) {
		if h.Problem != "" || h.Meaning == "" {
			t.Errorf("header %+v", h)
		}
		names[h.Name] = h
	}
	for _, n := range []string{envelope.HeaderAlgorithm, envelope.HeaderCritical, envelope.HeaderContentType, envelope.HeaderSigningScheme,
		envelope.HeaderSigningTime, envelope.HeaderCertificateChain, envelope.HeaderSigningAgent} {
		if _, ok := names[n]; !ok {
			t.Errorf("no %s header in %+v", n, names)
		}
	}
	if h := names[envelope.HeaderSigningScheme]; !h.Critical || !strings.Contains(h.Value, envelope.SigningScheme) {
		t.Errorf("signing scheme header %+v", h)
	}
	if h := names[envelope.HeaderSigningTime]; !strings.Contains(h.Value, req.SigningTime.Format(time.RFC3339)) {
		t.Errorf("signing time header %+v, want %s", h, req.SigningTime.Format(time.RFC3339))
	}
	if d := r.Payload.TargetArtifact; d == nil || !reflect.DeepEqual(*d, testDescriptor) || r.Payload.Size != len(req.Payload) || r.Payload.Problem != "" {
		t.Errorf("payload %+v, descriptor %+v", r.Payload, d)
	}
	if r.SignatureSize == 0 {
		t.Error("no signature size")
	}
	if len(r.Certificates) != len(req.Chain) || !r.Chain.MeetsNotaryRules {
		t.Fatalf("%d certificates, chain %+v", len(r.Certificates), r.Chain)
	}
	for i, c := range r.Certificates {
		sum := sha256.Sum256(req.Chain[i].Raw)
		if c.SHA256 != hex.EncodeToString(sum[:]) || c.Subject != req.Chain[i].Subject.String() || !c.MeetsNotaryRules || len(c.Problems) != 0 ||
			!c.ValidNow || !c.ValidAtSigningTime || c.Index != i {
			t.Errorf("certificate %d: %+v", i, c)
		}
	}
	if len(req.Chain) == 1 && r.Certificates[0].Role != "self-signed leaf" || len(req.Chain) == 3 && r.Certificates[1].Role != "intermediate" {
		t.Errorf("roles: %+v", r.Certificates)
	}
	if b, err := json.Marshal(r); err != nil || !json.Valid(b) {
		t.Errorf("report does not encode: %v", err)
	}
}

// TestVerify checks each verdict of Verify on sound envelopes.
func TestVerify(t *testing.T) {
	tsa := timestamptest.Start(t)
	pki := newPKI()
	for _, mt := range mediaTypes {
		t.Run(mt, func(t *testing.T) {
			env, req := sign(t, mt, signOpts{chain: pki.chain(), key: pki.leafKey, expiry: time.Hour, tsa: tsa})
			artifact := &Artifact{Name: "the manifest", Digests: []string{testDescriptor.Digest}, Size: testDescriptor.Size}
			for _, tc := range []struct {
				name   string
				opts   VerifyOptions
				failed []string // names of the checks that must fail, in order
			}{
				{"trusted root", VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, TSARoots: tsa.Roots(), Artifact: artifact}, nil},
				{"trusted intermediate", VerifyOptions{TrustRoots: []*x509.Certificate{pki.intermediate}}, nil},
				{"other root", VerifyOptions{TrustRoots: []*x509.Certificate{fixtures.NewRoot("other root").Cert}}, []string{CheckChain}},
				{"expired signature", VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, Now: req.Expiry.Add(time.Second)}, []string{CheckExpiry}},
				{"expired certificate", VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, Now: pki.leaf.NotAfter.Add(time.Minute)}, []string{CheckExpiry}},
				{"wrong TSA root", VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, TSARoots: timestamptest.Start(t).Roots()}, []string{CheckTimestamp}},
				{"other digest", VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, Artifact: &Artifact{Name: "x", Digests: []string{"sha256:" + strings.Repeat("0", 64)}, Size: -1}}, []string{CheckArtifact}},
				{"other size", VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, Artifact: &Artifact{Name: "x", Digests: artifact.Digests, Size: 1}}, []string{CheckArtifact}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					v, err := Verify(env, tc.opts)
					if err != nil {
						t.Fatal(err)
					}
					expectFailed(t, v, tc.failed...)
				})
			}

			plain, _ := sign(t, mt, signOpts{chain: pki.chain(), key: pki.leafKey})
			v, _ := Verify(plain, VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}, TSARoots: tsa.Roots()})
			expectFailed(t, v, CheckTimestamp)
			v, _ = Verify(plain, VerifyOptions{TrustRoots: []*x509.Certificate{pki.root}})
			expectFailed(t, v)
			if c := v.Checks[5]; c.Name != CheckTimestamp || c.Status != Skipped {
				t.Errorf("timestamp check without a timestamp or TSA root: %+v", c)
			}
		})
	}
	if _, err := Verify(nil, VerifyOptions{}); err == nil {
		t.Error("Verify without trust roots did not fail")
	}
}

// TestVerifyTimestampOutlivesCertificate: with a verified timestamp, an
// expired certificate still verifies, as in notation verify.
func TestVerifyTimestampOutlivesCertificate(t *testing.T) {
	tsa := timestamptest.Start(t)
	key := fixtures.Key("short-lived")
	leaf := fixtures.SelfSigned(key, fixtures.ValidBetween(time.Now().Add(-time.Hour), time.Now().Add(time.Hour)))
	for _, mt := range mediaTypes {
		env, _ := sign(t, mt, signOpts{chain: []*x509.Certificate{leaf}, key: key, tsa: tsa})
		later := leaf.NotAfter.Add(time.Hour)
		v, _ := Verify(env, VerifyOptions{TrustRoots: []*x509.Certificate{leaf}, TSARoots: tsa.Roots(), Now: later})
		expectFailed(t, v)
		v, _ = Verify(env, VerifyOptions{TrustRoots: []*x509.Certificate{leaf}, Now: later})
		expectFailed(t, v, CheckExpiry)
	}
}

// expectFailed checks that exactly the named checks failed, and that the
// checks come in their documented order.
func expectFailed(t *testing.T, v *Verification, names ...string) {
	t.Helper()
	order := []string{CheckFormat, CheckIntegrity, CheckEnvelope, CheckChain, CheckExpiry, CheckTimestamp, CheckArtifact, CheckAttestation}
	var got []string
	for i, c := range v.Checks {
		if i >= len(order) || c.Name != order[i] {
			t.Fatalf("check %d is %q", i, c.Name)
		}
		if c.Detail == "" {
			t.Errorf("check %s has no detail", c.Name)
		}
	}
	for _, c := range v.Failed() {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, names) || v.Verified != (len(names) == 0) {
		t.Errorf("failed checks %q (verified %v), want %q", got, v.Verified, names)
		for _, c := range v.Checks {
			t.Logf("%s %s: %s", c.Status, c.Name, c.Detail)
		}
	}
}

// TestTamper changes each part of envelopes of both formats and chain
// shapes: Verify must fail the check that guards that part and no other,
// and Inspect must still show the envelope with its integrity verdict.
func TestTamper(t *testing.T) {
	pki := newPKI()
	want := map[envelopetest.Part]struct {
		check     string
		integrity string
	}{
		envelopetest.Payload:     {CheckIntegrity, StatusInvalid},
		envelopetest.SigningTime: {CheckIntegrity, StatusInvalid},
		envelopetest.Signature:   {CheckIntegrity, StatusInvalid},
		envelopetest.Chain:       {CheckChain, StatusValid},
	}
	for _, mt := range mediaTypes {
		for _, shape := range []string{"self-signed", "CA chain"} {
			o, root := signOpts{}, pki.root
			if shape == "CA chain" {
				o.chain, o.key = pki.chain(), pki.leafKey
			}
			env, req := sign(t, mt, o)
			if shape == "self-signed" {
				root = req.Chain[0]
			}
			for _, part := range envelopetest.Parts {
				t.Run(mt+"/"+shape+"/"+part.String(), func(t *testing.T) {
					bad, err := envelopetest.Tamper(mt, env, part)
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Equal(bad, env) {
						t.Fatal("Tamper changed nothing")
					}
					v, err := Verify(bad, VerifyOptions{TrustRoots: []*x509.Certificate{root}})
					if err != nil {
						t.Fatal(err)
					}
					expectFailed(t, v, want[part].check)
					r, err := Inspect(bad, Options{})
					if err != nil {
						t.Fatalf("Inspect of a tampered envelope: %v", err)
					}
					if r.Integrity.Status != want[part].integrity {
						t.Errorf("integrity %s (%s), want %s", r.Integrity.Status, r.Integrity.Detail, want[part].integrity)
					}
					if part == envelopetest.Chain && r.Chain.MeetsNotaryRules {
						t.Error("a tampered certificate meets the chain rules")
					}
				})
			}
		}
	}
}

// TestHostile feeds inputs no envelope looks like, and every prefix of
// real envelopes: Inspect and Verify must answer without panicking, with
// an error for non-envelopes and failed checks for broken ones.
func TestHostile(t *testing.T) {
	root := []*x509.Certificate{newPKI().root}
	for _, tc := range []struct {
		name, input, err string
	}{
		{"empty", "", "empty"},
		{"huge", "{" + strings.Repeat(" ", envelope.MaxEnvelopeSize), "more than the limit"},
		{"garbage", "\x00\x01garbage", "neither a JWS"},
		{"text", "hello", "neither a JWS"},
		{"JSON array", "[1,2]", "neither a JWS"},
		{"empty object", "{}", "not a flattened JWS"},
		{"other object", `{"a":1}`, "not a flattened JWS"},
		{"bad JSON", `{"protected":`, "read jws envelope"},
		{"other CBOR tag", "\xc1\x1a\x00\x00\x00\x01", "want 18"},
		{"COSE_Sign1 of three", "\xd2\x83\x40\xa0\x40", "array of four"},
		{"truncated CBOR", "\xd2\x84\x43", "read cose envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Inspect([]byte(tc.input), Options{}); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Inspect error %v, want it to contain %q", err, tc.err)
			}
			v, err := Verify([]byte(tc.input), VerifyOptions{TrustRoots: root})
			if err != nil {
				t.Fatal(err)
			}
			expectFailed(t, v, CheckFormat)
		})
	}
	tsa := timestamptest.Start(t)
	for _, mt := range mediaTypes {
		env, _ := sign(t, mt, signOpts{expiry: time.Hour, tsa: tsa})
		for n := range len(env) {
			if r, err := Inspect(env[:n], Options{TSARoots: tsa.Roots()}); err == nil && r.Integrity.Status == StatusValid {
				t.Errorf("%s cut to %d bytes has a valid signature", mt, n)
			}
		}
	}
}

// TestShapes reads well-formed envelopes that break the Notary rules in
// their structure: each problem must be named.
func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		name, env, problem string
	}{
		{"JWS without signature", `{"protected":"e30","payload":"e30"}`, `the "signature" member is missing`},
		{"JWS with unknown member", `{"protected":"e30","payload":"e30","signature":"AA","extra":1}`, `unknown member "extra"`},
		{"JWS protected not base64url", `{"protected":"!!","payload":"e30","signature":"AA"}`, "not base64url"},
		{"JWS protected not JSON", `{"protected":"AAAA","payload":"e30","signature":"AA"}`, "protected header is not a JSON object"},
		{"JWS crit absent header", `{"protected":"eyJjcml0IjpbIngiXX0","payload":"e30","signature":"AA"}`, `"x" is marked critical but not present`},
		{"JWS no chain", `{"protected":"e30","payload":"e30","signature":"AA"}`, "no certificate chain"},
		{"COSE detached payload", "\xd2\x84\x40\xa0\xf6\x41\x00", "detached"},
		{"COSE protected not a byte string", "\xd2\x84\x01\xa0\x40\x41\x00", "protected header is not a CBOR byte string"},
		{"COSE bare x5chain", "\xd2\x84\x40\xa1\x18\x21\x41\x00\x40\x41\x00", "no certificate chain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Inspect([]byte(tc.env), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Errorf("problems %q lack %q", r.Problems, tc.problem)
			}
			if r.Integrity.Status == StatusValid {
				t.Error("integrity is valid")
			}
		})
	}
}

// TestCertificateRules checks the per-certificate verdicts against
// notation-core-go's verdict on the whole chain: a chain passes
// ValidateCodeSigningCertChain exactly when no certificate has a problem,
// and the broken certificate is the one flagged.
func TestCertificateRules(t *testing.T) {
	root := fixtures.NewRoot("test root")
	inter := root.NewIntermediate("test intermediate")
	leafKey := fixtures.Key("leaf")
	leaf := func(opts ...fixtures.Option) *x509.Certificate { return inter.Issue(leafKey.Public(), opts...) }
	selfLeaf := func(opts ...fixtures.Option) *x509.Certificate { return fixtures.SelfSigned(leafKey, opts...) }
	good := leaf()
	noCertSign := root.NewIntermediate("test intermediate", fixtures.KeyUsage(x509.KeyUsageCRLSign))
	rootPathLen0, err := fixtures.Issue(fixtures.CATemplate("test root", fixtures.PathLen(0)), root.Key.Public(), nil, root.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		bad   int // index of the broken certificate, -1 for none
	}{
		{"good chain", []*x509.Certificate{good, inter.Cert, root.Cert}, -1},
		{"good self-signed", []*x509.Certificate{selfLeaf()}, -1},
		{"good with codeSigning and nonRepudiation", []*x509.Certificate{leaf(fixtures.KeyUsage(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment),
			fixtures.ExtKeyUsage(x509.ExtKeyUsageCodeSigning)), inter.Cert, root.Cert}, -1},
		{"leaf is a CA", []*x509.Certificate{leaf(fixtures.AsCA, fixtures.KeyUsage(x509.KeyUsageDigitalSignature)), inter.Cert, root.Cert}, 0},
		{"leaf key usage not critical", []*x509.Certificate{leaf(fixtures.NonCriticalKeyUsage), inter.Cert, root.Cert}, 0},
		{"leaf without key usage", []*x509.Certificate{leaf(fixtures.KeyUsage(0)), inter.Cert, root.Cert}, 0},
		{"leaf with keyEncipherment", []*x509.Certificate{leaf(fixtures.KeyUsage(x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment)), inter.Cert, root.Cert}, 0},
		{"leaf without digitalSignature", []*x509.Certificate{leaf(fixtures.KeyUsage(x509.KeyUsageContentCommitment)), inter.Cert, root.Cert}, 0},
		{"leaf with serverAuth", []*x509.Certificate{leaf(fixtures.ServerAuth), inter.Cert, root.Cert}, 0},
		{"leaf with timeStamping", []*x509.Certificate{selfLeaf(fixtures.ExtKeyUsage(x509.ExtKeyUsageTimeStamping))}, 0},
		{"RSA-1024 leaf", []*x509.Certificate{inter.Issue(fixtures.Key("RSA-1024").Public()), inter.Cert, root.Cert}, 0},
		{"leaf alone, not self-signed", []*x509.Certificate{good}, 0},
		{"self-signed leaf with a chain", []*x509.Certificate{selfLeaf(), inter.Cert, root.Cert}, 0},
		{"chain out of order", []*x509.Certificate{good, root.Cert, inter.Cert}, 0},
		{"root missing", []*x509.Certificate{good, inter.Cert}, 1},
		{"intermediate without keyCertSign", []*x509.Certificate{noCertSign.Issue(leafKey.Public()), noCertSign.Cert, root.Cert}, 1},
		{"root with path length 0 above an intermediate", []*x509.Certificate{good, inter.Cert, rootPathLen0}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			coreErr := nx509.ValidateCodeSigningCertChain(tc.chain, nil)
			var flagged []int
			for i := range tc.chain {
				if p := certProblems(tc.chain, i); len(p) > 0 {
					flagged = append(flagged, i)
					t.Logf("certificate %d: %q", i, p)
				}
			}
			if (coreErr == nil) != (len(flagged) == 0) {
				t.Errorf("notation-core-go says %v, the certificate rules flag %v", coreErr, flagged)
			}
			if tc.bad >= 0 && !slices.Contains(flagged, tc.bad) || tc.bad < 0 && flagged != nil {
				t.Errorf("flagged certificates %v, want %d", flagged, tc.bad)
			}
		})
	}
}
