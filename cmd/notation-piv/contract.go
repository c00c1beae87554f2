package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/piv"
)

// pluginName is the name notation knows the plugin by: the binary must be
// called notation-piv.
const pluginName = "piv"

// Limits of a contract request. notation sends small requests: the
// descriptor of the artifact and a few settings. Anything much larger is
// not from notation, and is refused before the card is touched.
const (
	// maxRequestSize bounds the JSON request on stdin.
	maxRequestSize = 1 << 20
	// maxPayloadSize bounds the Notary payload of generate-envelope: the
	// artifact's descriptor, a few hundred bytes with the annotations of
	// notation sign --annotation.
	maxPayloadSize = 64 << 10
	// maxSigningInput bounds the payload of generate-signature, the JWS
	// signing input or COSE Sig_structure notation builds around a Notary
	// payload: with the base64url encoding of a payload of maxPayloadSize
	// and the protected header, it stays below twice that.
	maxSigningInput = 2 * maxPayloadSize
	// maxConfigKey bounds a pluginConfig key; the valid ones are short.
	maxConfigKey = 64
	// maxConfigValue bounds a pluginConfig value: a path, a URL, a reader
	// name or a short word.
	maxConfigValue = 4096
)

// run executes one invocation and returns the exit status. Only main exits.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch cmd := plugin.Command(args[0]); cmd {
	case plugin.CommandGetMetadata, plugin.CommandDescribeKey, plugin.CommandGenerateSignature, plugin.CommandGenerateEnvelope:
		if len(args) > 1 {
			return writeError(stderr, plugin.NewValidationErrorf("%s takes no arguments, only a JSON request on stdin", cmd))
		}
		log := openLog()
		defer log.Close()
		if err := log.Err(); err != nil {
			return writeError(stderr, toPluginError(err))
		}
		resp, err := runContract(ctx, cmd, stdin, log)
		if err != nil {
			perr := toPluginError(err)
			log.Printf("%s failed: %s: %s", cmd, perr.ErrCode, perr.Message)
			return writeError(stderr, perr)
		}
		out, err := json.Marshal(resp)
		if err != nil {
			return writeError(stderr, plugin.NewGenericErrorf(plugin.ErrorMsgMalformedOutputFmt, err.Error()))
		}
		if _, err := stdout.Write(out); err != nil {
			return 1
		}
		log.Printf("%s succeeded", cmd)
		return 0
	case "version", "--version":
		fmt.Fprintf(stdout, "notation-piv %s\n", pluginVersion())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		if uc, ok := userCommands[args[0]]; ok {
			return uc.run(ctx, args[1:], stdin, stdout, stderr)
		}
		fmt.Fprintf(stderr, "notation-piv: error: unknown command %q\nhint: run \"notation-piv --help\" for the commands\n", args[0])
		return 1
	}
}

// usage is the help text of the plugin binary.
var usage = `notation-piv: a Notation plugin that signs with a key on a PIV card

Usage:
  notation-piv get-plugin-metadata   < request.json
  notation-piv describe-key          < request.json
  notation-piv generate-signature    < request.json
  notation-piv generate-envelope     < request.json
  notation-piv version

` + userCommandsHelp() + `
Notation runs the contract commands itself; install the plugin with
  notation plugin install --file notation-piv
and add a key by its PIV slot:
  notation key add mykey --plugin piv --id 9c --plugin-config serial=12345678

The PIN comes from NOTATION_PIV_PIN, the file named by pluginConfig pin_file,
the pinentry program named by pluginConfig pinentry, or a prompt on the
terminal, in that order. NOTATION_PIV_LOG=FILE writes a debug log.
`

