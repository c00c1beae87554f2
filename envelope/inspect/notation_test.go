package inspect

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/fixtures/recorded"
)

// signatureManifest is what notation wrote beside an envelope: its view of
// the signature.
type signatureManifest struct {
	Subject     envelope.Descriptor `json:"subject"`
	Layers      []struct{ MediaType string }
	Annotations map[string]string `json:"annotations"`
}

// TestNotationEnvelopes reads the envelopes stock notation v1.3.2 made and
// checks every field against notation's own view: the signature manifest
// (its subject, its thumbprint and creation-time annotations, its layer's
// media type), the signed artifact and the generate-test certificate.
// Verify accepts them with that certificate as the trust root, at their
// signing time (the certificate lived for a day), and names the right
// check for each tampered part.
func TestNotationEnvelopes(t *testing.T) {
	signer := recorded.Signer()
	tsaRoots := x509.NewCertPool()
	tsaRoots.AddCert(recorded.TSARoot())
	artifact := recorded.Artifact()
	sum := sha256.Sum256(artifact)
	artifactDigest := "sha256:" + hex.EncodeToString(sum[:])
	for _, name := range recorded.Envelopes {
		t.Run(name, func(t *testing.T) {
			env := recorded.Envelope(name)
			var man signatureManifest
			if err := json.Unmarshal(recorded.SignatureManifest(name), &man); err != nil {
				t.Fatal(err)
			}
			created, err := time.Parse(time.RFC3339, man.Annotations["org.opencontainers.image.created"])
			if err != nil {
				t.Fatal(err)
			}
			var thumbprints []string
			if err := json.Unmarshal([]byte(man.Annotations["io.cncf.notary.x509chain.thumbprint#S256"]), &thumbprints); err != nil {
				t.Fatal(err)
			}
			stamped := strings.HasSuffix(name, "-timestamped")
			opts := Options{Now: created}
			if stamped {
				opts.TSARoots = tsaRoots
			}
			r, err := Inspect(env, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.MediaType != man.Layers[0].MediaType || r.Integrity.Status != StatusValid || len(r.Problems) != 0 || !r.Chain.MeetsNotaryRules {
				t.Errorf("media type %s (layer %s), integrity %+v, problems %q, chain %+v", r.MediaType, man.Layers[0].MediaType, r.Integrity, r.Problems, r.Chain)
			}
			if r.SigningTime == nil || !r.SigningTime.Equal(created) || r.SigningAgent != "notation-go/1.3.2" {
				t.Errorf("signing time %v (notation: %v), agent %q", r.SigningTime, created, r.SigningAgent)
			}
			if a := r.Algorithm; a.Name != "PS256" || a.KeySpec != "RSA-2048" || !a.MatchesLeaf {
				t.Errorf("algorithm %+v", a)
			}
			d := r.Payload.TargetArtifact
			if d == nil || d.Digest != man.Subject.Digest || d.Size != man.Subject.Size || d.MediaType != man.Subject.MediaType ||
				d.Digest != artifactDigest || d.Size != int64(len(artifact)) {
				t.Errorf("target artifact %+v, notation's subject %+v, artifact %s %d", d, man.Subject, artifactDigest, len(artifact))
			}
			if !stamped && d.Annotations["io.example.build"] != "42" {
				t.Errorf("annotations %v lack the user metadata", d.Annotations)
			}
			var got []string
			for _, c := range r.Certificates {
				got = append(got, c.SHA256)
			}
			if !slices.Equal(got, thumbprints) || len(r.Certificates) != 1 || r.Certificates[0].Subject != signer.Subject.String() {
				t.Errorf("thumbprints %q, notation's %q; certificates %+v", got, thumbprints, r.Certificates)
			}
			if stamped != (r.Timestamp != nil) || stamped && (r.Timestamp.Status != StatusValid || r.Timestamp.HashAlgorithm != "SHA-256" ||
				r.Timestamp.GenTime.Sub(created).Abs() > 5*time.Second || r.Timestamp.TSA == nil) {
				t.Errorf("timestamp %+v", r.Timestamp)
			}

			vopts := VerifyOptions{TrustRoots: []*x509.Certificate{signer}, TSARoots: opts.TSARoots, Now: created,
				Artifact: &Artifact{Name: "artifact.json", Digests: []string{artifactDigest}, Size: int64(len(artifact))}}
			v, err := Verify(env, vopts)
			if err != nil {
				t.Fatal(err)
			}
			expectFailed(t, v)
			for _, part := range envelopetest.Parts {
				bad, err := envelopetest.Tamper(r.MediaType, env, part)
				if err != nil {
					t.Fatal(err)
				}
				v, _ := Verify(bad, vopts)
				want := CheckIntegrity
				if part == envelopetest.Chain {
					want = CheckChain
				}
				if failed := v.Failed(); len(failed) == 0 || failed[0].Name != want {
					t.Errorf("tampered %s: failed checks %+v, want %s first", part, failed, want)
				}
			}
		})
	}
}
