package envelopetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/timestamp/timestamptest"
)

// Test keys are generated once per test binary: RSA-4096 takes a while.
var (
	keysMu sync.Mutex
	keys   = map[string]crypto.Signer{}
)

// Key returns the cached key for spec ("RSA-1024" to "RSA-4096", "EC-224",
// "EC-384", "EC-521", "Ed25519", or any other name for an extra P-256 key,
// e.g. "root" or "EC-256").
func Key(t testing.TB, spec string) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[spec]; ok {
		return k
	}
	var (
		k   crypto.Signer
		err error
	)
	switch spec {
	case "RSA-1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "RSA-2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RSA-3072":
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case "RSA-4096":
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	case "EC-224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "EC-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EC-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatalf("generate %s key: %v", spec, err)
	}
	keys[spec] = k
	return k
}

// RSAPublicKey returns an RSA public key whose modulus has exactly bits
// bits, for tests of key sizes: no one can sign with it, but it takes no
// time to make.
func RSAPublicKey(bits int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return &rsa.PublicKey{N: n.SetBit(n, 0, 1), E: 65537}
}

// CountingSigner counts the signatures its Signer makes.
type CountingSigner struct {
	crypto.Signer
	mu    sync.Mutex
	calls int
}

// Sign counts the call and signs with Signer.
func (c *CountingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Signer.Sign(r, digest, opts)
}

// Calls returns how many signatures Sign was asked for.
func (c *CountingSigner) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// NotBefore and NotAfter bound the validity Certificate gives a template
// that sets none.
var (
	NotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC)
)

// serial numbers the certificates Certificate issues.
var serial int64

// Certificate issues tmpl for pub, signed by parent/parentKey, or
// self-signed when parent is nil.
func Certificate(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	keysMu.Lock()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	keysMu.Unlock()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = NotBefore, NotAfter
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatalf("create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// LeafTemplate is a Notary code-signing leaf: critical KU digitalSignature,
// EKU codeSigning, CA=false. mods adjust it.
func LeafTemplate(mods ...func(*x509.Certificate)) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "notation-piv test signer", Organization: []string{"notation-piv"}},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	for _, m := range mods {
		m(tmpl)
	}
	return tmpl
}

// CATemplate is a Notary CA certificate named name: critical KU
// keyCertSign and cRLSign, CA=true. mods adjust it.
func CATemplate(name string, mods ...func(*x509.Certificate)) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, m := range mods {
		m(tmpl)
	}
	return tmpl
}

// SelfSigned returns a one-certificate chain for key.
func SelfSigned(t testing.TB, key crypto.Signer, mods ...func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	return []*x509.Certificate{Certificate(t, LeafTemplate(mods...), key.Public(), nil, key)}
}

// ThreeLevel returns leaf → intermediate → root for key, with P-256 CA keys.
func ThreeLevel(t testing.TB, key crypto.Signer, mods ...func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	rootKey, intKey := Key(t, "root"), Key(t, "intermediate")
	root := Certificate(t, CATemplate("notation-piv test root"), rootKey.Public(), nil, rootKey)
	intermediate := Certificate(t, CATemplate("notation-piv test intermediate", func(c *x509.Certificate) { c.MaxPathLenZero = true }), intKey.Public(), root, rootKey)
	leaf := Certificate(t, LeafTemplate(mods...), key.Public(), intermediate, intKey)
	return []*x509.Certificate{leaf, intermediate, root}
}

// NewTSA starts a test timestamp authority that the test closes.
func NewTSA(t testing.TB) *timestamptest.TSA {
	t.Helper()
	tsa, err := timestamptest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tsa.Close)
	return tsa
}
