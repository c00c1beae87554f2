package envelope_test

import (
	"crypto"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// leaf returns a self-signed Notary code-signing certificate for key,
// valid from an hour ago to a day from now, named "CN=build test".
func leaf(key crypto.Signer) *x509.Certificate {
	return fixtures.SelfSigned(key, fixtures.Name("build test"))
}

// TestBuildSelfCheck hands Build an encoder that signs something other than
// what was requested: the self-check must refuse every such envelope, even
// though each one verifies on its own.
func TestBuildSelfCheck(t *testing.T) {
	key := fixtures.Key("EC-256")
	req := envelope.SignRequest{
		Payload:      []byte(`{"targetArtifact":{}}`),
		Signer:       key,
		Chain:        []*x509.Certificate{leaf(key)},
		SigningTime:  time.Now().Add(-time.Minute),
		Expiry:       time.Now().Add(time.Minute),
		SigningAgent: "notation-piv/test",
	}
	honest := func(r envelope.SignRequest, _ keyspec.Spec) ([]byte, error) { return jws.Format{}.Sign(r) }
	if _, err := envelope.Build(envelope.MediaTypeJWS, req, honest); err != nil {
		t.Fatalf("honest encoder: %v", err)
	}
	otherCert := leaf(key) // same key, different certificate
	for _, tc := range []struct {
		name string
		lie  func(*envelope.SignRequest)
		want string
	}{
		{"payload", func(r *envelope.SignRequest) { r.Payload = []byte(`{"targetArtifact":{"size":1}}`) }, "the signed payload differs"},
		{"signing time", func(r *envelope.SignRequest) { r.SigningTime = r.SigningTime.Add(-time.Second) }, "signing time is"},
		{"expiry", func(r *envelope.SignRequest) { r.Expiry = time.Time{} }, "expiry is"},
		{"signing agent", func(r *envelope.SignRequest) { r.SigningAgent = "other" }, `signing agent is "other"`},
		{"chain", func(r *envelope.SignRequest) { r.Chain = []*x509.Certificate{otherCert} }, "certificate 0 of the envelope differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lying := func(r envelope.SignRequest, _ keyspec.Spec) ([]byte, error) {
				tc.lie(&r)
				return jws.Format{}.Sign(r)
			}
			_, err := envelope.Build(envelope.MediaTypeJWS, req, lying)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "self-check") {
				t.Errorf("Build error = %v, want a self-check error containing %q", err, tc.want)
			}
		})
	}
	// An encoder for another media type than the one Build checks.
	if _, err := envelope.Build(envelope.MediaTypeCOSE, req, honest); err == nil {
		t.Error("Build accepted a JWS envelope as COSE")
	}
}

// TestVerifyNotaryRules feeds Verify envelopes that notation-core-go signs
// and verifies but that break the rules Verify adds.
func TestVerifyNotaryRules(t *testing.T) {
	key := fixtures.Key("EC-256")
	signer, err := signature.NewLocalSigner([]*x509.Certificate{leaf(key)}, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, contentType string
		scheme            signature.SigningScheme
		want              string
	}{
		{"notary payload", envelope.PayloadType, signature.SigningSchemeX509, ""},
		{"other payload type", "application/json", signature.SigningSchemeX509,
			`payload content type is "application/json", want "application/vnd.cncf.notary.payload.v1+json"`},
		{"signing authority scheme", envelope.PayloadType, signature.SigningSchemeX509SigningAuthority,
			`signing scheme is "notary.x509.signingAuthority", want "notary.x509"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := signature.NewEnvelope(envelope.MediaTypeJWS)
			if err != nil {
				t.Fatal(err)
			}
			env, err := e.Sign(&signature.SignRequest{
				Payload:       signature.Payload{ContentType: tc.contentType, Content: []byte(`{"targetArtifact":{}}`)},
				Signer:        signer,
				SigningTime:   time.Now(),
				SigningScheme: tc.scheme,
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = envelope.Verify(envelope.MediaTypeJWS, env)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

var registerJWS sync.Once

// TestRegisterJWS registers the JWS format as the command does and looks
// both media types up.
func TestRegisterJWS(t *testing.T) {
	registerJWS.Do(func() { envelope.Register(jws.Format{}) })
	f, err := envelope.Lookup(envelope.MediaTypeJWS)
	if err != nil || f.MediaType() != envelope.MediaTypeJWS {
		t.Fatalf("Lookup(jws) = %v, %v", f, err)
	}
	if got := envelope.MediaTypes(); len(got) != 1 || got[0] != envelope.MediaTypeJWS {
		t.Errorf("MediaTypes() = %q", got)
	}
	_, err = envelope.Lookup(envelope.MediaTypeCOSE)
	if want := `unsupported signature envelope type "application/cose": use one of application/jose+json`; err == nil || err.Error() != want {
		t.Errorf("Lookup(cose) error = %v, want %q", err, want)
	}
}

// TestBuildAttributes signs critical extended attributes with each format:
// notation-core-go reads each one back, critical, with its string value,
// and Build refuses attributes that would collide with the Notary headers.
func TestBuildAttributes(t *testing.T) {
	attrs := []envelope.Attribute{
		{Key: "io.cncf.notary.verificationPlugin", Value: "piv"},
		{Key: "io.cncf.notary.verificationPluginMinVersion", Value: "0.2.0"},
		{Key: "io.github.notation-piv.attestation", Value: "AAAA,BBBB"},
	}
	for _, f := range []envelope.Format{jws.Format{}, cose.Format{}} {
		t.Run(f.MediaType(), func(t *testing.T) {
			env, _ := envelopetest.Sign(t, f, func(r *envelope.SignRequest) { r.Attributes = attrs })
			content, err := envelopetest.CoreVerify(f.MediaType(), env)
			if err != nil {
				t.Fatal(err)
			}
			got := map[any]signature.Attribute{}
			for _, a := range content.SignerInfo.SignedAttributes.ExtendedAttributes {
				got[a.Key] = a
			}
			if len(got) != len(attrs) {
				t.Errorf("extended attributes = %v, want %d", got, len(attrs))
			}
			for _, a := range attrs {
				if g := got[a.Key]; !g.Critical || g.Value != a.Value {
					t.Errorf("attribute %s = %+v, want critical %q", a.Key, g, a.Value)
				}
			}
			for _, bad := range [][]envelope.Attribute{
				{{Key: "io.cncf.notary.signingTime", Value: "x"}},
				{attrs[0], attrs[0]},
				{{Value: "x"}},
			} {
				key := fixtures.Key("EC-256")
				req := envelope.SignRequest{Payload: envelopetest.NotaryPayload, Signer: key, Chain: []*x509.Certificate{leaf(key)}, SigningTime: time.Now(), Attributes: bad}
				if _, err := f.Sign(req); err == nil || !strings.Contains(err.Error(), "extended attribute") {
					t.Errorf("Sign with attributes %v: error %v, want a refusal", bad, err)
				}
			}
		})
	}
}
