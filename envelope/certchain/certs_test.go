package certchain

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
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

var serialCounter int64

// newCA returns a CA certificate issued by parent, or a self-signed root
// if parent is nil.
func newCA(t *testing.T, name string, parent *testCert, opts ...certOpt) *testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return issue(t, tmpl, parent, nil, opts)
}

// newLeaf returns a code signing certificate for pub (a new P-256 key if
// nil), issued by parent, or self-signed if parent is nil.
func newLeaf(t *testing.T, name string, parent *testCert, pub crypto.PublicKey, opts ...certOpt) *testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	return issue(t, tmpl, parent, pub, opts)
}

func issue(t *testing.T, tmpl *x509.Certificate, parent *testCert, pub crypto.PublicKey, opts []certOpt) *testCert {
	t.Helper()
	serialCounter++
	tmpl.SerialNumber = big.NewInt(serialCounter)
	for _, o := range opts {
		o(tmpl)
	}
	var key crypto.Signer
	if pub == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, k.Public()
	}
	issuerCert, issuerKey := tmpl, key
	if parent != nil {
		issuerCert, issuerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, pub, issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, key: key}
}
