package certchain

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// Build returns the certificate chain of a signing certificate, leaf
// first, after checking it as notation will. bundle holds the CA
// certificates ordered from the leaf's issuer to the root, as LoadBundle
// returns them, and is not reordered here; a self-signed
// leaf stands alone and takes no bundle. The chain holds at most 10
// certificates, each certificate must be issued by the next, the last must
// be a self-signed root, nothing may follow the root, every certificate
// must be valid at signingTime, and the chain must meet the Notary Project
// certificate requirements (notation-core-go's
// ValidateCodeSigningCertChain). Errors name the offending certificate. A
// leaf with an extended key usage that notation refuses gives an
// *ExtKeyUsageError before anything else is checked: no bundle can mend
// it.
func Build(leaf *x509.Certificate, bundle []*x509.Certificate, signingTime time.Time) ([]*x509.Certificate, error) {
	if leaf == nil {
		return nil, errors.New("build certificate chain: no leaf certificate given")
	}
	if err := CheckExtKeyUsage(leaf); err != nil {
		return nil, err
	}
	if len(bundle) > maxBundleCerts {
		return nil, fmt.Errorf("the CA bundle holds %d certificates, but a chain may hold at most %d with the signing certificate: keep only the chain from the leaf's issuer to the root",
			len(bundle), MaxLength)
	}
	chain := append([]*x509.Certificate{leaf}, bundle...)
	for _, c := range chain {
		if signingTime.Before(c.NotBefore) || signingTime.After(c.NotAfter) {
			return nil, fmt.Errorf("certificate %q is not valid at the signing time %s (valid from %s to %s): renew it",
				Subject(c), signingTime.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case len(bundle) == 0 && !SelfSigned(leaf):
		return nil, fmt.Errorf("certificate %q is not self-signed and no CA bundle completes its chain: provide the certificates from its issuer %q up to the root, in that order",
			Subject(leaf), leaf.Issuer.String())
	case len(bundle) > 0 && SelfSigned(leaf):
		return nil, fmt.Errorf("certificate %q is self-signed, so it needs no CA bundle: remove the bundle", Subject(leaf))
	}
	for i := 0; i+1 < len(chain); i++ {
		child, parent := chain[i], chain[i+1]
		if i > 0 && SelfSigned(child) {
			return nil, fmt.Errorf("the CA bundle holds %d more certificates after the root %q: remove them", len(chain)-1-i, Subject(child))
		}
		if i == 0 && !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, fmt.Errorf("certificate %q is issued by %q, but the CA bundle starts with %q, which is not part of its chain: give the CA bundle of %q, from it up to the root",
				Subject(child), child.Issuer.String(), Subject(parent), child.Issuer.String())
		}
		if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, fmt.Errorf("certificate %q is issued by %q, not by %q that follows it: order the CA bundle from the leaf's issuer to the root, without other certificates",
				Subject(child), child.Issuer.String(), Subject(parent))
		}
		if err := child.CheckSignatureFrom(parent); err != nil {
			return nil, fmt.Errorf("certificate %q is not signed by %q that follows it (%v): put the certificate of its real issuer there",
				Subject(child), Subject(parent), err)
		}
	}
	if root := chain[len(chain)-1]; len(chain) > 1 && !SelfSigned(root) {
		return nil, fmt.Errorf("the CA bundle ends with %q, which is not a self-signed root: append its issuer %q and so on up to the root",
			Subject(root), root.Issuer.String())
	}
	if err := nx509.ValidateCodeSigningCertChain(chain, &signingTime); err != nil {
		return nil, fmt.Errorf("the certificate chain of %q does not meet the Notary Project certificate requirements: %w; reissue the certificates as %s describes",
			Subject(leaf), err, certRequirements)
	}
	return chain, nil
}
