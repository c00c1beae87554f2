package contract

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// Limits of a contract request. notation sends small requests: the
// descriptor of the artifact and a few settings. Anything much larger is
// not from notation, and is refused before the card is touched.
const (
	// MaxRequestSize bounds the JSON request on stdin.
	MaxRequestSize = 1 << 20
	// MaxPayloadSize bounds the Notary payload of generate-envelope: the
	// artifact's descriptor, a few hundred bytes with the annotations of
	// notation sign --annotation.
	MaxPayloadSize = 64 << 10
	// MaxSigningInput bounds the payload of generate-signature, the JWS
	// signing input or COSE Sig_structure notation builds around a Notary
	// payload: with the base64url encoding of a payload of MaxPayloadSize
	// and the protected header, it stays below twice that.
	MaxSigningInput = 2 * MaxPayloadSize
)

// request is a checked contract request.
type request struct {
	// body is the decoded request: a *plugin.GetMetadataRequest,
	// *plugin.DescribeKeyRequest, *plugin.GenerateSignatureRequest,
	// *plugin.GenerateEnvelopeRequest or *plugin.VerifySignatureRequest.
	body   any
	config config
	// plan is the signing plan of a command that uses the card; nil for
	// get-plugin-metadata and verify-signature.
	plan *signing.Plan
}

// close wipes what the plan holds.
func (r *request) close() {
	if r.plan != nil {
		r.plan.Close()
	}
}

// checkRequest decodes the request body of a contract command and checks
// everything that can be checked before the card is touched, so that a bad
// request costs no APDU and no PIN try: the size, the JSON shape, the
// contract version, the required fields and pluginConfig; then, for the
// commands that use the card, the signing plan (signing.NewPlan: the slot,
// the envelope type and expiry, and the files pluginConfig names) and the
// command's own fields. Every setting is checked whatever the command, so
// that a broken key configuration fails at notation's first call. version
// is the plugin's version. Errors are *plugin.Error or what NewPlan
// returns.
func checkRequest(cmd plugin.Command, body []byte, version string) (*request, error) {
	if len(body) > MaxRequestSize {
		return nil, plugin.NewValidationErrorf("the request is larger than %d bytes; notation sends small requests, so check what is calling the plugin", MaxRequestSize)
	}
	switch cmd {
	case plugin.CommandGetMetadata:
		var r plugin.GetMetadataRequest
		if err := decode(body, &r, true); err != nil {
			return nil, err
		}
		cfg, err := parseConfig(r.PluginConfig)
		if err != nil {
			return nil, err
		}
		if err := cfg.settings.Check(); err != nil {
			return nil, err
		}
		return &request{body: &r, config: cfg}, nil
	case plugin.CommandDescribeKey:
		var r plugin.DescribeKeyRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, err
		}
		return planRequest(&r, r.KeyID, r.PluginConfig, version, nil, nil)
	case plugin.CommandGenerateSignature:
		var r plugin.GenerateSignatureRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, err
		}
		return planRequest(&r, r.KeyID, r.PluginConfig, version, nil, func() error { return checkSignatureRequest(&r) })
	case plugin.CommandVerifySignature:
		var r plugin.VerifySignatureRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, err
		}
		cfg, err := parseConfig(r.PluginConfig)
		if err != nil {
			return nil, err
		}
		return &request{body: &r, config: cfg}, nil
	case plugin.CommandGenerateEnvelope:
		var r plugin.GenerateEnvelopeRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, err
		}
		return planRequest(&r, r.KeyID, r.PluginConfig, version, func(s *signing.Settings) {
			s.Format = r.SignatureEnvelopeType
			s.Expiry = seconds(r.ExpiryDurationInSeconds)
		}, func() error { return checkEnvelopeRequest(&r) })
	}
	return nil, plugin.NewValidationErrorf("unknown command %s", quote(string(cmd)))
}

// planRequest checks a request of a command that uses the card: its
// pluginConfig, then the plan of its signatures with the keyId and what
// settle (nil: nothing) adds from the request, then the command's own
// fields with check (nil: none).
func planRequest(body any, keyID string, pluginConfig map[string]string, version string, settle func(*signing.Settings), check func() error) (*request, error) {
	cfg, err := parseConfig(pluginConfig)
	if err != nil {
		return nil, err
	}
	s := cfg.settings
	s.Slot, s.Version = keyID, version
	if settle != nil {
		settle(&s)
	}
	plan, err := signing.NewPlan(s)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			plan.Close()
			return nil, err
		}
	}
	return &request{body: body, config: cfg, plan: plan}, nil
}

// seconds converts expiryDurationInSeconds to a duration, the largest one
// for a number of seconds that has none.
func seconds(n uint64) time.Duration {
	if n > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(n) * time.Second
}

