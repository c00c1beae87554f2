package envelopetest

import (
	"bytes"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/recorded"
)

// names are the names of the formats in fixtures/recorded, by media type.
var names = map[string]string{envelope.MediaTypeJWS: "jws", envelope.MediaTypeCOSE: "cose"}

// NotationEnvelopes returns the envelopes of mediaType that stock
// notation v1.3.2 made, without and with a timestamp (fixtures/recorded).
func NotationEnvelopes(mediaType string) [][]byte {
	name := names[mediaType]
	return [][]byte{recorded.Envelope(name), recorded.Envelope(name + "-timestamped")}
}

// Sign signs NotaryPayload with format, the EC-256 key of fixtures and a
// self-signed leaf, now, without an expiry or a signing agent; change, if
// not nil, changes the request first. It returns the envelope and the
// request.
func Sign(t testing.TB, format envelope.Format, change func(*envelope.SignRequest)) ([]byte, envelope.SignRequest) {
	t.Helper()
	key := fixtures.Key("EC-256")
	req := envelope.SignRequest{Payload: NotaryPayload, Signer: key, Chain: []*x509.Certificate{fixtures.SelfSigned(key)}, SigningTime: time.Now()}
	if change != nil {
		change(&req)
	}
	env, err := format.Sign(req)
	if err != nil {
		t.Fatal(err)
	}
	return env, req
}

// Sample signs a small envelope with format, an EC-256 key and a
// self-signed leaf, with an expiry and a signing agent: every header, in
// under 1 KiB, a seed for fuzz targets.
func Sample(t testing.TB, format envelope.Format) []byte {
	t.Helper()
	env, _ := Sign(t, format, func(r *envelope.SignRequest) {
		r.Payload, r.Expiry, r.SigningAgent = []byte(`{"targetArtifact":{}}`), r.SigningTime.Add(time.Hour), Agent
	})
	return env
}

// CheckDecode signs a request with format, an EC-256 key and a
// self-signed chain, and checks that decode reads every field back; then
// that decode reads the envelopes of stock notation as notation-core-go
// does.
func CheckDecode(t *testing.T, format envelope.Format, decode Decoder) {
	t.Helper()
	key := fixtures.Key("EC-256")
	chain := []*x509.Certificate{fixtures.SelfSigned(key)}
	const agent = "notation-piv/test"
	payload := []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5e1ad14c87a9fb1a7333811d393dd3ba167fcb659c44aed0bbb5b9ada0c94cd9","size":406}}`)
	signingTime := time.Now().UTC().Truncate(time.Second)
	env, err := format.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: chain, SigningTime: signingTime,
		Expiry: signingTime.Add(time.Hour), SigningAgent: agent})
	if err != nil {
		t.Fatal(err)
	}
	d, err := decode(env)
	if err != nil {
		t.Fatal(err)
	}
	if d.MediaType != format.MediaType() || d.Algorithm == nil || d.Algorithm.Name != "EC-256" || !bytes.Equal(d.Payload, payload) ||
		!d.SigningTime.Equal(signingTime) || !d.Expiry.Equal(signingTime.Add(time.Hour)) || d.SigningAgent != agent ||
		d.ContentType != envelope.PayloadType || d.SigningScheme != envelope.SigningScheme || len(d.Problems) != 0 ||
		len(d.Certificates) != 1 || !bytes.Equal(d.Certificates[0], chain[0].Raw) || len(d.Signature) != 64 || d.Timestamp != nil ||
		!slices.Equal(slices.Sorted(slices.Values(d.Critical)), []string{envelope.HeaderExpiry, envelope.HeaderSigningScheme}) {
		t.Errorf("decoded %+v", d)
	}
	for _, h := range append(slices.Clone(d.Protected), d.Unprotected...) {
		if h.Name == "" || h.Problem != "" || h.Value == "" {
			t.Errorf("header %+v", h)
		}
	}
	for _, env := range NotationEnvelopes(format.MediaType()) {
		if _, err := CoreVerify(format.MediaType(), env); err != nil {
			t.Fatalf("notation-core-go rejects an envelope of notation: %v", err)
		}
		CheckAgainstCore(t, format.MediaType(), decode, env)
	}
}

// FuzzDecode feeds mutations of real envelopes of format (stock notation
// v1.3.2's, with and without a timestamp, and a Sample) to decode: it must
// not panic, must return a result or an error, and must decode every
// envelope notation-core-go verifies into what notation-core-go reads.
func FuzzDecode(f *testing.F, format envelope.Format, decode Decoder) {
	for _, env := range NotationEnvelopes(format.MediaType()) {
		f.Add(env)
	}
	f.Add(Sample(f, format))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decode(b)
		if (d == nil) == (err == nil) {
			t.Fatalf("Decode returned %v and error %v", d, err)
		}
		CheckAgainstCore(t, format.MediaType(), decode, b)
	})
}

// CheckAgainstCore checks that an envelope notation-core-go verifies
// decodes without a problem into what notation-core-go reads. Envelopes
// notation-core-go rejects are not checked.
func CheckAgainstCore(t *testing.T, mediaType string, decode Decoder, env []byte) {
	t.Helper()
	content, err := CoreVerify(mediaType, env)
	if err != nil {
		return
	}
	d, err := decode(env)
	if err != nil {
		t.Fatalf("notation-core-go verifies the envelope, Decode fails: %v", err)
	}
	info := content.SignerInfo
	if len(d.Problems) != 0 || !bytes.Equal(d.Payload, content.Payload.Content) || d.ContentType != content.Payload.ContentType ||
		!d.SigningTime.Equal(info.SignedAttributes.SigningTime) || !d.Expiry.Equal(info.SignedAttributes.Expiry) ||
		d.SigningScheme != string(info.SignedAttributes.SigningScheme) || !bytes.Equal(d.Signature, info.Signature) ||
		d.SigningAgent != info.UnsignedAttributes.SigningAgent || !bytes.Equal(d.Timestamp, info.UnsignedAttributes.TimestampSignature) ||
		len(d.Certificates) != len(info.CertificateChain) || d.Algorithm == nil {
		t.Fatalf("notation-core-go reads %+v, Decode %+v", content, d)
	}
	for i, c := range info.CertificateChain {
		if !bytes.Equal(d.Certificates[i], c.Raw) {
			t.Fatalf("certificate %d differs", i)
		}
	}
}

// CoreVerify parses and verifies env with notation-core-go alone, as
// notation does before it accepts a plugin's envelope.
func CoreVerify(mediaType string, env []byte) (*signature.EnvelopeContent, error) {
	e, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		return nil, err
	}
	return e.Verify()
}
