package inspect

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// CertificateInfo is one certificate of the chain.
type CertificateInfo struct {
	// Index is the position in the chain, 0 for the leaf.
	Index int `json:"index"`
	// Role is "leaf", "intermediate" or "root", or "self-signed leaf" for
	// a chain of one.
	Role string `json:"role"`
	// Error says why the certificate does not parse; the fields below are
	// then empty.
	Error        string    `json:"error,omitempty"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	SerialNumber string    `json:"serialNumber"`
	NotBefore    time.Time `json:"notBefore"`
	NotAfter     time.Time `json:"notAfter"`
	// KeySpec is the key's Notary key spec, e.g. "EC-256", or a
	// description such as "RSA-1024" for keys Notary does not support.
	// The signatures of a key Notary does not support are not checked:
	// SelfSigned is then false, and the certificates it issued are not
	// judged against it.
	KeySpec string `json:"keySpec"`
	// SHA256 is the SHA-256 thumbprint of the DER certificate in hex, as
	// notation lists it in the io.cncf.notary.x509chain.thumbprint#S256
	// annotation.
	SHA256     string `json:"sha256"`
	SelfSigned bool   `json:"selfSigned"`
	IsCA       bool   `json:"isCA"`
	// ValidNow is whether the certificate is valid at the time of
	// inspection; ValidAtSigningTime whether it was at the signed signing
	// time (false without one).
	ValidNow           bool `json:"validNow"`
	ValidAtSigningTime bool `json:"validAtSigningTime"`
	// MeetsNotaryRules is whether the certificate meets the Notary
	// Project certificate requirements for its place in the chain;
	// Problems says why not.
	MeetsNotaryRules bool     `json:"meetsNotaryRules"`
	Problems         []string `json:"problems"`
}

// certificates describes the chain and judges it. Before any signature of
// the chain is checked, here or by notation-core-go, each certificate's
// key must be one the Notary rules allow (keyspec.All): checking a
// signature costs time in the square of the key's size, and an envelope
// within MaxEnvelopeSize can carry 32 certificates of RSA keys of many
// thousand bits. A certificate with another key is flagged and the
// signatures it would check are skipped, and so are notation-core-go's
// checks of the chain and of the envelope (see integrity).
func (r *Report) certificates(d *envelope.Decoded, now time.Time) {
	r.Certificates = []CertificateInfo{}
	chain := make([]*x509.Certificate, len(d.Certificates))
	complete := true
	for i, der := range d.Certificates {
		info := CertificateInfo{Index: i, Role: role(i, len(d.Certificates)), Problems: []string{}}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			info.Error = "the certificate does not parse: " + err.Error()
			info.Problems = append(info.Problems, info.Error)
			complete = false
		} else {
			chain[i] = c
			info.Subject, info.Issuer = c.Subject.String(), c.Issuer.String()
			info.SerialNumber = c.SerialNumber.String()
			info.NotBefore, info.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
			var allowed bool
			info.KeySpec, allowed = keySpec(c)
			if !allowed && r.unchecked == "" {
				r.unchecked = fmt.Sprintf("certificate %d (%q) has an %s key, which the Notary rules do not allow, so no signature it makes is checked", i, subject(c), info.KeySpec)
			}
			info.SHA256 = Fingerprint(c)
			info.SelfSigned = allowed && certchain.SelfSigned(c)
			info.IsCA = c.BasicConstraintsValid && c.IsCA
			info.ValidNow = within(now, c)
			info.ValidAtSigningTime = !d.SigningTime.IsZero() && within(d.SigningTime, c)
		}
		r.Certificates = append(r.Certificates, info)
	}
	if len(chain) == 0 {
		r.Chain = ChainInfo{Problem: "the envelope carries no certificate chain"}
		return
	}
	if !complete {
		r.Chain = ChainInfo{Problem: "a certificate of the chain does not parse"}
		return
	}
	r.chain = chain
	for i := range chain {
		r.Certificates[i].Problems = append(r.Certificates[i].Problems, certProblems(chain, i)...)
		r.Certificates[i].MeetsNotaryRules = len(r.Certificates[i].Problems) == 0
	}
	if r.unchecked != "" {
		r.Chain = ChainInfo{Problem: r.unchecked}
		return
	}
	if err := nx509.ValidateCodeSigningCertChain(chain, nil); err != nil {
		r.Chain = ChainInfo{Problem: err.Error()}
		return
	}
	r.Chain = ChainInfo{MeetsNotaryRules: true}
}

// role names the place of certificate i in a chain of n.
func role(i, n int) string {
	switch {
	case n == 1:
		return "self-signed leaf"
	case i == 0:
		return "leaf"
	case i == n-1:
		return "root"
	}
	return "intermediate"
}

func within(t time.Time, c *x509.Certificate) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

// keySpec returns the Notary key spec of c's key and whether Notary
// supports it; for other keys, a description such as "RSA-1024".
func keySpec(c *x509.Certificate) (string, bool) {
	alg, err := keyspec.Of(c.PublicKey)
	if err != nil {
		return keyspec.Describe(c.PublicKey), false
	}
	return alg.Name, true
}

// allowedKey reports whether the Notary rules allow c's key, and so
// whether signatures made with it may be checked.
func allowedKey(c *x509.Certificate) bool {
	_, ok := keySpec(c)
	return ok
}

// subject names a certificate for messages.
var subject = certchain.Subject

// oidKeyUsage is the key usage extension (RFC 5280 §4.2.1.3).
var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// excludedEKUs are the extended key usages a Notary signing certificate
// must not have.
var excludedEKUs = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

// leafOnlyUsages are the key usages a Notary signing certificate must not
// have beside digitalSignature (nonRepudiation is allowed).
var leafOnlyUsages = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

// certProblems lists the Notary Project certificate requirements that
// certificate i of chain breaks, for its place in the chain, with the
// rules notation-core-go v1.3.0 applies in ValidateCodeSigningCertChain
// (https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#certificate-requirements),
// leaving out validity periods: those depend on the time of verification.
// Unlike notation-core-go it does not stop at the first broken rule, so
// that every certificate gets a verdict. Signatures are checked only with
// keys the rules allow (see certificates).
func certProblems(chain []*x509.Certificate, i int) []string {
	c, n := chain[i], len(chain)
	var p []string
	selfIssued := bytes.Equal(c.RawIssuer, c.RawSubject)
	checkable := allowedKey(c)
	if !checkable && i > 0 {
		p = append(p, fmt.Sprintf("the key (%s) is not one the Notary rules allow (%s): no signature it makes is checked", keyspec.Describe(c.PublicKey), keyspec.Names(keyspec.All())))
	}
	switch {
	case !checkable && selfIssued:
		// Whether it signed itself is not checked.
	case i == n-1 && selfIssued && !certchain.SelfSigned(c):
		p = append(p, "it names itself as its issuer, but its self-signature is invalid: "+c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature).Error())
	case n == 1 && !selfIssued:
		p = append(p, fmt.Sprintf("a chain of one certificate must be a self-signed certificate, but this one is issued by %q: add the certificates of its issuers up to the root", c.Issuer))
	case i == n-1 && n > 1 && !selfIssued:
		p = append(p, fmt.Sprintf("the chain ends here, but this certificate is issued by %q: add the certificates of its issuers up to the self-signed root", c.Issuer))
	case i < n-1 && certchain.SelfSigned(c):
		p = append(p, "self-signed, but certificates follow it: a chain ends with its only self-signed certificate")
	}
	if i < n-1 {
		parent := chain[i+1]
		switch {
		case !bytes.Equal(c.RawIssuer, parent.RawSubject):
			p = append(p, fmt.Sprintf("issued by %q, not by the next certificate %q", c.Issuer, parent.Subject))
		case !allowedKey(parent):
			// The parent is flagged; its signature is not checked.
		default:
			if err := c.CheckSignatureFrom(parent); err != nil {
				p = append(p, fmt.Sprintf("not validly signed by the next certificate: %v", err))
			}
		}
	}
	ku := keyUsageProblem(c)
	if i == 0 {
		if c.BasicConstraintsValid && c.IsCA {
			p = append(p, "a signing certificate must not be a CA (basic constraints CA=true)")
		}
		if ku == "" && c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			ku = "the key usage lacks digitalSignature"
		}
		if ku == "" {
			var extra []string
			for _, u := range leafOnlyUsages {
				if c.KeyUsage&u.bit != 0 {
					extra = append(extra, u.name)
				}
			}
			if extra != nil {
				ku = "the key usage must be digitalSignature only, but has " + strings.Join(extra, ", ")
			}
		}
		for _, eku := range c.ExtKeyUsage {
			if name, bad := excludedEKUs[eku]; bad {
				p = append(p, "the extended key usage must not include "+name)
			}
		}
		if spec, ok := keySpec(c); !ok {
			p = append(p, "the key ("+spec+") cannot sign Notary signatures: use RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384 or EC-521")
		}
	} else {
		if !c.BasicConstraintsValid || !c.IsCA {
			p = append(p, "a CA certificate must have basic constraints with CA=true")
		} else if pathLenSet := c.MaxPathLen > 0 || (c.MaxPathLen == 0 && c.MaxPathLenZero); pathLenSet && c.MaxPathLen < i-1 {
			p = append(p, fmt.Sprintf("its path length constraint %d is less than the %d CA certificates below it", c.MaxPathLen, i-1))
		}
		if ku == "" && c.KeyUsage&x509.KeyUsageCertSign == 0 {
			ku = "the key usage lacks keyCertSign"
		}
	}
	if ku != "" {
		p = append(p, ku)
	}
	return p
}

// keyUsageProblem says if the key usage extension is missing or not
// critical.
func keyUsageProblem(c *x509.Certificate) string {
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidKeyUsage) {
			if !ext.Critical {
				return "the key usage extension must be marked critical"
			}
			return ""
		}
	}
	return "the key usage extension is missing"
}
