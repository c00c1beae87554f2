package timestamptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// Validity of every certificate of the test PKI: wide enough that a clock
// offset of days or years keeps the TSA certificate valid at genTime.
var (
	notBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)
)

// oidExtKeyUsage is the extended key usage extension (RFC 5280 §4.2.1.12).
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// oidTimeStamping is id-kp-timeStamping (RFC 5280 §4.2.1.12).
var oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

// signer is a TSA certificate with its key and the certificates that
// issued it, leaf's issuer first.
type signer struct {
	cert    *x509.Certificate
	key     crypto.Signer
	issuers []*x509.Certificate
}

// issue creates tmpl for a new P-256 key, signed by parent/parentKey, or
// self-signed when parent is nil.
func issue(tmpl *x509.Certificate, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// newRoot creates a self-signed root CA named cn.
func newRoot(cn string) (*x509.Certificate, crypto.Signer, error) {
	return issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"notation-piv test"}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
}

// newTSA issues a TSA certificate named cn under root/rootKey: key usage
// digitalSignature, extended key usage timeStamping only, written critical
// unless criticalEKU is false. Go's CreateCertificate writes the extended
// key usage non-critical, so the extension goes in ExtraExtensions.
func newTSA(cn string, root *x509.Certificate, rootKey crypto.Signer, criticalEKU bool) (signer, error) {
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		return signer{}, err
	}
	cert, key, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"notation-piv test"}},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Critical: criticalEKU, Value: eku}},
	}, root, rootKey)
	if err != nil {
		return signer{}, err
	}
	return signer{cert: cert, key: key, issuers: []*x509.Certificate{root}}, nil
}
