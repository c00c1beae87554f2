package cli

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// signatureAlgorithm is the certificate signature algorithm for a key spec:
// ECDSA, or RSASSA-PSS as Notary Project signatures use, with the spec's
// hash.
func signatureAlgorithm(spec keyspec.Spec) x509.SignatureAlgorithm {
	return map[keyspec.Spec]x509.SignatureAlgorithm{
		keyspec.EC256:   x509.ECDSAWithSHA256,
		keyspec.EC384:   x509.ECDSAWithSHA384,
		keyspec.RSA2048: x509.SHA256WithRSAPSS,
		keyspec.RSA3072: x509.SHA384WithRSAPSS,
		keyspec.RSA4096: x509.SHA512WithRSAPSS,
	}[spec]
}

// selfSignedCertificate makes a Notary Project code-signing certificate for
// the card key behind signer, signed by that key, and checks it as notation
// will.
func selfSignedCertificate(signer crypto.Signer, spec keyspec.Spec, subject pkix.Name, days int) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               subject,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		SignatureAlgorithm:    signatureAlgorithm(spec),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("sign the certificate on the card: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := certchain.CheckLeaf(cert, time.Now()); err != nil {
		return nil, fmt.Errorf("the new certificate fails the Notary Project rules: %w", err)
	}
	return cert, nil
}

// certificateRequest makes a certificate signing request (DER) for the
// card key behind signer.
func certificateRequest(signer crypto.Signer, spec keyspec.Spec, subject pkix.Name) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            subject,
		SignatureAlgorithm: signatureAlgorithm(spec),
	}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign the request on the card: %w", err)
	}
	return der, nil
}