// runContract decodes, checks and answers one contract request.
func runContract(ctx context.Context, cmd plugin.Command, stdin io.Reader, log *debugLog) (any, error) {
	body, err := io.ReadAll(io.LimitReader(stdin, maxRequestSize+1))
	if err != nil {
		return nil, plugin.NewGenericErrorf("cannot read the request from stdin: %v", err)
	}
	req, cfg, err := checkRequest(cmd, body)
	if err != nil {
		return nil, err
	}
	log.Printf("request %T: config %s", req, cfg)
	switch req := req.(type) {
	case *plugin.DescribeKeyRequest:
		return describeKey(ctx, *req, cfg, log)
	case *plugin.GenerateSignatureRequest:
		return generateSignature(ctx, *req, cfg, log)
	case *plugin.GenerateEnvelopeRequest:
		return generateEnvelope(ctx, *req, cfg, log)
	}
	return metadata(cfg), nil // get-plugin-metadata
}

// checkRequest decodes the request body of a contract command and checks
// everything that can be checked before the card is touched, so that a bad
// request costs no APDU and no PIN try: the size, the JSON shape, the
// contract version, the required fields and pluginConfig; then, for the
// commands that use the card, the rest (see checkCardRequest). It returns
// the decoded request, a *plugin.GetMetadataRequest,
// *plugin.DescribeKeyRequest, *plugin.GenerateSignatureRequest or
// *plugin.GenerateEnvelopeRequest, with its parsed config. Errors are
// *plugin.Error.
func checkRequest(cmd plugin.Command, body []byte) (any, config, error) {
	if len(body) > maxRequestSize {
		return nil, config{}, plugin.NewValidationErrorf("the request is larger than %d bytes; notation sends small requests, so check what is calling the plugin", maxRequestSize)
	}
	switch cmd {
	case plugin.CommandGetMetadata:
		var r plugin.GetMetadataRequest
		if err := decode(body, &r, true); err != nil {
			return nil, config{}, err
		}
		cfg, err := checkConfig(r.PluginConfig)
		if err != nil {
			return nil, config{}, err
		}
		return &r, cfg, nil
	case plugin.CommandDescribeKey:
		var r plugin.DescribeKeyRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, config{}, err
		}
		cfg, err := checkCardRequest(r.KeyID, r.PluginConfig, nil)
		if err != nil {
			return nil, config{}, err
		}
		return &r, cfg, nil
	case plugin.CommandGenerateSignature:
		var r plugin.GenerateSignatureRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, config{}, err
		}
		cfg, err := checkCardRequest(r.KeyID, r.PluginConfig, func() error { return checkSignatureRequest(&r) })
		if err != nil {
			return nil, config{}, err
		}
		return &r, cfg, nil
	case plugin.CommandGenerateEnvelope:
		var r plugin.GenerateEnvelopeRequest
		if err := decodeContract(body, &r); err != nil {
			return nil, config{}, err
		}
		cfg, err := checkCardRequest(r.KeyID, r.PluginConfig, func() error { return checkEnvelopeRequest(&r) })
		if err != nil {
			return nil, config{}, err
		}
		return &r, cfg, nil
	}
	return nil, config{}, plugin.NewValidationErrorf("unknown command %s", quote(string(cmd)))
}

// checkCardRequest checks, in this order, the pluginConfig of a command
// that uses the card, its keyId, its own fields with check (nil: it has
// none), and what pluginConfig names, as the signing path will use it:
// the CA bundle, the PIN file, the pinentry program and the timestamp
// authority. Every setting is checked whatever the command, so that a
// broken key configuration fails at notation's first call.
func checkCardRequest(keyID string, settings map[string]string, check func() error) (config, error) {
	cfg, err := checkConfig(settings)
	if err != nil {
		return config{}, err
	}
	if _, err := piv.ParseSlot(keyID); err != nil {
		return config{}, plugin.NewValidationErrorf("keyId: %v", err)
	}
	if check != nil {
		if err := check(); err != nil {
			return config{}, err
		}
	}
	if _, _, err := preflight(keyID, cfg, fromPluginConfig); err != nil {
		return config{}, err
	}
	if _, err := timestamper(cfg, fromPluginConfig); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// checkConfig checks the size of each pluginConfig key and value, then
// parses pluginConfig (parseConfig). A message names the key of a value
// that is too long, never the value: it could be a secret put in the
// wrong place.
func checkConfig(m map[string]string) (config, error) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if len(k) > maxConfigKey {
			return config{}, plugin.NewValidationErrorf("pluginConfig key %s is %d bytes long, longer than any valid key; valid keys are %s",
				quote(k), len(k), strings.Join(validConfigKeys, ", "))
		}
		if v := m[k]; len(v) > maxConfigValue {
			return config{}, plugin.NewValidationErrorf("pluginConfig %s holds %d bytes, more than the limit of %d: give a path, URL or word of usual length",
				quote(k), len(v), maxConfigValue)
		}
	}
	return parseConfig(m)
}

