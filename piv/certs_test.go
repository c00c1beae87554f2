package piv

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// testCA is a CA that certifies the keys of the tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newTestCA returns a self-signed CA named name, with a key of its own.
func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key := envelopetest.Key(t, "piv "+name)
	return &testCA{cert: envelopetest.Certificate(t, envelopetest.CATemplate(name), key.Public(), nil, key), key: key}
}

// issue returns a Notary code-signing certificate named name for pub, or
// for a new P-256 key if pub is nil.
func (ca *testCA) issue(t *testing.T, name string, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	if pub == nil {
		pub = envelopetest.Key(t, "piv leaf "+name+" "+t.Name()).Public()
	}
	named := func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: name} }
	return envelopetest.Certificate(t, envelopetest.LeafTemplate(named), pub, ca.cert, ca.key)
}
