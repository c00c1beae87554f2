package timestamp

import (
	"bytes"
	"crypto/x509"
	"fmt"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/pemcert"
)

// LoadRoot reads the trusted root of a timestamp authority: a PEM file
// (see pemcert.Load) holding exactly one certificate, self-signed
// (notation's --timestamp-root-cert takes the same file). It returns a
// pool holding that certificate only, for Config.Roots.
func LoadRoot(path string) (*x509.CertPool, error) {
	certs, err := pemcert.Load(path, 1)
	if err != nil {
		return nil, fmt.Errorf("TSA root certificate: %w", err)
	}
	cert := certs[0]
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		return nil, fmt.Errorf("TSA root certificate %s: %q is issued by %q, so it is no root: give the self-signed root CA at the top of the TSA's chain", path, certchain.Subject(cert), cert.Issuer.String())
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return nil, fmt.Errorf("TSA root certificate %s: %q is not validly self-signed (%v): replace it with the TSA's root CA certificate", path, certchain.Subject(cert), err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}
