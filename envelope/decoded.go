package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// MaxEnvelopeSize bounds the envelopes that are decoded for inspection.
// Notary envelopes carry a small payload, a few certificates and at most
// one timestamp token: a few KiB. notation itself reads signature blobs of
// up to 32 MiB from a registry; 4 MiB leaves room for long chains without
// letting a hostile input cost much.
const MaxEnvelopeSize = 4 << 20

// Names of the headers a Notary envelope may carry, whatever their label
// in a format: JWS labels them by these names (the certificate chain as
// "x5c"), COSE by integers (alg 1, crit 2, content type 3, x5chain 33)
// and by the same strings for the Notary ones. Header.Name holds one of
// them, or "" for any other header.
const (
	HeaderAlgorithm                    = "alg"
	HeaderCritical                     = "crit"
	HeaderContentType                  = "cty"
	HeaderCertificateChain             = "x5chain"
	HeaderSigningScheme                = "io.cncf.notary.signingScheme"
	HeaderSigningTime                  = "io.cncf.notary.signingTime"
	HeaderExpiry                       = "io.cncf.notary.expiry"
	HeaderAuthenticSigningTime         = "io.cncf.notary.authenticSigningTime"
	HeaderVerificationPlugin           = "io.cncf.notary.verificationPlugin"
	HeaderVerificationPluginMinVersion = "io.cncf.notary.verificationPluginMinVersion"
	HeaderSigningAgent                 = "io.cncf.notary.signingAgent"
	HeaderTimestamp                    = "io.cncf.notary.timestampSignature"
)

// Decoded is an envelope taken apart without verifying anything, for
// inspection: its headers as they are on the wire, the typed values of
// those it could read, and its raw parts. The format packages fill it
// (jws.Decode, cose.Decode) from untrusted input: a header whose value it
// cannot read is kept, with a Problem, and its typed field stays zero.
type Decoded struct {
	// MediaType is MediaTypeJWS or MediaTypeCOSE.
	MediaType string
	// Protected and Unprotected are the headers in a stable order: for
	// COSE integer labels first, in ascending order, then text labels;
	// for JWS the labels sorted.
	Protected, Unprotected []Header
	// Algorithm is the signature algorithm the protected header names, nil
	// if it names none that Notary allows; AlgorithmLabel is its value as
	// text, e.g. "ES256" or "-7".
	Algorithm      *keyspec.Spec
	AlgorithmLabel string
	// ContentType is the payload content type, normally PayloadType.
	ContentType string
	// SigningScheme is normally SigningScheme.
	SigningScheme string
	// SigningTime, Expiry and AuthenticSigningTime are the signed times;
	// zero when absent or unreadable.
	SigningTime, Expiry, AuthenticSigningTime time.Time
	// Critical lists the labels the protected "crit" header marks as
	// critical, as text.
	Critical []string
	// SigningAgent is the unsigned signing agent, if any.
	SigningAgent string
	// Payload is the signed payload, decoded.
	Payload []byte
	// Signature is the raw signature: r‖s for ECDSA, the RSASSA-PSS
	// signature for RSA.
	Signature []byte
	// Certificates are the DER certificates of the chain header, in
	// order: leaf first.
	Certificates [][]byte
	// Timestamp is the DER RFC 3161 TimeStampToken, if any.
	Timestamp []byte
	// Problems says what is wrong with the envelope's structure beyond
	// single headers, such as unknown members or a payload that does not
	// decode.
	Problems []string
}

// Header is one header of a Decoded envelope.
type Header struct {
	// Label is the label as on the wire, as text: "alg",
	// "io.cncf.notary.signingTime", or "1" for a COSE integer label.
	Label string
	// Name is what the header is (one of the Header* constants), whatever
	// its label in the format; "" for a header Notary does not define.
	Name string
	// Value is the value as text: JSON for JWS, CBOR diagnostic notation
	// (RFC 8949 §8) for COSE, with times also in RFC 3339 and long values
	// shortened.
	Value string
	// Critical is whether the "crit" header lists this label.
	Critical bool
	// Problem says why the value breaks the Notary envelope rules; "" if
	// it does not, as far as its encoding goes.
	Problem string
}

