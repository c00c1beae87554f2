package certchain

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// testCert is a certificate with its private key, for tests.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certOpt changes a certificate template before it is signed.
type certOpt func(*x509.Certificate)

// validity sets the validity period.
func validity(notBefore, notAfter time.Time) certOpt {
	return func(t *x509.Certificate) { t.NotBefore, t.NotAfter = notBefore, notAfter }
}

// nonCriticalKeyUsage replaces the key usage extension with a non-critical
// one (digitalSignature), which the Notary Project rejects.
func nonCriticalKeyUsage(t *x509.Certificate) {
	t.KeyUsage = 0
	der, err := asn1.Marshal(asn1.BitString{Bytes: []byte{0x80}, BitLength: 1})
	if err != nil {
		panic(err)
	}
	t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Value: der})
}

// keys counts the keys the tests make, to name them.
var keys int

// newCA returns a CA certificate issued by parent, or a self-signed root
// if parent is nil.
func newCA(t *testing.T, name string, parent *testCert, opts ...certOpt) *testCert {
	t.Helper()
	return issue(t, envelopetest.CATemplate(name), parent, nil, opts)
}

// newLeaf returns a code signing certificate for pub (a new P-256 key if
// nil), issued by parent, or self-signed if parent is nil.
func newLeaf(t *testing.T, name string, parent *testCert, pub crypto.PublicKey, opts ...certOpt) *testCert {
	t.Helper()
	named := func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: name} }
	return issue(t, envelopetest.LeafTemplate(named), parent, pub, opts)
}

// issue returns tmpl, valid from an hour ago for a day and changed by
// opts, for pub, or for a new P-256 key if pub is nil, issued by parent or
// self-signed.
func issue(t *testing.T, tmpl *x509.Certificate, parent *testCert, pub crypto.PublicKey, opts []certOpt) *testCert {
	t.Helper()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	for _, o := range opts {
		o(tmpl)
	}
	var key crypto.Signer
	if pub == nil {
		keys++
		key = envelopetest.Key(t, fmt.Sprintf("certchain test key %d", keys))
		pub = key.Public()
	}
	if parent == nil {
		return &testCert{cert: envelopetest.Certificate(t, tmpl, pub, nil, key), key: key}
	}
	return &testCert{cert: envelopetest.Certificate(t, tmpl, pub, parent.cert, parent.key), key: key}
}
