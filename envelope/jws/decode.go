package jws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// Decode takes a JWS envelope apart for inspection, without verifying
// anything. It fails only when b is no JWS envelope at all: larger than
// envelope.MaxEnvelopeSize, not a JSON object, or an object with none of
// the members "payload", "protected" and "signature"; or when its
// protected header, or the rest of it, holds more than
// envelope.MaxHeaderItems JSON values, which it counts before it decodes
// them, or its chain more than envelope.MaxCertificates certificates (a
// *envelope.LimitError). Anything else that breaks the
// Notary JWS rules is recorded in the result: a header value it cannot
// read in Header.Problem, a member that is missing, unknown or not
// base64url in Decoded.Problems.
func Decode(b []byte) (*envelope.Decoded, error) {
	if len(b) > envelope.MaxEnvelopeSize {
		return nil, fmt.Errorf("read jws envelope: %d bytes, more than the limit of %d", len(b), envelope.MaxEnvelopeSize)
	}
	if tooManyItems(b) {
		return nil, limitError("envelope outside its protected header", envelope.MaxHeaderItems, "JSON values")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil || members == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, fmt.Errorf("read jws envelope: %w", err)
	}
	d := &envelope.Decoded{MediaType: envelope.MediaTypeJWS}
	protected, okP := members["protected"]
	payload, okPl := members["payload"]
	sig, okS := members["signature"]
	if !okP && !okPl && !okS {
		return nil, errors.New(`read jws envelope: no "protected", "payload" or "signature" member: this is not a flattened JWS`)
	}
	for _, name := range slices.Sorted(maps.Keys(members)) {
		switch name {
		case "protected", "payload", "signature", "header":
		default:
			d.Problems = append(d.Problems, fmt.Sprintf("unknown member %q: a Notary JWS envelope has only payload, protected, header and signature", envelope.ValueText(name)))
		}
	}
	raw := member(d, "protected", protected, okP)
	if tooManyItems(raw) {
		return nil, limitError("protected header", envelope.MaxHeaderItems, "JSON values")
	}
	if raw != nil {
		decodeProtected(d, raw)
	}
	d.Payload = member(d, "payload", payload, okPl)
	d.Signature = member(d, "signature", sig, okS)
	if okS && len(d.Signature) == 0 {
		d.Problems = append(d.Problems, "the signature is empty")
	}
	if h, ok := members["header"]; ok {
		decodeUnprotected(d, h)
	}
	if len(d.Certificates) > envelope.MaxCertificates {
		return nil, limitError("certificate chain", envelope.MaxCertificates, "certificates")
	}
	return d, nil
}

// limitError says that part of the envelope holds more than limit units.
func limitError(part string, limit int, unit string) error {
	return fmt.Errorf("read jws envelope: %w", &envelope.LimitError{Part: part, Limit: limit, Unit: unit})
}

// member decodes a base64url member, recording what is wrong with it.
func member(d *envelope.Decoded, name string, raw json.RawMessage, present bool) []byte {
	if !present {
		d.Problems = append(d.Problems, fmt.Sprintf("the %q member is missing", name))
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("the %q member is not a JSON string", name))
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("the %q member is not base64url without padding: %v", name, err))
		return nil
	}
	return b
}

// tooManyItems reports whether the JSON value b holds more than
// envelope.MaxHeaderItems values, counting each object key, each value,
// and each object and array itself. It reads no further than the first
// value over the bound, and leaves JSON it cannot read to the decoding
// that follows.
func tooManyItems(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for n := 0; n <= envelope.MaxHeaderItems; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if d, ok := tok.(json.Delim); !ok || d == '{' || d == '[' {
			n++
		}
	}
	return true
}

