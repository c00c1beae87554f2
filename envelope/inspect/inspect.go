// Package inspect reads Notary Project signature envelopes, JWS or COSE,
// that anyone may have built, and says what is inside and whether it holds
// up, without notation, a registry or a trust store.
//
// [Inspect] detects the format, takes the envelope apart (jws.Decode,
// cose.Decode), and returns a [Report]: every header with its meaning, the
// payload's descriptor, each certificate of the chain with the Notary
// Project certificate rules it breaks, the timestamp, and the integrity of
// the signature as notation-core-go judges it. Anything wrong is recorded
// in the report rather than returned as an error, so that a tampered or
// malformed envelope can still be shown; only input that is no envelope
// at all is an error.
//
// [Verify] runs on top of it the checks notation verify runs offline,
// against trust roots given as certificates instead of a trust policy:
// integrity, the envelope rules, the chain and its anchoring in a trust
// root, expiry and certificate validity, the timestamp, and optionally
// that the payload names a given artifact. Each check has a name, so a
// failure says which check failed.
//
// Both read untrusted input: the envelope is bounded by
// envelope.MaxEnvelopeSize, text taken from it by envelope.MaxValueText,
// and no input makes them panic (see the fuzz targets FuzzInspect here and
// FuzzDecode in envelope/jws and envelope/cose).
package inspect

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/internal/attestation"
)

// Report is what Inspect finds in an envelope. Its JSON form is the output
// of "notation-piv envelope inspect --json", documented in README.md:
// fields are only ever added to it.
type Report struct {
	// MediaType is envelope.MediaTypeJWS or envelope.MediaTypeCOSE.
	MediaType string `json:"mediaType"`
	// Format is "jws" or "cose".
	Format string `json:"format"`
	// Size is the envelope's size in bytes.
	Size int `json:"size"`
	// Integrity is whether the signature is valid against the leaf key.
	Integrity Integrity `json:"integrity"`
	// Algorithm is the signature algorithm.
	Algorithm AlgorithmInfo `json:"algorithm"`
	// SigningScheme is the signed signing scheme, normally "notary.x509".
	SigningScheme string `json:"signingScheme"`
	// SigningTime is the signed signing time; nil when absent.
	SigningTime *time.Time `json:"signingTime"`
	// Expiry is the signed expiry; nil when there is none.
	Expiry *time.Time `json:"expiry"`
	// AuthenticSigningTime is the signing time of the
	// notary.x509.signingAuthority scheme; nil when absent.
	AuthenticSigningTime *time.Time `json:"authenticSigningTime,omitempty"`
	// SigningAgent names the software that signed; it is not signed.
	SigningAgent string `json:"signingAgent"`
	// ContentType is the payload content type.
	ContentType string `json:"contentType"`
	// Critical lists the headers marked critical.
	Critical []string `json:"critical"`
	// ProtectedHeaders and UnprotectedHeaders are every header, with its
	// meaning.
	ProtectedHeaders   []HeaderInfo `json:"protectedHeaders"`
	UnprotectedHeaders []HeaderInfo `json:"unprotectedHeaders"`
	// Payload is the signed payload.
	Payload PayloadInfo `json:"payload"`
	// SignatureSize is the size of the raw signature in bytes.
	SignatureSize int `json:"signatureSize"`
	// Certificates is the certificate chain, leaf first.
	Certificates []CertificateInfo `json:"certificates"`
	// Chain is whether the chain as a whole meets the Notary rules.
	Chain ChainInfo `json:"chain"`
	// Timestamp is the RFC 3161 timestamp; nil when there is none.
	Timestamp *TimestampInfo `json:"timestamp"`
	// Attestation is the key attestation of notation-piv's attested
	// signatures; nil when the envelope carries none.
	Attestation *AttestationInfo `json:"attestation,omitempty"`
	// Problems lists what breaks the Notary envelope rules, apart from
	// integrity, the chain and the timestamp: empty for a sound envelope.
	Problems []string `json:"problems"`

	decoded *envelope.Decoded
	chain   []*x509.Certificate // nil unless every certificate parses
	// unchecked says which certificate has a key the Notary rules do not
	// allow, if one has: no signature is then checked with it.
	unchecked string
	// verificationPlugin and extended are what notation hands a
	// verification plugin (readPluginAttributes): the plugin's name and
	// the other extended attributes.
	verificationPlugin string
	extended           map[string]any
}

// Integrity statuses.
const (
	// StatusValid: the check passed.
	StatusValid = "valid"
	// StatusInvalid: the check failed.
	StatusInvalid = "invalid"
	// StatusUnchecked: the check could not run, or was not asked for.
	StatusUnchecked = "unchecked"
)

