package piv

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// Limits of a CA bundle file.
const (
	maxBundleSize  = 1 << 20
	maxBundleCerts = 10
)

// certRequirements documents the Notary Project certificate rules, for
// error messages.
const certRequirements = "https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#certificate-requirements"

// LoadPEMBundle reads the CA certificates that complete a slot
// certificate's chain: a regular file of at most 1 MiB holding 1 to 10 PEM
// CERTIFICATE blocks, ordered from the leaf's issuer to the root. Text
// between blocks is ignored; any other PEM block (a private key, say) is
// refused.
func LoadPEMBundle(path string) ([]*x509.Certificate, error) {
	b, err := readSmallFile(path, maxBundleSize, nil)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	var certs []*x509.Certificate
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n := len(certs) + 1
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA bundle %s: PEM block %d is a %q; only CERTIFICATE blocks belong there: remove it", path, n, block.Type)
		}
		if n > maxBundleCerts {
			return nil, fmt.Errorf("CA bundle %s holds more than %d certificates: keep only the chain from the leaf's issuer to the root", path, maxBundleCerts)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA bundle %s: certificate %d: %v: replace it with a valid certificate", path, n, err)
		}
		certs = append(certs, cert)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("CA bundle %s: PEM block %d is damaged: replace it with the complete PEM text", path, len(certs)+1)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate: put the issuing CA certificates there, from the leaf's issuer to the root", path)
	}
	return certs, nil
}

// BuildChain returns the certificate chain of a slot's certificate, leaf
// first, after checking it as notation will. bundle holds the CA
// certificates ordered from the leaf's issuer to the root (see
// LoadPEMBundle); a self-signed leaf stands alone and takes no bundle.
// Each certificate must be issued by the next, the last must be a
// self-signed root, nothing may follow the root, every certificate must be
// valid at signingTime, and the chain must meet the Notary Project
// certificate requirements (notation-core-go's
// ValidateCodeSigningCertChain). Errors name the offending certificate.
func BuildChain(leaf *x509.Certificate, bundle []*x509.Certificate, signingTime time.Time) ([]*x509.Certificate, error) {
	if leaf == nil {
		return nil, errors.New("build certificate chain: no leaf certificate given")
	}
	chain := append([]*x509.Certificate{leaf}, bundle...)
	for _, c := range chain {
		if signingTime.Before(c.NotBefore) || signingTime.After(c.NotAfter) {
			return nil, fmt.Errorf("certificate %q is not valid at the signing time %s (valid from %s to %s): renew it",
				subject(c), signingTime.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case len(bundle) == 0 && !selfSigned(leaf):
		return nil, fmt.Errorf("certificate %q is not self-signed and no CA bundle completes its chain: provide the certificates from its issuer %q up to the root, in that order",
			subject(leaf), leaf.Issuer.String())
	case len(bundle) > 0 && selfSigned(leaf):
		return nil, fmt.Errorf("certificate %q is self-signed, so it needs no CA bundle: remove the bundle", subject(leaf))
	}
	for i := 0; i+1 < len(chain); i++ {
		child, parent := chain[i], chain[i+1]
		if i > 0 && selfSigned(child) {
			return nil, fmt.Errorf("the CA bundle holds %d more certificates after the root %q: remove them", len(chain)-1-i, subject(child))
		}
		if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, fmt.Errorf("certificate %q is issued by %q, not by %q that follows it: order the CA bundle from the leaf's issuer to the root, without other certificates",
				subject(child), child.Issuer.String(), subject(parent))
		}
		if err := child.CheckSignatureFrom(parent); err != nil {
			return nil, fmt.Errorf("certificate %q is not signed by %q that follows it (%v): put the certificate of its real issuer there",
				subject(child), subject(parent), err)
		}
	}
	if root := chain[len(chain)-1]; len(chain) > 1 && !selfSigned(root) {
		return nil, fmt.Errorf("the CA bundle ends with %q, which is not a self-signed root: append its issuer %q and so on up to the root",
			subject(root), root.Issuer.String())
	}
	if err := nx509.ValidateCodeSigningCertChain(chain, &signingTime); err != nil {
		return nil, fmt.Errorf("the certificate chain of %q does not meet the Notary Project certificate requirements: %w; reissue the certificates as %s describes",
			subject(leaf), err, certRequirements)
	}
	return chain, nil
}

// selfSigned reports whether c is issued and signed by itself.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// subject names a certificate for messages.
func subject(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	return "serial " + c.SerialNumber.String()
}
