package envelopetest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
)

// Decoder is a format package's Decode function.
type Decoder func(env []byte) (*envelope.Decoded, error)

// NotationEnvelopes reads the envelopes of one format ("jws" or "cose")
// that stock notation v1.3.2 made, with and without a timestamp, from
// dir (envelope/testdata/notation-v1.3.2; see its README.md).
func NotationEnvelopes(t testing.TB, dir, format string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{format + ".sig", format + "-timestamped.sig"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// CheckDecode signs a request with format, an EC-256 key and a
// self-signed chain, and checks that decode reads every field back; then
// that decode reads the envelopes of stock notation as notation-core-go
// does.
func CheckDecode(t *testing.T, format envelope.Format, decode Decoder, notation [][]byte) {
	t.Helper()
	key := Key(t, "EC-256")
	chain := SelfSigned(t, key)
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
	for _, env := range notation {
		if _, err := coreVerify(format.MediaType(), env); err != nil {
			t.Fatalf("notation-core-go rejects an envelope of notation: %v", err)
		}
		CheckAgainstCore(t, format.MediaType(), decode, env)
	}
}

// CheckAgainstCore checks that an envelope notation-core-go verifies
// decodes without a problem into what notation-core-go reads. Envelopes
// notation-core-go rejects are not checked.
func CheckAgainstCore(t *testing.T, mediaType string, decode Decoder, env []byte) {
	t.Helper()
	content, err := coreVerify(mediaType, env)
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

// coreVerify parses and verifies env with notation-core-go alone.
func coreVerify(mediaType string, env []byte) (*signature.EnvelopeContent, error) {
	e, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		return nil, err
	}
	return e.Verify()
}
