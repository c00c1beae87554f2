package inspect

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/timestamp"
)

// formats are the envelope formats under test, by media type.
var formats = map[string]envelope.Format{
	envelope.MediaTypeJWS:  jws.Format{},
	envelope.MediaTypeCOSE: cose.Format{},
}

// testPKI is a leaf, its key and its chain under the shared CAs of
// package fixtures.
type testPKI struct {
	root, intermediate, leaf *x509.Certificate
	leafKey                  crypto.Signer
}

func newPKI() *testPKI {
	key := fixtures.Key("leaf")
	chain := fixtures.Chain(key.Public())
	return &testPKI{root: chain[2], intermediate: chain[1], leaf: chain[0], leafKey: key}
}

func (p *testPKI) chain() []*x509.Certificate {
	return []*x509.Certificate{p.leaf, p.intermediate, p.root}
}

// testDescriptor is the artifact the test envelopes sign.
var testDescriptor = envelope.Descriptor{
	MediaType:   "application/vnd.oci.image.manifest.v1+json",
	Digest:      "sha256:0f3ab8e9a4b9c5bd2ad1e4ff3bd0b8b52ef7f9c4e0e1b9a3d1a0c9c7f4c1d6e2",
	Size:        942,
	Annotations: map[string]string{"io.example/x": "<&>"},
}

// signOpts shape a test envelope.
type signOpts struct {
	chain  []*x509.Certificate // default: a self-signed EC-256 leaf
	key    crypto.Signer
	expiry time.Duration
	tsa    *timestamptest.TSA
}

// sign builds an envelope with the project's own formats.
func sign(t testing.TB, mediaType string, o signOpts) ([]byte, envelope.SignRequest) {
	t.Helper()
	if o.chain == nil {
		o.key = fixtures.Key("self-signed")
		o.chain = []*x509.Certificate{fixtures.SelfSigned(o.key)}
	}
	payload, err := envelope.NewPayload(testDescriptor)
	if err != nil {
		t.Fatal(err)
	}
	req := envelope.SignRequest{
		Payload:      payload,
		Signer:       o.key,
		Chain:        o.chain,
		SigningTime:  time.Now(),
		SigningAgent: "notation-piv/test",
	}
	if o.expiry != 0 {
		req.Expiry = req.SigningTime.Add(o.expiry)
	}
	if o.tsa != nil {
		cfg := timestamp.Config{URL: o.tsa.URL, Roots: o.tsa.Roots()}
		req.TSARoots = o.tsa.Roots()
		req.Timestamp = func(sig []byte, h crypto.Hash) ([]byte, error) {
			return cfg.Stamp(t.Context(), sig, h)
		}
	}
	env, err := formats[mediaType].Sign(req)
	if err != nil {
		t.Fatal(err)
	}
	req.SigningTime = req.SigningTime.UTC().Truncate(time.Second)
	req.Expiry = req.Expiry.UTC().Truncate(time.Second)
	return env, req
}
