package piv

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// Limits of a CA bundle file and of a certificate chain. Real chains
// hold a leaf, one to three intermediates and a root.
const (
	maxBundleSize  = 1 << 20
	maxChainLength = 10                 // certificates, the leaf included
	maxBundleCerts = maxChainLength - 1 // the leaf comes from the card
)

// certRequirements documents the Notary Project certificate rules, for
// error messages.
const certRequirements = "https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#certificate-requirements"

// LoadPEMBundle reads the CA certificates that complete a slot
// certificate's chain: a regular file of at most 1 MiB holding 1 to 9 PEM
// CERTIFICATE blocks that form one chain, from the leaf's issuer up to a
// self-signed root. Text between blocks is ignored; any other PEM block (a
// private key, say) is refused. The blocks may come in any order: the
// certificates are returned ordered from the leaf's issuer to the root.
// Everything that can be checked without the leaf is checked here, before
// the card is touched: a certificate twice, a certificate that is not part
// of the one chain (the error names it), a chain that stops short of a
// self-signed root.
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
			return nil, fmt.Errorf("CA bundle %s holds more than %d certificates, and a chain may hold at most %d with the slot's certificate: keep only the chain from the leaf's issuer to the root",
				path, maxBundleCerts, maxChainLength)
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
	return orderBundle(path, certs)
}

// orderBundle returns the certificates of the CA bundle at path ordered
// from the bottom (the leaf's issuer) to the self-signed root. They must
// form exactly one chain: each certificate but the root issued by exactly
// one other, and each issuing at most one other. Errors name the
// certificates that do not fit and say what to do.
func orderBundle(path string, certs []*x509.Certificate) ([]*x509.Certificate, error) {
	n := len(certs)
	for i := range certs {
		for j := i + 1; j < n; j++ {
			if certs[i].Equal(certs[j]) {
				return nil, fmt.Errorf("CA bundle %s holds %s twice, as certificates %d and %d: remove the copy", path, name(certs[i]), i+1, j+1)
			}
		}
	}
	issuer := make([]int, n) // issuer[i] is the index of the certificate that signed certs[i], or -1
	issued := make([]int, n) // issued[j] is the index of the certificate certs[j] signed, or -1
	for i := range certs {
		issuer[i], issued[i] = -1, -1
	}
	for i, c := range certs {
		if selfSigned(c) {
			continue
		}
		named := -1 // a certificate with the issuer's name that did not sign c
		for j, p := range certs {
			if j == i || !bytes.Equal(c.RawIssuer, p.RawSubject) {
				continue
			}
			if c.CheckSignatureFrom(p) != nil {
				named = j
				continue
			}
			if issuer[i] >= 0 {
				return nil, fmt.Errorf("CA bundle %s holds two certificates that issued %s: certificates %d and %d: keep one of them", path, name(c), issuer[i]+1, j+1)
			}
			issuer[i] = j
		}
		if issuer[i] < 0 && named >= 0 {
			err := c.CheckSignatureFrom(certs[named])
			return nil, fmt.Errorf("CA bundle %s: %s names %s as its issuer, but that certificate did not sign it (%v): put the certificate of its real issuer there",
				path, name(c), name(certs[named]), err)
		}
		if j := issuer[i]; j >= 0 {
			if issued[j] >= 0 {
				return nil, fmt.Errorf("CA bundle %s: %s issued both %s and %s, but a chain holds only one of them: keep the one on the way from the slot's certificate to the root",
					path, name(certs[j]), name(certs[issued[j]]), name(c))
			}
			issued[j] = i
		}
	}
	// Each certificate now has at most one issuer and issued at most one
	// other: the bundle is a set of separate chains. Walk each up from its
	// bottom, the certificate that issued none of the others.
	var chains [][]*x509.Certificate
	seen := 0
	for i := range certs {
		if issued[i] >= 0 {
			continue
		}
		var chain []*x509.Certificate
		for j := i; j >= 0; j = issuer[j] {
			chain = append(chain, certs[j])
		}
		seen += len(chain)
		chains = append(chains, chain)
	}
	if seen < n {
		return nil, fmt.Errorf("CA bundle %s: its certificates issued each other in a loop, so none is a self-signed root: keep only the chain from the leaf's issuer up to a self-signed root", path)
	}
	if len(chains) > 1 {
		names := make([]string, len(chains))
		for i, c := range chains {
			names[i] = chainNames(c)
		}
		return nil, fmt.Errorf("CA bundle %s holds %d separate chains, %s, but must hold one, from the issuer of the slot's certificate up to its root: remove the certificates that do not belong to it",
			path, len(chains), strings.Join(names, " and "))
	}
	chain := chains[0]
	if top := chain[len(chain)-1]; !selfSigned(top) {
		return nil, fmt.Errorf("CA bundle %s ends with %s, which is not a self-signed root: add its issuer %q and so on up to the root",
			path, name(top), top.Issuer.String())
	}
	return chain, nil
}

// chainNames names the certificates of a chain for messages, bottom first.
func chainNames(chain []*x509.Certificate) string {
	names := make([]string, len(chain))
	for i, c := range chain {
		names[i] = fmt.Sprintf("%q", subject(c))
	}
	return "[" + strings.Join(names, " → ") + "]"
}

// name names a certificate in messages: "certificate" and its subject.
func name(c *x509.Certificate) string {
	return fmt.Sprintf("certificate %q", subject(c))
}

// BuildChain returns the certificate chain of a slot's certificate, leaf
// first, after checking it as notation will. bundle holds the CA
// certificates ordered from the leaf's issuer to the root, as
// LoadPEMBundle returns them, and is not reordered here; a self-signed
// leaf stands alone and takes no bundle. The chain holds at most 10
// certificates, each certificate must be issued by the next, the last must
// be a self-signed root, nothing may follow the root, every certificate
// must be valid at signingTime, and the chain must meet the Notary Project
// certificate requirements (notation-core-go's
// ValidateCodeSigningCertChain). Errors name the offending certificate.
func BuildChain(leaf *x509.Certificate, bundle []*x509.Certificate, signingTime time.Time) ([]*x509.Certificate, error) {
	if leaf == nil {
		return nil, errors.New("build certificate chain: no leaf certificate given")
	}
	if len(bundle) > maxBundleCerts {
		return nil, fmt.Errorf("the CA bundle holds %d certificates, but a chain may hold at most %d with the slot's certificate: keep only the chain from the leaf's issuer to the root",
			len(bundle), maxChainLength)
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
		if i == 0 && !bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil, fmt.Errorf("certificate %q is issued by %q, but the CA bundle starts with %q, which is not part of its chain: give the CA bundle of %q, from it up to the root",
				subject(child), child.Issuer.String(), subject(parent), child.Issuer.String())
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
