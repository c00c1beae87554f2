package piv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// oidAuthorityKeyID is the authority key identifier extension.
var oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}

// IsSelfSigned reports whether cert is issued and signed by itself.
func IsSelfSigned(cert *x509.Certificate) bool { return selfSigned(cert) }

// CheckNotaryLeaf reports whether cert can sign Notary Project signatures
// at time now, as notation-core-go's ValidateCodeSigningCertChain judges
// it: key usage present, critical and digitalSignature only; not a CA; no
// excluded extended key usage; a supported key; valid at now. A
// self-signed cert is checked as a chain of its own. For a cert issued by a
// CA, whose chain is not at hand, the same leaf rules are applied to a
// copy of cert (same subject, validity, public key and extensions) issued
// by a throwaway CA: only the leaf can fail them. Use BuildChain to check a
// whole chain.
func CheckNotaryLeaf(cert *x509.Certificate, now time.Time) error {
	if selfSigned(cert) {
		return nx509.ValidateCodeSigningCertChain([]*x509.Certificate{cert}, &now)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "notation-piv leaf check"},
		NotBefore:             cert.NotBefore,
		NotAfter:              cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("check certificate %q: %w", subject(cert), err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("check certificate %q: %w", subject(cert), err)
	}
	copyTmpl := &x509.Certificate{
		SerialNumber: cert.SerialNumber,
		RawSubject:   cert.RawSubject,
		NotBefore:    cert.NotBefore,
		NotAfter:     cert.NotAfter,
	}
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidAuthorityKeyID) {
			copyTmpl.ExtraExtensions = append(copyTmpl.ExtraExtensions, ext)
		}
	}
	copyDER, err := x509.CreateCertificate(rand.Reader, copyTmpl, ca, cert.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificate %q: %w", subject(cert), err)
	}
	leaf, err := x509.ParseCertificate(copyDER)
	if err != nil {
		return fmt.Errorf("certificate %q: %w", subject(cert), err)
	}
	return nx509.ValidateCodeSigningCertChain([]*x509.Certificate{leaf, ca}, &now)
}