// checkSignatureRequest checks the fields of a generate-signature request
// that need no card: a keySpec a PIV card can hold, the hashAlgorithm that
// goes with it, and a payload of at most maxSigningInput bytes shaped like
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
	if len(r.Payload) > maxSigningInput {
		return plugin.NewValidationErrorf("payload is %d bytes, more than the limit of %d: notation asks to sign the JWS signing input or COSE Sig_structure of a Notary payload, a few hundred bytes; "+
			"sign with fewer or shorter annotations (notation sign --annotation), or check what is calling the plugin", len(r.Payload), maxSigningInput)
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
// that need no card: a supported signatureEnvelopeType, the Notary
// payloadType, a Notary payload of at most maxPayloadSize bytes that
// notation will accept back (envelope.ParsePayload), and an expiry of at
// most 100 years.
func checkEnvelopeRequest(r *plugin.GenerateEnvelopeRequest) error {
	if _, err := envelope.Lookup(r.SignatureEnvelopeType); err != nil {
		return plugin.NewValidationErrorf("signatureEnvelopeType %s is not supported: use one of %s", quote(r.SignatureEnvelopeType), strings.Join(envelope.MediaTypes(), ", "))
	}
	if r.PayloadType != envelope.PayloadType {
		return plugin.NewValidationErrorf("payloadType %s is not supported; notation sends %q", quote(r.PayloadType), envelope.PayloadType)
	}
	if len(r.Payload) > maxPayloadSize {
		return plugin.NewValidationErrorf("payload is %d bytes, more than the limit of %d for a Notary payload, which names the artifact in a few hundred bytes: "+
			"sign with fewer or shorter annotations (notation sign --annotation), or check what is calling the plugin", len(r.Payload), maxPayloadSize)
	}
	if _, err := envelope.ParsePayload(r.Payload); err != nil {
		return plugin.NewValidationErrorf(`payload: %v; notation sends a Notary payload, {"targetArtifact": descriptor}: check what is calling the plugin`, err)
	}
	if r.ExpiryDurationInSeconds > uint64(maxExpiry/time.Second) {
		return plugin.NewValidationErrorf("expiryDurationInSeconds %d is more than 100 years; choose a shorter --expiry", r.ExpiryDurationInSeconds)
	}
	return nil
}

// contractRequest is a request that carries a contract version.
type contractRequest interface {
	Validate() error
}

// decodeContract decodes a request, then checks its contract version and
// its required fields.
func decodeContract(body []byte, req contractRequest) error {
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

// metadata answers get-plugin-metadata. It never touches the card.
func metadata(cfg config) plugin.GetMetadataResponse {
	return plugin.GetMetadataResponse{
		Name:                      pluginName,
		Description:               "Signs with a key on a PIV smart card (YubiKey or any PIV card)",
		Version:                   pluginVersion(),
		URL:                       "https://github.com/notation-piv/notation-piv",
		SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities:              []plugin.Capability{cfg.capability()},
	}
}

// writeError writes a contract error to stderr and returns exit status 1.
func writeError(stderr io.Writer, perr *plugin.Error) int {
	b, err := json.Marshal(perr)
	if err != nil {
		b = []byte(`{"errorCode":"ERROR","errorMessage":"cannot encode the error"}`)
	}
	stderr.Write(b)
	return 1
}

// asPluginError returns err as a contract error if it already is one.
func asPluginError(err error) (*plugin.Error, bool) {
	var perr *plugin.Error
	if errors.As(err, &perr) {
		return perr, true
	}
	return nil, false
}
