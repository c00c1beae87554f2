package certchain

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/notation-piv/notation-piv/internal/pemcert"
)

// LoadBundle reads the CA certificates that complete a signing
// certificate's chain: a PEM file (see pemcert.Load) holding 1 to 9
// certificates that form one chain, from the leaf's issuer up to a
// self-signed root. The certificates may come in any order: they are
// returned ordered from the leaf's issuer to the root, as Build takes
// them. Everything that can be checked without the leaf is checked here,
// before the card is touched: a certificate twice, a certificate that is
// not part of the one chain (the error names it), a chain that stops short
// of a self-signed root.
func LoadBundle(path string) ([]*x509.Certificate, error) {
	certs, err := pemcert.Load(path, maxBundleCerts)
	var tooMany *pemcert.TooManyError
	switch {
	case errors.As(err, &tooMany):
		return nil, fmt.Errorf("CA bundle: %w, and a chain may hold at most %d with the signing certificate", err, MaxLength)
	case err != nil:
		return nil, fmt.Errorf("CA bundle: %w", err)
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
		if SelfSigned(c) {
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
				return nil, fmt.Errorf("CA bundle %s: %s issued both %s and %s, but a chain holds only one of them: keep the one on the way from the signing certificate to the root",
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
		return nil, fmt.Errorf("CA bundle %s holds %d separate chains, %s, but must hold one, from the issuer of the signing certificate up to its root: remove the certificates that do not belong to it",
			path, len(chains), strings.Join(names, " and "))
	}
	chain := chains[0]
	if top := chain[len(chain)-1]; !SelfSigned(top) {
		return nil, fmt.Errorf("CA bundle %s ends with %s, which is not a self-signed root: add its issuer %q and so on up to the root",
			path, name(top), top.Issuer.String())
	}
	return chain, nil
}

// chainNames names the certificates of a chain for messages, bottom first.
func chainNames(chain []*x509.Certificate) string {
	names := make([]string, len(chain))
	for i, c := range chain {
		names[i] = fmt.Sprintf("%q", Subject(c))
	}
	return "[" + strings.Join(names, " → ") + "]"
}

// name names a certificate in messages: "certificate" and its subject.
func name(c *x509.Certificate) string {
	return fmt.Sprintf("certificate %q", Subject(c))
}