// checkSignatureRequest checks the fields of a generate-signature request
// that need no card: a keySpec a PIV card can hold, the hashAlgorithm that
// goes with it, and a payload of at most MaxSigningInput bytes shaped like
// what notation asks a RAW plugin to sign, a JWS signing input or a COSE
// Sig_structure, so that the card key is never asked to sign other data.
// Whether the slot holds a key of that keySpec is checked with the card.
func checkSignatureRequest(r *plugin.GenerateSignatureRequest) error {
	spec, ok := piv.LookupKeySpec(string(r.KeySpec))
	if !ok {
		return plugin.NewValidationErrorf("keySpec %s is not a key a PIV card holds for Notary signatures (%s): notation sends the keySpec describe-key answered, so check what is calling the plugin",
			quote(string(r.KeySpec)), keyspec.Names(piv.KeySpecs()))
	}
	if want := hashName(spec.Hash); string(r.Hash) != want {
		return plugin.NewValidationErrorf("hashAlgorithm %s does not fit keySpec %s, which signs with %s: check what is calling the plugin", quote(string(r.Hash)), spec.Name, want)
	}
	if len(r.Payload) > MaxSigningInput {
		return plugin.NewValidationErrorf("payload is %d bytes, more than the limit of %d: notation asks to sign the JWS signing input or COSE Sig_structure of a Notary payload, a few hundred bytes; "+
			"sign with fewer or shorter annotations (notation sign --annotation), or check what is calling the plugin", len(r.Payload), MaxSigningInput)
	}
	if !isJWSSigningInput(r.Payload) && !isCOSESigStructure(r.Payload) {
		return plugin.NewValidationError("payload is neither a JWS signing input (BASE64URL(header).BASE64URL(payload)) nor a COSE Sig_structure, the only data notation asks a RAW plugin to sign: check what is calling the plugin")
	}
	return nil
}

// isJWSSigningInput reports whether b has the shape of a JWS signing
// input: two non-empty unpadded base64url strings joined by a dot.
func isJWSSigningInput(b []byte) bool {
	header, payload, ok := bytes.Cut(b, []byte("."))
	return ok && isBase64URL(header) && isBase64URL(payload)
}

// isBase64URL reports whether b is non-empty unpadded base64url.
func isBase64URL(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(string(b))
	return err == nil
}

// coseSigPrefix starts every COSE_Sign1 Sig_structure (RFC 9052 §4.4): an
// array of four items whose first is the text "Signature1".
var coseSigPrefix = append([]byte{0x84, 0x6a}, "Signature1"...)

// isCOSESigStructure reports whether b starts like a COSE_Sign1
// Sig_structure.
func isCOSESigStructure(b []byte) bool {
	return bytes.HasPrefix(b, coseSigPrefix)
}

// checkEnvelopeRequest checks the fields of a generate-envelope request
// that need no card and that the plan does not cover: the Notary
// payloadType, and a Notary payload of at most MaxPayloadSize bytes that
// notation will accept back (envelope.ParsePayload).
func checkEnvelopeRequest(r *plugin.GenerateEnvelopeRequest) error {
	if r.PayloadType != envelope.PayloadType {
		return plugin.NewValidationErrorf("payloadType %s is not supported; notation sends %q", quote(r.PayloadType), envelope.PayloadType)
	}
	if len(r.Payload) > MaxPayloadSize {
		return plugin.NewValidationErrorf("payload is %d bytes, more than the limit of %d for a Notary payload, which names the artifact in a few hundred bytes: "+
			"sign with fewer or shorter annotations (notation sign --annotation), or check what is calling the plugin", len(r.Payload), MaxPayloadSize)
	}
	if _, err := envelope.ParsePayload(r.Payload); err != nil {
		return plugin.NewValidationErrorf(`payload: %v; notation sends a Notary payload, {"targetArtifact": descriptor}: check what is calling the plugin`, err)
	}
	return nil
}

// decodeContract decodes a request, then checks its contract version and
// its required fields.
func decodeContract(body []byte, req interface{ Validate() error }) error {
	if err := decode(body, req, false); err != nil {
		return err
	}
	var v struct {
		ContractVersion string `json:"contractVersion"`
	}
	if err := json.Unmarshal(body, &v); err == nil && v.ContractVersion != "" && v.ContractVersion != plugin.ContractVersion {
		return plugin.NewUnsupportedContractVersionError(clip(v.ContractVersion, maxQuoted))
	}
	return req.Validate()
}

// decode parses a JSON request. Unknown fields are ignored, as the contract
// asks; anything else that is not the expected shape is a validation error.
// get-plugin-metadata accepts an empty body, which is how notation asks
// when it installs or lists plugins.
func decode(body []byte, req any, emptyOK bool) error {
	if emptyOK && strings.TrimSpace(string(body)) == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(req); err != nil {
		return plugin.NewValidationErrorf("%s: %v", plugin.ErrorMsgMalformedInput, err)
	}
	if dec.More() {
		return plugin.NewValidationErrorf("%s: more than one JSON value on stdin", plugin.ErrorMsgMalformedInput)
	}
	return nil
}

// hashName names a hash as the plugin contract does.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA-256"
	case crypto.SHA384:
		return "SHA-384"
	case crypto.SHA512:
		return "SHA-512"
	}
	return h.String()
}
