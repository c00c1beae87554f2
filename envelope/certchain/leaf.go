// Package certchain applies the Notary Project certificate rules to the
// certificates of a signer, before anything is signed: it reads a CA
// bundle (LoadBundle), builds and checks the chain of a signing
// certificate (Build), checks a signing certificate whose chain is not
// at hand (CheckLeaf), and checks what no chain can mend: a certificate's
// usage (CheckUsage). The rules are those of the signature specification
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
	"strings"
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

// ExtKeyUsageRule is the Notary Project's rule on the extended key usage
// of a signing certificate, word for word from the certificate
// requirements of the signature specification (see certRequirements).
const ExtKeyUsageRule = "If present, the value MAY contain id-kp-codeSigning and MUST NOT contain anyExtendedKeyUsage, serverAuth, clientAuth, emailProtection and timeStamping"

// refusedExtKeyUsages are the extended key usages notation refuses in a
// signing certificate, as notation-core-go v1.3.0 does (it lets
// anyExtendedKeyUsage pass, and refuses OCSPSigning too), with their
// names in RFC 5280.
var refusedExtKeyUsages = []struct {
	usage x509.ExtKeyUsage
	name  string
}{
	{x509.ExtKeyUsageServerAuth, "serverAuth"},
	{x509.ExtKeyUsageClientAuth, "clientAuth"},
	{x509.ExtKeyUsageEmailProtection, "emailProtection"},
	{x509.ExtKeyUsageTimeStamping, "timeStamping"},
	{x509.ExtKeyUsageOCSPSigning, "OCSPSigning"},
}

// ExtKeyUsageError is a certificate with an extended key usage that
// notation refuses in a signing certificate, such as the emailProtection
// of a US government PIV card's signature certificate. No CA bundle and
// no signing time can mend it: only another certificate can.
type ExtKeyUsageError struct {
	// Subject names the certificate (see Subject).
	Subject string
	// Refused are the certificate's extended key usages that notation
	// refuses, by their RFC 5280 names, such as "emailProtection".
	Refused []string
}

// Error names the certificate and the usages, and quotes the rule.
func (e *ExtKeyUsageError) Error() string {
	usages := "usage " + e.Refused[0]
	if n := len(e.Refused); n > 1 {
		usages = "usages " + strings.Join(e.Refused[:n-1], ", ") + " and " + e.Refused[n-1]
	}
	return fmt.Sprintf("certificate %q has the extended key %s, which notation refuses in a signing certificate; the Notary Project signature specification says of its extendedKeyUsage: \"%s\"",
		e.Subject, usages, ExtKeyUsageRule)
}

// CheckExtKeyUsage gives an *ExtKeyUsageError if cert has an extended key
// usage that notation refuses in a signing certificate: the one leaf rule
// that neither the chain nor the time can change, and that costs nothing
// to check. Build and CheckLeaf check it first.
func CheckExtKeyUsage(cert *x509.Certificate) error {
	var refused []string
	for _, r := range refusedExtKeyUsages {
		for _, u := range cert.ExtKeyUsage {
			if u == r.usage {
				refused = append(refused, r.name)
				break
			}
		}
	}
	if len(refused) > 0 {
		return &ExtKeyUsageError{Subject: Subject(cert), Refused: refused}
	}
	return nil
}

// CheckUsage reports whether cert could sign Notary Project signatures
// with some chain at some time: it applies the rules of CheckLeaf that
// neither the chain nor the time can change (basic constraints, key
// usage, extended key usage, key), as CheckLeaf does at a time cert is
// valid. Use it as soon as a signing certificate is read, before its chain
// is built or anything is signed. An extended key usage that notation
// refuses gives an *ExtKeyUsageError.
func CheckUsage(cert *x509.Certificate) error {
	return CheckLeaf(cert, cert.NotBefore)
}

// CheckLeaf reports whether cert can sign Notary Project signatures
// at time now, as notation-core-go's ValidateCodeSigningCertChain judges
// it: key usage present, critical and digitalSignature only; not a CA; no
// excluded extended key usage (an *ExtKeyUsageError, checked first); a
// supported key; valid at now. A
// self-signed cert is checked as a chain of its own. For a cert issued by a
// CA, whose chain is not at hand, the same leaf rules are applied to a
// copy of cert (same subject, validity, public key and extensions) issued
// by a throwaway CA: only the leaf can fail them. Use Build to check a
// whole chain.
func CheckLeaf(cert *x509.Certificate, now time.Time) error {
	if err := CheckExtKeyUsage(cert); err != nil {
		return err
	}
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