// decodeProtected reads the protected header, a JSON object.
func decodeProtected(d *envelope.Decoded, raw []byte) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		d.Problems = append(d.Problems, "the protected header is not a JSON object")
		return
	}
	critOK := true
	if crit, ok := fields[headerCrit]; ok {
		if err := json.Unmarshal(crit, &d.Critical); err != nil || d.Critical == nil {
			d.Critical, critOK = nil, false
		}
	}
	critical := d.CriticalLabels()
	for _, label := range slices.Sorted(maps.Keys(fields)) {
		value := jsonValue(fields[label])
		h := envelope.Header{Label: envelope.ValueText(label), Value: jsonText(value), Critical: critical[label]}
		switch label {
		case headerAlg:
			h.Name = envelope.HeaderAlgorithm
			if s, ok := value.str(&h); ok {
				d.AlgorithmLabel = envelope.ValueText(s)
				if alg, ok := keyspec.ByJWS(s); ok {
					d.Algorithm = &alg
				} else {
					h.Problem = "not an algorithm Notary allows: PS256, PS384, PS512, ES256, ES384 or ES512"
				}
			}
		case headerCty:
			h.Name = envelope.HeaderContentType
			d.ContentType = value.Text(&h)
		case headerCrit:
			h.Name = envelope.HeaderCritical
			if !critOK {
				h.Problem = "not an array of header names"
			}
		default:
			d.DecodeNotaryHeader(&h, label, value)
		}
		d.Protected = append(d.Protected, h)
	}
	d.CheckCritical(func(label string) bool {
		_, ok := fields[label]
		return ok
	})
}

// decodeUnprotected reads the "header" member, a JSON object.
func decodeUnprotected(d *envelope.Decoded, raw json.RawMessage) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		d.Problems = append(d.Problems, `the "header" member is not a JSON object`)
		return
	}
	for _, label := range slices.Sorted(maps.Keys(fields)) {
		value := jsonValue(fields[label])
		d.AddUnprotected(envelope.Header{Label: envelope.ValueText(label), Value: jsonText(value)}, label, label == headerX5C, value)
	}
}

// Names of the registered JWS headers (RFC 7515 §4.1).
const (
	headerAlg  = "alg"
	headerCty  = "cty"
	headerCrit = "crit"
	headerX5C  = "x5c"
)

// jsonValue is the JSON value of a header, read as envelope.HeaderValue.
type jsonValue json.RawMessage

// str reads a JSON string, setting h.Problem if the value is none.
func (v jsonValue) str(h *envelope.Header) (string, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		h.Problem = "not a JSON string"
		return "", false
	}
	return s, true
}

// Text reads a JSON string.
func (v jsonValue) Text(h *envelope.Header) string {
	s, _ := v.str(h)
	return s
}

// Time reads a time, an RFC 3339 string in Notary JWS envelopes.
func (v jsonValue) Time(h *envelope.Header) time.Time {
	s, ok := v.str(h)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		h.Problem = "not an RFC 3339 time"
		return time.Time{}
	}
	return t.UTC()
}

// Certificates reads the "x5c" chain: an array of DER certificates in
// standard padded base64, which encoding/json reads into [][]byte.
func (v jsonValue) Certificates(h *envelope.Header) [][]byte {
	var certs [][]byte
	if err := json.Unmarshal(v, &certs); err != nil || len(certs) == 0 {
		h.Problem = "not a non-empty array of standard base64 DER certificates"
		return nil
	}
	return certs
}

// Token reads a DER timestamp token in standard padded base64.
func (v jsonValue) Token(h *envelope.Header) []byte {
	var token []byte
	if err := json.Unmarshal(v, &token); err != nil || len(token) == 0 {
		h.Problem = "not a standard base64 DER timestamp token"
		return nil
	}
	return token
}

// jsonText renders a JSON value as text: a string without its quotes,
// anything else as compact JSON.
func jsonText(value jsonValue) string {
	var s string
	if json.Unmarshal(value, &s) == nil {
		return envelope.ValueText(strings.ToValidUTF8(s, "\uFFFD"))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, value); err != nil {
		return envelope.ValueText(string(value))
	}
	return envelope.ValueText(buf.String())
}
