package attestation

import (
	"crypto/x509"
	_ "embed" // the Yubico certificates
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// Yubico's published PIV attestation certificates, byte for byte as
// https://developers.yubico.com/PKI/ publishes them (the same files as
// go-piv/piv-go v2.6.0's piv/certs/; see yubico/README.md):
//
//   - yubico-piv-ca-1.pem: "Yubico PIV Root CA Serial 263751" (2016), the
//     root of every YubiKey's F9 certificate before firmware 5.7.4;
//   - yubico-ca-1.pem: "Yubico Attestation Root 1" (2024), the root from
//     firmware 5.7.4;
//   - yubico-piv-intermediates.pem: the intermediates between that root and
//     an F9 certificate: "Yubico Attestation Intermediate A 1" and "B 1",
//     "Yubico PIV Attestation A 1" and "B 1" (from yubico-intermediate.pem,
//     which also holds the FIDO, OpenPGP and SD intermediates).
var (
	//go:embed yubico/yubico-piv-ca-1.pem
	yubicoPIVRoot2016 []byte
	//go:embed yubico/yubico-ca-1.pem
	yubicoRoot2024 []byte
	//go:embed yubico/yubico-piv-intermediates.pem
	yubicoPIVIntermediates []byte
)

// MaxRoots bounds the certificates of a root set.
const MaxRoots = 64

// Roots is a set of trusted attestation roots, with the vendor
// intermediates known to chain to them. It is not changed after it is made,
// so it is safe for concurrent use.
type Roots struct {
	pool          *x509.CertPool
	roots         []*x509.Certificate
	intermediates []*x509.Certificate
}

// YubicoRoots returns Yubico's two PIV attestation roots and the
// intermediates that the 2024 one needs.
func YubicoRoots() *Roots { return yubicoRoots() }

var yubicoRoots = sync.OnceValue(func() *Roots {
	roots := append(mustParsePEM(yubicoPIVRoot2016), mustParsePEM(yubicoRoot2024)...)
	r, err := NewRoots(roots)
	if err != nil {
		panic(err)
	}
	r.intermediates = mustParsePEM(yubicoPIVIntermediates)
	return r
})

// NewRoots returns a root set that holds certs, and no other roots or
// intermediates: a bundle checked against it must carry any intermediates
// itself.
func NewRoots(certs []*x509.Certificate) (*Roots, error) {
	if len(certs) == 0 {
		return nil, errors.New("no attestation root certificates")
	}
	if len(certs) > MaxRoots {
		return nil, fmt.Errorf("%d attestation root certificates; at most %d are allowed", len(certs), MaxRoots)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &Roots{pool: pool, roots: append([]*x509.Certificate(nil), certs...)}, nil
}

// Certificates returns the roots.
func (r *Roots) Certificates() []*x509.Certificate {
	return append([]*x509.Certificate(nil), r.roots...)
}

// issuerChain returns the known intermediates that cert chains through,
// nearest first, up to a root or the last intermediate found.
func (r *Roots) issuerChain(cert *x509.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	for len(chain) < len(r.intermediates) {
		next := r.issuer(cert)
		if next == nil {
			break
		}
		chain = append(chain, next)
		cert = next
	}
	return chain
}

// issuer returns the known intermediate that signed cert, or nil.
func (r *Roots) issuer(cert *x509.Certificate) *x509.Certificate {
	for _, c := range r.intermediates {
		if cert.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	return nil
}

// mustParsePEM parses embedded certificates, which tests check.
func mustParsePEM(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			panic(fmt.Sprintf("embedded Yubico certificate: %v", err))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		panic("embedded Yubico certificates: none found")
	}
	return certs
}