// Descriptor is an OCI content descriptor, as the Notary payload names
// the signed artifact
// (https://github.com/opencontainers/image-spec/blob/v1.1.1/descriptor.md).
// Its fields are the ones notation-go accepts in a payload.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

// Platform is the platform of an OCI descriptor.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// CheckDigest checks that d is a sha256 or sha512 OCI digest in canonical
// form, such as "sha256:" and 64 lowercase hex digits.
func CheckDigest(d string) error {
	if !isDigest(d) {
		return fmt.Errorf("digest %q is not sha256: and 64 lowercase hex digits, or sha512: and 128", shorten(d, 80))
	}
	return nil
}

// isDigest reports whether d is an OCI digest with one of the registered
// algorithms notation resolves, in lowercase hex: "sha256:" and 64 digits,
// or "sha512:" and 128. It is written out rather than a regular expression
// so that no contract command pays for compiling one at start-up.
func isDigest(d string) bool {
	alg, hex, ok := strings.Cut(d, ":")
	switch {
	case !ok:
		return false
	case alg == "sha256" && len(hex) == 64, alg == "sha512" && len(hex) == 128:
	default:
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Check checks what notation requires of a payload's descriptor: a media
// type, a valid digest and a size that is not negative.
func (d Descriptor) Check() error {
	if d.MediaType == "" {
		return errors.New("the descriptor has no mediaType")
	}
	if err := CheckDigest(d.Digest); err != nil {
		return fmt.Errorf("the descriptor's %w", err)
	}
	if d.Size < 0 {
		return fmt.Errorf("the descriptor's size %d is negative", d.Size)
	}
	return nil
}

// ParseDescriptor reads a descriptor from JSON, refusing unknown fields
// (notation-go refuses them in a payload), trailing data and descriptors
// that Check rejects.
func ParseDescriptor(b []byte) (Descriptor, error) {
	var d Descriptor
	if err := decodeStrict(b, &d); err != nil {
		return Descriptor{}, fmt.Errorf("not an OCI descriptor: %w", err)
	}
	if err := d.Check(); err != nil {
		return Descriptor{}, err
	}
	return d, nil
}

// payload is the Notary payload (PayloadType).
type payload struct {
	TargetArtifact *Descriptor `json:"targetArtifact"`
}

// NewPayload returns the Notary payload that names d as the signed
// artifact: {"targetArtifact": d}.
func NewPayload(d Descriptor) ([]byte, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	return json.Marshal(payload{TargetArtifact: &d})
}

// ParsePayload reads the descriptor of the signed artifact from a Notary
// payload. As notation-go does, it refuses unknown fields at either level
// and a missing targetArtifact.
func ParsePayload(b []byte) (Descriptor, error) {
	var p payload
	if err := decodeStrict(b, &p); err != nil {
		return Descriptor{}, fmt.Errorf("the payload is not a Notary payload: %w", err)
	}
	if p.TargetArtifact == nil {
		return Descriptor{}, errors.New("the payload names no targetArtifact")
	}
	if err := p.TargetArtifact.Check(); err != nil {
		return *p.TargetArtifact, fmt.Errorf("the payload's targetArtifact: %w", err)
	}
	return *p.TargetArtifact, nil
}

// decodeStrict decodes b, one JSON value, into v, as notation-go reads a
// payload: unknown fields and trailing data are refused.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// MaxValueText bounds the text of a header value in a Decoded envelope.
const MaxValueText = 160

// ValueText returns s, the text of a header value, cut to MaxValueText
// bytes at a character boundary and marked with the full length when
// longer: a hostile envelope must not flood a terminal.
func ValueText(s string) string {
	if len(s) <= MaxValueText {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", cut(s, MaxValueText), len(s))
}

// shorten cuts s to at most n bytes for messages, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cut(s, n) + "…"
}

// cut returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cut(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CountText says "1 certificate" or "3 certificates".
func CountText(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
