package cose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
	"testing"
	"time"
)

// Test keys are generated once per test binary: RSA-4096 takes a while.
var (
	keysMu sync.Mutex
	keys   = map[string]crypto.Signer{}
)

// testKey returns the cached key for spec ("RSA-2048", "EC-256", "Ed25519",
// or any other name for an extra P-256 key, e.g. "root").
func testKey(t testing.TB, spec string) crypto.Signer {
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

var (
	notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC)
	serial    int64
)

// certificate issues tmpl for pub, signed by parent/parentKey, or
// self-signed when parent is nil.
func certificate(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	keysMu.Lock()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	keysMu.Unlock()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
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

// leafTemplate is a Notary code-signing leaf: critical KU digitalSignature,
// EKU codeSigning, CA=false. mods adjust it.
func leafTemplate(mods ...func(*x509.Certificate)) *x509.Certificate {
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

// selfSigned returns a one-certificate chain for key.
func selfSigned(t testing.TB, key crypto.Signer, mods ...func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	return []*x509.Certificate{certificate(t, leafTemplate(mods...), key.Public(), nil, key)}
}

// threeLevel returns leaf → intermediate → root for key, with P-256 CA keys.
func threeLevel(t testing.TB, key crypto.Signer, mods ...func(*x509.Certificate)) []*x509.Certificate {
	t.Helper()
	rootKey, intKey := testKey(t, "root"), testKey(t, "intermediate")
	root := certificate(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "notation-piv test root"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, rootKey.Public(), nil, rootKey)
	intermediate := certificate(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "notation-piv test intermediate"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, intKey.Public(), root, rootKey)
	leaf := certificate(t, leafTemplate(mods...), key.Public(), intermediate, intKey)
	return []*x509.Certificate{leaf, intermediate, root}
}

// cardSigner behaves like the PIV card signer behind a SignRequest: ECDSA
// keys return ASN.1 DER whatever opts say, RSA keys sign only RSASSA-PSS
// (*rsa.PSSOptions) and need randomness. It counts the signatures it makes.
type cardSigner struct {
	crypto.Signer
	mu    sync.Mutex
	calls int
}

func (c *cardSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if r == nil {
		return nil, errors.New("card signer: no randomness")
	}
	switch c.Public().(type) {
	case *rsa.PublicKey:
		if _, ok := opts.(*rsa.PSSOptions); !ok {
			return nil, fmt.Errorf("card signer: RSA signs only RSASSA-PSS, got opts %T", opts)
		}
	case *ecdsa.PublicKey:
		opts = crypto.Hash(0) // the card ignores opts for ECDSA
	}
	return c.Signer.Sign(r, digest, opts)
}