// Integrity is the verdict of notation-core-go on the signature.
type Integrity struct {
	// Status is StatusValid, StatusInvalid, or StatusUnchecked when there
	// is no usable leaf certificate to check the signature with.
	Status string `json:"status"`
	// Detail says what was checked, or why it failed.
	Detail string `json:"detail"`
}

// AlgorithmInfo is the signature algorithm.
type AlgorithmInfo struct {
	// Header is the algorithm as the protected header gives it, as text:
	// "ES256" (JWS) or "-7" (COSE).
	Header string `json:"header"`
	// Name is the JWS name of the algorithm, e.g. "ES256"; "" if the
	// header names none that Notary allows.
	Name string `json:"name"`
	// SigningAlgorithm is the Notary name, e.g. "ECDSA-SHA-256".
	SigningAlgorithm string `json:"signingAlgorithm"`
	// KeySpec is the key spec the algorithm goes with, e.g. "EC-256".
	KeySpec string `json:"keySpec"`
	// LeafKeySpec is the key spec of the leaf certificate's key.
	LeafKeySpec string `json:"leafKeySpec"`
	// MatchesLeaf is whether the algorithm is the one the leaf key fixes.
	MatchesLeaf bool `json:"matchesLeaf"`
}

// HeaderInfo is one header.
type HeaderInfo struct {
	// Label is the label as on the wire, as text ("alg", "1",
	// "io.cncf.notary.signingTime").
	Label string `json:"label"`
	// Name is what the header is, whatever the format calls it: "alg",
	// "crit", "cty", "x5chain" or the io.cncf.notary name; "" for a
	// header Notary does not define.
	Name string `json:"name"`
	// Meaning explains the header in a few words.
	Meaning string `json:"meaning"`
	// Value is the value as text: JSON for JWS, CBOR diagnostic notation
	// for COSE; long values are shortened.
	Value string `json:"value"`
	// Critical is whether the "crit" header lists it.
	Critical bool `json:"critical"`
	// Problem says why the header breaks the Notary rules; "" if it does
	// not.
	Problem string `json:"problem,omitempty"`
}

// PayloadInfo is the signed payload.
type PayloadInfo struct {
	// Size is the payload's size in bytes.
	Size int `json:"size"`
	// TargetArtifact is the descriptor of the signed artifact; nil if the
	// payload names none.
	TargetArtifact *envelope.Descriptor `json:"targetArtifact"`
	// Problem says why the payload is not a sound Notary payload.
	Problem string `json:"problem,omitempty"`
	// Text is the payload as text, shortened, when it has a Problem.
	Text string `json:"text,omitempty"`
}

// ChainInfo is the verdict of notation-core-go's code-signing chain rules
// (ValidateCodeSigningCertChain, without a time).
type ChainInfo struct {
	// MeetsNotaryRules is whether the chain passes them.
	MeetsNotaryRules bool `json:"meetsNotaryRules"`
	// Problem says why not.
	Problem string `json:"problem,omitempty"`
}

// Options tune Inspect.
type Options struct {
	// Now is the time certificates are judged at; zero means time.Now().
	Now time.Time
	// TSARoots, if set, are trusted TSA roots: the timestamp is then
	// verified. Without them it is only read.
	TSARoots *x509.CertPool
	// AttestationRoots, if set, are the trusted attestation roots that
	// an attestation's chain is checked against; nil means Yubico's.
	AttestationRoots *attestation.Roots
}

// Detect returns the media type of env by its first byte: a JSON object
// is JWS, a CBOR tag (COSE_Sign1 is tag 18) is COSE.
func Detect(env []byte) (string, error) {
	trimmed := bytes.TrimLeft(env, " \t\r\n")
	switch {
	case len(env) == 0:
		return "", errors.New("the envelope is empty")
	case len(env) > envelope.MaxEnvelopeSize:
		return "", fmt.Errorf("the envelope is %d bytes, more than the limit of %d: Notary envelopes are a few KiB", len(env), envelope.MaxEnvelopeSize)
	case len(trimmed) > 0 && trimmed[0] == '{':
		return envelope.MediaTypeJWS, nil
	case env[0]>>5 == 6:
		return envelope.MediaTypeCOSE, nil
	}
	return "", errors.New("this is neither a JWS envelope (a JSON object) nor a COSE envelope (a CBOR tag)")
}

