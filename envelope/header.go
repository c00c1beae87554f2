package envelope

import (
	"fmt"
	"time"
)

// HeaderValue is the value of one header as a format encodes it: JSON in
// JWS (jws.Decode), CBOR in COSE (cose.Decode). Each method reads it as
// one kind of Notary header value; when the value is not of that kind, it
// says why in h.Problem and returns the zero value.
type HeaderValue interface {
	// Text reads a text string.
	Text(h *Header) string
	// Time reads a signed time, in UTC.
	Time(h *Header) time.Time
	// Certificates reads a certificate chain: DER certificates, at least
	// one.
	Certificates(h *Header) [][]byte
	// Token reads a DER timestamp token, not empty.
	Token(h *Header) []byte
}

// DecodeNotaryHeader reads a protected header that every format labels by
// its Notary name (the signing scheme, the signed times, the verification
// plugin and its minimum version) into d and h, and sets h.Name. Any
// other label changes nothing.
func (d *Decoded) DecodeNotaryHeader(h *Header, label string, v HeaderValue) {
	switch label {
	case HeaderSigningScheme:
		d.SigningScheme = v.Text(h)
	case HeaderSigningTime:
		d.SigningTime = v.Time(h)
	case HeaderExpiry:
		d.Expiry = v.Time(h)
	case HeaderAuthenticSigningTime:
		d.AuthenticSigningTime = v.Time(h)
	case HeaderVerificationPlugin, HeaderVerificationPluginMinVersion:
		v.Text(h)
	default:
		return
	}
	h.Name = label
}

// AddUnprotected reads an unprotected header into d and appends it to
// d.Unprotected: the certificate chain if chain is set (the format knows
// it by its own label), else the header that label names, if Notary
// defines it.
func (d *Decoded) AddUnprotected(h Header, label string, chain bool, v HeaderValue) {
	switch {
	case chain:
		h.Name = HeaderCertificateChain
		if certs := v.Certificates(&h); certs != nil {
			d.Certificates = certs
			h.Value = CountText(len(certs), "certificate", "certificates") + " (see the chain)"
		}
	case label == HeaderSigningAgent:
		h.Name = HeaderSigningAgent
		d.SigningAgent = v.Text(&h)
	case label == HeaderTimestamp:
		h.Name = HeaderTimestamp
		if token := v.Token(&h); token != nil {
			d.Timestamp = token
			h.Value = fmt.Sprintf("RFC 3161 timestamp token, %d bytes (see the timestamp)", len(token))
		}
	}
	d.Unprotected = append(d.Unprotected, h)
}

// CriticalLabels returns the labels that d.Critical lists, as a set, to
// mark the protected headers with.
func (d *Decoded) CriticalLabels() map[string]bool {
	critical := make(map[string]bool, len(d.Critical))
	for _, c := range d.Critical {
		critical[c] = true
	}
	return critical
}

// CheckCritical records in d.Problems each label that d.Critical lists
// but the protected header does not hold; present says whether it holds a
// label, given as text.
func (d *Decoded) CheckCritical(present func(label string) bool) {
	for _, c := range d.Critical {
		if !present(c) {
			d.Problems = append(d.Problems, fmt.Sprintf("header %q is marked critical but not present", ValueText(c)))
		}
	}
}
