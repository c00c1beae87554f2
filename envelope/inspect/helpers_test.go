package inspect

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/timestamp"
	"github.com/notation-piv/notation-piv/timestamp/timestamptest"
)

// formats are the envelope formats under test, by media type.
var formats = map[string]envelope.Format{
	envelope.MediaTypeJWS:  jws.Format{},
	envelope.MediaTypeCOSE: cose.Format{},
}

// testKey returns a cached key: "RSA-1024", "RSA-2048", or a P-256 key for
// any other name.
var testKey = envelopetest.Key

// certOpts shape a test certificate; the zero value is a Notary signing
// leaf valid from an hour ago for a day.
type certOpts struct {
	ca          bool
	pathLen     int // for CAs: -1 none
	name        string
	notBefore   time.Time
	notAfter    time.Time
	keyUsage    x509.KeyUsage
	nonCritKU   bool // leave the key usage extension non-critical
	noKU        bool
	extKeyUsage []x509.ExtKeyUsage
}

// issue makes a certificate for key, signed by parent's key (self-signed
// when parent is nil).
func issue(t testing.TB, key crypto.Signer, o certOpts, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if o.name == "" {
		o.name = "notation-piv inspect test signer"
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"notation-piv"}, CommonName: o.name},
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  o.ca,
		ExtKeyUsage:           o.extKeyUsage,
	}
	switch {
	case o.ca && o.pathLen >= 0:
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = o.pathLen, o.pathLen == 0
	case o.ca:
		tmpl.MaxPathLen = -1
	}
	ku := o.keyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature
		if o.ca {
			ku = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
	}
	if !o.noKU {
		ext, err := keyUsageExtension(ku, !o.nonCritKU)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	if parent == nil {
		parentKey = key
	}
	return envelopetest.Certificate(t, tmpl, key.Public(), parent, parentKey)
}

// keyUsageExtension encodes a key usage extension (RFC 5280 §4.2.1.3),
// critical or not: Go always marks the one it writes critical.
func keyUsageExtension(ku x509.KeyUsage, critical bool) (pkix.Extension, error) {
	var bits [2]byte
	n := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			bits[i/8] |= 0x80 >> (i % 8)
			n = i + 1
		}
	}
	bs := asn1.BitString{Bytes: bits[:(n+7)/8], BitLength: n}
	b, err := asn1.Marshal(bs)
	return pkix.Extension{Id: oidKeyUsage, Critical: critical, Value: b}, err
}

// testPKI is a root, an intermediate and a leaf issued by it.
type testPKI struct {
	root, intermediate, leaf *x509.Certificate
	leafKey                  crypto.Signer
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	rootKey, interKey, leafKey := testKey(t, "root"), testKey(t, "intermediate"), testKey(t, "leaf")
	root := issue(t, rootKey, certOpts{ca: true, pathLen: -1, name: "test root"}, nil, nil)
	inter := issue(t, interKey, certOpts{ca: true, pathLen: 0, name: "test intermediate"}, root, rootKey)
	leaf := issue(t, leafKey, certOpts{}, inter, interKey)
	return &testPKI{root: root, intermediate: inter, leaf: leaf, leafKey: leafKey}
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
		o.key = testKey(t, "self-signed")
		o.chain = []*x509.Certificate{issue(t, o.key, certOpts{}, nil, nil)}
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