// Inspect reads env, a JWS or COSE envelope. It returns an error only if
// env is no envelope at all; everything wrong with an envelope is in the
// Report.
func Inspect(env []byte, opts Options) (*Report, error) {
	mediaType, err := Detect(env)
	if err != nil {
		return nil, err
	}
	var d *envelope.Decoded
	r := &Report{MediaType: mediaType, Size: len(env)}
	if mediaType == envelope.MediaTypeJWS {
		r.Format = "jws"
		d, err = jws.Decode(env)
	} else {
		r.Format = "cose"
		d, err = cose.Decode(env)
	}
	if err != nil {
		return nil, err
	}
	r.decoded = d
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r.headers(d)
	r.payload(d.Payload)
	r.SignatureSize = len(d.Signature)
	r.certificates(d, now)
	leaf := r.leaf()
	r.algorithm(d, leaf)
	coreErr := r.integrity(env, leaf)
	r.readPluginAttributes(env)
	r.readAttestation(opts.AttestationRoots, leaf, now)
	r.envelopeProblems(d, coreErr)
	if len(d.Timestamp) > 0 {
		r.Timestamp = inspectTimestamp(d, r.chain, opts.TSARoots)
	}
	return r, nil
}

// headers fills in the headers and the signed attributes.
func (r *Report) headers(d *envelope.Decoded) {
	r.SigningScheme, r.ContentType, r.SigningAgent = d.SigningScheme, d.ContentType, d.SigningAgent
	r.SigningTime, r.Expiry, r.AuthenticSigningTime = timePtr(d.SigningTime), timePtr(d.Expiry), timePtr(d.AuthenticSigningTime)
	r.Critical = []string{}
	for _, c := range d.Critical {
		r.Critical = append(r.Critical, envelope.ValueText(c))
	}
	r.ProtectedHeaders = headerInfos(d.Protected, true)
	r.UnprotectedHeaders = headerInfos(d.Unprotected, false)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func headerInfos(hs []envelope.Header, protected bool) []HeaderInfo {
	out := []HeaderInfo{}
	for _, h := range hs {
		m := meaning(h.Name, protected)
		if protected && h.Label == attestation.HeaderKey {
			m = "notation-piv's key attestation, for the piv verification plugin (see the attestation)"
		}
		out = append(out, HeaderInfo{Label: h.Label, Name: h.Name, Meaning: m, Value: h.Value, Critical: h.Critical, Problem: h.Problem})
	}
	return out
}

// meaning explains a header in a few words.
func meaning(name string, protected bool) string {
	switch name {
	case envelope.HeaderAlgorithm:
		return "signature algorithm; the leaf key fixes it"
	case envelope.HeaderCritical:
		return "headers a verifier must understand"
	case envelope.HeaderContentType:
		return "media type of the payload"
	case envelope.HeaderSigningScheme:
		return "signing scheme; notary.x509: the signer claims the signing time"
	case envelope.HeaderSigningTime:
		return "time the signer claims to have signed"
	case envelope.HeaderExpiry:
		return "time after which the signature must not be trusted"
	case envelope.HeaderAuthenticSigningTime:
		return "signing time asserted by a signing authority (notary.x509.signingAuthority)"
	case envelope.HeaderVerificationPlugin:
		return "plugin notation must run to verify the signature"
	case envelope.HeaderVerificationPluginMinVersion:
		return "lowest version of the verification plugin"
	case envelope.HeaderCertificateChain:
		return "certificate chain, leaf first, root last"
	case envelope.HeaderSigningAgent:
		return "software that signed (not signed itself)"
	case envelope.HeaderTimestamp:
		return "RFC 3161 timestamp over the signature"
	}
	if protected {
		return "not a Notary header (signed)"
	}
	return "not a Notary header (not signed)"
}

// payload reads the payload's descriptor.
func (r *Report) payload(p []byte) {
	r.Payload.Size = len(p)
	d, err := envelope.ParsePayload(p)
	if err != nil {
		r.Payload.Problem = err.Error()
		r.Payload.Text = envelope.ValueText(strings.ToValidUTF8(string(p), "\uFFFD"))
	}
	if d.MediaType != "" || d.Digest != "" {
		r.Payload.TargetArtifact = &d
	}
}

// leaf returns the parsed leaf certificate, or nil.
func (r *Report) leaf() *x509.Certificate {
	if len(r.decoded.Certificates) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(r.decoded.Certificates[0])
	if err != nil {
		return nil
	}
	return leaf
}

// algorithm describes the algorithm and compares it with the leaf key.
func (r *Report) algorithm(d *envelope.Decoded, leaf *x509.Certificate) {
	a := AlgorithmInfo{Header: d.AlgorithmLabel}
	if d.Algorithm != nil {
		a.Name, a.SigningAlgorithm, a.KeySpec = d.Algorithm.JWS, d.Algorithm.SigningAlgorithm, d.Algorithm.Name
	}
	if leaf != nil {
		a.LeafKeySpec, _ = keySpec(leaf)
		a.MatchesLeaf = a.KeySpec != "" && a.KeySpec == a.LeafKeySpec
	}
	r.Algorithm = a
}

// integrity asks notation-core-go whether the signature is valid. It
// returns the error notation-core-go gave for anything else than the
// signature, if any.
//
// notation-core-go's Envelope.Verify (v1.3.0, both formats) first finds
// the leaf certificate and its key, then checks the signature (failing
// with a *signature.SignatureIntegrityError), and only then the headers
// and the chain. So when the leaf certificate parses and holds a key
// Notary supports, any other error comes after a valid signature.
func (r *Report) integrity(env []byte, leaf *x509.Certificate) error {
	if r.unchecked != "" {
		// notation-core-go checks the signature and then every
		// signature of the chain, whatever its keys.
		r.Integrity = Integrity{StatusUnchecked, r.unchecked}
		return nil
	}
	e, err := signature.ParseEnvelope(r.MediaType, env)
	if err != nil {
		r.Integrity = Integrity{StatusUnchecked, "notation-core-go cannot read the envelope: " + err.Error()}
		return nil
	}
	_, err = e.Verify()
	var integrityErr *signature.SignatureIntegrityError
	switch {
	case err == nil:
	case errors.As(err, &integrityErr):
		r.Integrity = Integrity{StatusInvalid, err.Error()}
		return nil
	case leaf == nil:
		r.Integrity = Integrity{StatusUnchecked, "no leaf certificate to check the signature with: " + err.Error()}
		return nil
	default:
		if _, supported := keySpec(leaf); !supported {
			r.Integrity = Integrity{StatusUnchecked, "the leaf key cannot sign Notary signatures: " + err.Error()}
			return nil
		}
	}
	spec, _ := keySpec(leaf)
	r.Integrity = Integrity{StatusValid, fmt.Sprintf("the signature verifies with the %s key of the leaf certificate %q", spec, subject(leaf))}
	return err
}

// envelopeProblems gathers what breaks the envelope rules: the decoder's
// findings, the headers' meaning, and what notation-core-go rejects
// beyond the signature and the chain rules (reported in Chain).
func (r *Report) envelopeProblems(d *envelope.Decoded, coreErr error) {
	p := slices.Clone(d.Problems)
	for _, h := range r.ProtectedHeaders {
		// notation hands the attestation to the verification plugin the
		// envelope names.
		forPlugin := h.Label == attestation.HeaderKey && r.verificationPlugin == attestation.VerificationPlugin
		if h.Critical && h.Name == "" && !forPlugin {
			p = append(p, fmt.Sprintf("header %q is marked critical but Notary does not define it: verifiers reject the signature", h.Label))
		}
	}
	switch {
	case d.AlgorithmLabel == "":
		p = append(p, "no signature algorithm (alg) in the protected header")
	case r.Algorithm.LeafKeySpec != "" && r.Algorithm.KeySpec != "" && !r.Algorithm.MatchesLeaf:
		p = append(p, fmt.Sprintf("the algorithm %s is for %s keys, but the leaf key is %s", r.Algorithm.Name, r.Algorithm.KeySpec, r.Algorithm.LeafKeySpec))
	}
	if d.ContentType != envelope.PayloadType {
		p = append(p, fmt.Sprintf("the payload content type is %q, want %q", envelope.ValueText(d.ContentType), envelope.PayloadType))
	}
	if d.SigningScheme != envelope.SigningScheme {
		p = append(p, fmt.Sprintf("the signing scheme is %q: only %q is supported here", envelope.ValueText(d.SigningScheme), envelope.SigningScheme))
	}
	switch {
	case d.SigningTime.IsZero():
		p = append(p, "no signing time")
	case !d.Expiry.IsZero() && !d.Expiry.After(d.SigningTime):
		p = append(p, "the expiry is not after the signing time")
	}
	for _, must := range []struct {
		label   string
		present bool
	}{{envelope.HeaderSigningScheme, true}, {envelope.HeaderExpiry, !d.Expiry.IsZero()}} {
		if must.present && !slices.Contains(d.Critical, must.label) {
			p = append(p, fmt.Sprintf("header %q must be marked critical", must.label))
		}
	}
	if len(d.Certificates) == 0 {
		p = append(p, "no certificate chain")
	}
	if r.Payload.Problem != "" {
		p = append(p, r.Payload.Problem)
	}
	if coreErr != nil && !(r.Chain.Problem != "" && strings.Contains(coreErr.Error(), r.Chain.Problem)) {
		p = append(p, "notation-core-go rejects the envelope: "+coreErr.Error())
	}
	if p == nil {
		p = []string{}
	}
	r.Problems = p
}
