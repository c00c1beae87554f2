package certchain

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
)

// testCert is a certificate with its private key, for tests.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newCA returns a CA called name (see fixtures.CATemplate) with a new
// key, issued by parent, or a self-signed root if parent is nil.
func newCA(t *testing.T, name string, parent *testCert, opts ...fixtures.Option) *testCert {
	t.Helper()
	return issue(t, fixtures.CATemplate(name, opts...), parent, nil)
}

// newLeaf returns a code-signing leaf called name (see
// fixtures.LeafTemplate) for pub, or for a new key if pub is nil, issued
// by parent, or self-signed if parent is nil.
func newLeaf(t *testing.T, name string, parent *testCert, pub crypto.PublicKey, opts ...fixtures.Option) *testCert {
	t.Helper()
	return issue(t, fixtures.LeafTemplate(append([]fixtures.Option{fixtures.Name(name)}, opts...)...), parent, pub)
}

// issue makes tmpl for pub, or for a new EC-256 key if pub is nil, signed
// by parent, or self-signed if parent is nil.
func issue(t *testing.T, tmpl *x509.Certificate, parent *testCert, pub crypto.PublicKey) *testCert {
	t.Helper()
	var key crypto.Signer
	if pub == nil {
		key = fixtures.NewKey("EC-256")
		pub = key.Public()
	}
	var parentCert *x509.Certificate
	signer := key
	if parent != nil {
		parentCert, signer = parent.cert, parent.key
	}
	cert, err := fixtures.Issue(tmpl, pub, parentCert, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, key: key}
}
