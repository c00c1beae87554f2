// Package certchain applies the Notary Project certificate rules to the
// certificates of a signer, before anything is signed: it reads a CA
// bundle (LoadBundle), builds and checks the chain of a signing
// certificate (Build), and checks a signing certificate whose chain is not
// at hand (CheckLeaf). The rules are those of the signature specification
// (https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#certificate-requirements)
// as notation-core-go v1.3.0 enforces them in ValidateCodeSigningCertChain.
//
// Errors name the offending certificate and the file it came from.
package certchain

import (
	"bytes"
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

// Limits of a certificate chain. Real chains hold a leaf, one to three
// intermediates and a root.
const (
	// MaxLength bounds a chain, the signing certificate included.
	MaxLength      = 10
	maxBundleCerts = MaxLength - 1 // the leaf comes from elsewhere
)

// certRequirements documents the Notary Project certificate rules, for
// error messages.
const certRequirements = "https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#certificate-requirements"

// SelfSigned reports whether c is issued and validly signed by itself.
func SelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// Subject names a certificate for messages: its subject, or its serial
// number if the subject is empty.
func Subject(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "serial " + c.SerialNumber.String()
}

// CheckLeaf reports whether cert can sign Notary Project signatures
// at time now, as notation-core-go's ValidateCodeSigningCertChain judges
// it: key usage present, critical and digitalSignature only; not a CA; no
// excluded extended key usage; a supported key; valid at now. A
// self-signed cert is checked as a chain of its own. For a cert issued by a
// CA, whose chain is not at hand, the same leaf rules are applied to a
// copy of cert (same subject, validity, public key and extensions) issued
// by a throwaway CA: only the leaf can fail them. Use Build to check a
// whole chain.
func CheckLeaf(cert *x509.Certificate, now time.Time) error {
	if SelfSigned(cert) {
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
		return fmt.Errorf("check certificate %q: %w", Subject(cert), err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("check certificate %q: %w", Subject(cert), err)
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
		return fmt.Errorf("certificate %q: %w", Subject(cert), err)
	}
	leaf, err := x509.ParseCertificate(copyDER)
	if err != nil {
		return fmt.Errorf("certificate %q: %w", Subject(cert), err)
	}
	return nx509.ValidateCodeSigningCertChain([]*x509.Certificate{leaf, ca}, &now)
}
