package inspect

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/timestamp"
)

// TimestampInfo is the RFC 3161 timestamp of an envelope.
type TimestampInfo struct {
	// Size is the size of the DER token in bytes.
	Size int `json:"size"`
	// Error says why the token does not parse; the fields below up to
	// StampsSignature are then empty.
	Error string `json:"error,omitempty"`
	// GenTime is the time the TSA asserts.
	GenTime *time.Time `json:"genTime"`
	// Accuracy is how far GenTime may be off either way, as a Go duration
	// ("1s", "500ms"); "0s" when the token gives none.
	Accuracy string `json:"accuracy"`
	// HashAlgorithm is the hash of the message imprint ("SHA-256"), or its
	// OID if it is none Notary allows.
	HashAlgorithm string `json:"hashAlgorithm"`
	// Policy is the TSA policy OID.
	Policy string `json:"policy"`
	// SerialNumber is the token's serial number, in decimal.
	SerialNumber string `json:"serialNumber"`
	// TSA is the TSA certificate that signed the token; nil if the token
	// does not identify one it carries, and TSAProblem then says why.
	TSA        *TSACertificate `json:"tsa"`
	TSAProblem string          `json:"tsaProblem,omitempty"`
	// StampsSignature is whether the token's message imprint is the hash
	// of this envelope's signature.
	StampsSignature bool `json:"stampsSignature"`
	// Status is StatusValid when the token was verified against the TSA
	// roots given, StatusInvalid when it failed, StatusUnchecked when no
	// TSA root was given.
	Status string `json:"status"`
	// Detail says what was checked, or why it failed.
	Detail string `json:"detail"`

	info *timestamp.Info
}

// TSACertificate describes the certificate of a timestamp authority.
type TSACertificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	SHA256    string    `json:"sha256"`
}

// inspectTimestamp reads the envelope's timestamp token and, with roots,
// verifies it as notation verify does: over the signature, with the hash
// of the leaf's key spec, chained to roots, its time within the validity
// of every certificate of the signing chain.
func inspectTimestamp(d *envelope.Decoded, chain []*x509.Certificate, roots *x509.CertPool) *TimestampInfo {
	ti := &TimestampInfo{Size: len(d.Timestamp), Status: StatusUnchecked}
	tok, err := timestamp.Parse(d.Timestamp)
	if err != nil {
		ti.Error = err.Error()
		ti.Status, ti.Detail = StatusInvalid, err.Error()
		return ti
	}
	ti.GenTime = &tok.GenTime
	ti.Accuracy = tok.Accuracy.String()
	ti.HashAlgorithm = tok.HashOID.String()
	if tok.Hash != 0 {
		ti.HashAlgorithm = tok.Hash.String()
	}
	ti.Policy = tok.Policy.String()
	if tok.SerialNumber != nil {
		ti.SerialNumber = tok.SerialNumber.String()
	}
	if tok.SignerError != nil {
		ti.TSAProblem = tok.SignerError.Error()
	}
	if c := tok.Signer; c != nil {
		ti.TSA = &TSACertificate{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: Fingerprint(c)}
	}
	ti.StampsSignature = tok.Stamps(d.Signature)
	if roots == nil {
		ti.Detail = "not verified: no TSA root certificate was given"
		return ti
	}
	if len(chain) == 0 {
		ti.Status, ti.Detail = StatusInvalid, "cannot verify it: the certificate chain of the envelope is missing or does not parse"
		return ti
	}
	alg, err := keyspec.Of(chain[0].PublicKey)
	if err != nil {
		ti.Status, ti.Detail = StatusInvalid, fmt.Sprintf("cannot verify it: leaf certificate %q: %v", subject(chain[0]), err)
		return ti
	}
	info, err := timestamp.Verify(d.Timestamp, d.Signature, alg.Hash, roots)
	if err == nil {
		err = info.CheckWithin(chain)
	}
	if err != nil {
		ti.Status, ti.Detail = StatusInvalid, err.Error()
		return ti
	}
	ti.info = info
	ti.Status = StatusValid
	ti.Detail = fmt.Sprintf("verified: the timestamp covers the signature, chains to a trusted TSA root, and %s ± %s lies within the validity of every signing certificate",
		info.GenTime.Format(time.RFC3339), info.Accuracy)
	return ti
}
