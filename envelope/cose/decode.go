package cose

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	gocose "github.com/veraison/go-cose"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// Decode takes a COSE envelope apart for inspection, without verifying
// anything. It fails only when b is no COSE_Sign1 envelope at all: larger
// than envelope.MaxEnvelopeSize, not a CBOR tag 18 around an array of
// four, or not well-formed CBOR; or when one of its headers holds more
// than envelope.MaxHeaderItems CBOR data items, which it counts before it
// decodes them, or its chain more than envelope.MaxCertificates
// certificates (a *envelope.LimitError). Anything else that breaks the Notary COSE rules is recorded in the
// result: a header value it cannot read in Header.Problem, a part of the
// wrong type in Decoded.Problems.
func Decode(b []byte) (*envelope.Decoded, error) {
	if len(b) > envelope.MaxEnvelopeSize {
		return nil, fmt.Errorf("read cose envelope: %d bytes, more than the limit of %d", len(b), envelope.MaxEnvelopeSize)
	}
	if major(b) != majorTag {
		return nil, errors.New("read cose envelope: not a tagged COSE_Sign1: it does not start with a CBOR tag")
	}
	var tag cbor.RawTag
	if err := decMode.Unmarshal(b, &tag); err != nil {
		return nil, fmt.Errorf("read cose envelope: %w", err)
	}
	if tag.Number != gocose.CBORTagSign1Message {
		return nil, fmt.Errorf("read cose envelope: CBOR tag %d, want %d (COSE_Sign1)", tag.Number, gocose.CBORTagSign1Message)
	}
	var msg sign1
	if err := decMode.Unmarshal(tag.Content, &msg); err != nil {
		return nil, fmt.Errorf("read cose envelope: not a COSE_Sign1 array of four: %w", err)
	}
	d := &envelope.Decoded{MediaType: envelope.MediaTypeCOSE}
	protected, ok := byteString(d, "protected header", msg.Protected)
	for _, h := range []struct {
		part string
		raw  []byte
	}{{"protected header", protected}, {"unprotected header", msg.Unprotected}} {
		if countItems(h.raw) > envelope.MaxHeaderItems {
			return nil, limitError(h.part, envelope.MaxHeaderItems, "CBOR items")
		}
	}
	if ok && len(protected) > 0 {
		if fields, err := decodeHeader(protected); err != nil {
			d.Problems = append(d.Problems, fmt.Sprintf("the protected header does not decode: %v", err))
		} else {
			decodeProtected(d, fields)
		}
	}
	if fields, err := decodeHeader(msg.Unprotected); err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("the unprotected header does not decode: %v", err))
	} else {
		decodeUnprotected(d, fields)
	}
	if len(msg.Payload) == 1 && msg.Payload[0] == 0xf6 {
		d.Problems = append(d.Problems, "the payload is detached (nil): Notary envelopes embed it")
	} else {
		d.Payload, _ = byteString(d, "payload", msg.Payload)
	}
	d.Signature, _ = byteString(d, "signature", msg.Signature)
	if len(d.Signature) == 0 {
		d.Problems = append(d.Problems, "the signature is empty")
	}
	if len(d.Certificates) > envelope.MaxCertificates {
		return nil, limitError("certificate chain", envelope.MaxCertificates, "certificates")
	}
	return d, nil
}

// limitError says that part of the envelope holds more than limit units.
func limitError(part string, limit int, unit string) error {
	return fmt.Errorf("read cose envelope: %w", &envelope.LimitError{Part: part, Limit: limit, Unit: unit})
}

// byteString decodes one part of the COSE_Sign1 array that must be a byte
// string, recording a problem if it is not.
func byteString(d *envelope.Decoded, part string, raw cbor.RawMessage) ([]byte, bool) {
	var b []byte
	if major(raw) != majorByteString || decMode.Unmarshal(raw, &b) != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("the %s is not a CBOR byte string", part))
		return nil, false
	}
	return b, true
}

// countItems counts the CBOR data items in raw, nested ones included, as
// far as envelope.MaxHeaderItems + 1: each map key and value, each array
// element, each tag content, and each map, array or tag itself; the chunks
// of an indefinite-length string count too. It reads the heads of the
// items only, without decoding them. It stops, with the count so far, at
// malformed CBOR, which the decoding that follows reports.
func countItems(raw []byte) int {
	// open holds, for each enclosing map, array or tag, the items it still
	// needs; -1 for an indefinite length, which a break (0xff) ends.
	open := []int{1}
	n := 0
	for i := 0; i < len(raw) && len(open) > 0 && n <= envelope.MaxHeaderItems; {
		top := len(open) - 1
		switch {
		case open[top] == 0:
			open = open[:top]
			continue
		case raw[i] == 0xff && open[top] == -1:
			open = open[:top]
			i++
			continue
		case open[top] > 0:
			open[top]--
		}
		n++
		major, info := raw[i]>>5, raw[i]&0x1f
		i++
		var arg uint64
		switch {
		case info < 24:
			arg = uint64(info)
		case info <= 27:
			size := 1 << (info - 24)
			if len(raw)-i < size {
				return n
			}
			for _, c := range raw[i : i+size] {
				arg = arg<<8 | uint64(c)
			}
			i += size
		case info != 31 || major < 2 || major > 5:
			return n // reserved, or an indefinite length where none is allowed
		}
		switch {
		case info == 31:
			open = append(open, -1)
		case major == 2 || major == 3:
			if arg > uint64(len(raw)-i) {
				return n
			}
			i += int(arg)
		case major == 4:
			open = append(open, int(min(arg, uint64(len(raw)))))
		case major == 5:
			open = append(open, int(min(arg, uint64(len(raw))))*2)
		case major == 6:
			open = append(open, 1)
		}
	}
	return n
}

// Integer labels of the registered COSE headers (RFC 9052 §3.1, RFC 9360).
const (
	labelAlg         int64 = 1
	labelCrit        int64 = 2
	labelContentType int64 = 3
	labelX5Chain     int64 = 33
)

// sortedLabels returns the labels of a header: integers first, ascending,
// then text strings, sorted.
func sortedLabels(fields map[any]any) []any {
	labels := make([]any, 0, len(fields))
	for l := range fields {
		labels = append(labels, l)
	}
	slices.SortFunc(labels, func(a, b any) int {
		ai, aInt := a.(int64)
		bi, bInt := b.(int64)
		switch {
		case aInt && bInt:
			return cmp.Compare(ai, bi)
		case aInt:
			return -1
		case bInt:
			return 1
		}
		return strings.Compare(a.(string), b.(string))
	})
	return labels
}

// labelText renders a label as text: an integer in decimal, a text string
// as it is.
func labelText(l any) string {
	if i, ok := l.(int64); ok {
		return strconv.FormatInt(i, 10)
	}
	return l.(string)
}

// decodeProtected reads the protected header map.
func decodeProtected(d *envelope.Decoded, fields map[any]any) {
	critOK := true
	if crit, ok := fields[labelCrit]; ok {
		list, isList := crit.([]any)
		critOK = isList && len(list) > 0
		for _, l := range list {
			switch l.(type) {
			case int64, string:
				d.Critical = append(d.Critical, labelText(l))
			default:
				critOK = false
			}
		}
	}
	critical := d.CriticalLabels()
	for _, label := range sortedLabels(fields) {
		value := cborValue{fields[label]}
		text := labelText(label)
		h := envelope.Header{Label: envelope.ValueText(text), Value: diagText(value.v), Critical: critical[text]}
		switch label {
		case labelAlg:
			h.Name = envelope.HeaderAlgorithm
			id, ok := value.v.(int64)
			if !ok {
				h.Problem = "not an integer algorithm identifier"
				break
			}
			d.AlgorithmLabel = strconv.FormatInt(id, 10)
			if alg, ok := keyspec.ByCOSE(id); ok {
				d.Algorithm = &alg
				h.Value += " (" + alg.JWS + ")"
			} else {
				h.Problem = "not an algorithm Notary allows: -37, -38, -39 (PS256/384/512) or -7, -35, -36 (ES256/384/512)"
			}
		case labelCrit:
			h.Name = envelope.HeaderCritical
			if !critOK {
				h.Problem = "not a non-empty array of header labels"
			}
		case labelContentType:
			h.Name = envelope.HeaderContentType
			if s, ok := value.v.(string); ok {
				d.ContentType = s
			} else {
				h.Problem = "not a text string: Notary requires the media type as text, not a CoAP content format number"
			}
		case labelX5Chain:
			h.Name = envelope.HeaderCertificateChain
			h.Problem = "ignored: Notary reads the certificate chain from the unprotected header only"
		default:
			if s, ok := label.(string); ok {
				d.DecodeNotaryHeader(&h, s, value)
			}
		}
		d.Protected = append(d.Protected, h)
	}
	present := map[string]bool{}
	for label := range fields {
		present[labelText(label)] = true
	}
	d.CheckCritical(func(label string) bool { return present[label] })
}

// decodeUnprotected reads the unprotected header map.
func decodeUnprotected(d *envelope.Decoded, fields map[any]any) {
	for _, label := range sortedLabels(fields) {
		value := cborValue{fields[label]}
		text, _ := label.(string)
		d.AddUnprotected(envelope.Header{Label: envelope.ValueText(labelText(label)), Value: diagText(value.v)}, text, label == labelX5Chain, value)
	}
}

// cborValue is the decoded CBOR value of a header, read as
// envelope.HeaderValue.
type cborValue struct{ v any }

// Text reads a text string.
func (v cborValue) Text(h *envelope.Header) string {
	s, ok := v.v.(string)
	if !ok {
		h.Problem = "not a text string"
	}
	return s
}

// Time reads a time: CBOR tag 1 around integer epoch seconds in Notary
// COSE envelopes.
func (v cborValue) Time(h *envelope.Header) time.Time {
	tag, ok := v.v.(cbor.Tag)
	if !ok || tag.Number != tagEpochTime {
		h.Problem = "not a CBOR tag 1 time: Notary requires tag 1 around integer epoch seconds"
		return time.Time{}
	}
	secs, ok := tag.Content.(int64)
	if !ok {
		h.Problem = "tag 1 around something else than an integer: Notary requires integer epoch seconds"
		return time.Time{}
	}
	t := time.Unix(secs, 0).UTC()
	h.Value += " = " + t.Format(time.RFC3339)
	return t
}

// Certificates reads the x5chain: an array of byte strings, even for a
// single certificate.
func (v cborValue) Certificates(h *envelope.Header) [][]byte {
	list, ok := v.v.([]any)
	if !ok || len(list) == 0 {
		h.Problem = "not a non-empty array of byte strings: Notary requires an array even for one certificate"
		return nil
	}
	certs := make([][]byte, len(list))
	for i, c := range list {
		if certs[i], ok = c.([]byte); !ok {
			h.Problem = "not an array of byte strings (DER certificates)"
			return nil
		}
	}
	return certs
}

// Token reads a byte string holding a DER timestamp token.
func (v cborValue) Token(h *envelope.Header) []byte {
	token, ok := v.v.([]byte)
	if !ok || len(token) == 0 {
		h.Problem = "not a byte string holding a DER timestamp token"
		return nil
	}
	return token
}

// maxDiag bounds the diagnostic text rendered for one value before
// envelope.ValueText shortens it.
const maxDiag = 2 * envelope.MaxValueText

// maxDiagBytes bounds the bytes of one byte string shown in hex.
const maxDiagBytes = 32

// diagText renders a decoded CBOR value in diagnostic notation (RFC 8949
// §8), e.g. 1(1700000000), h'0102', ["a", -7], shortened.
func diagText(v any) string {
	w := diagWriter{left: maxDiag}
	w.value(v)
	return envelope.ValueText(w.String())
}

// diagWriter writes diagnostic notation until its budget is spent, so that
// rendering costs little whatever the value.
type diagWriter struct {
	strings.Builder
	left int
}

func (w *diagWriter) write(s string) {
	w.WriteString(s)
	w.left -= len(s)
}

// value writes v, or nothing once the budget is spent.
func (w *diagWriter) value(v any) {
	if w.left <= 0 {
		return
	}
	switch v := v.(type) {
	case nil:
		w.write("null")
	case bool:
		w.write(strconv.FormatBool(v))
	case int64:
		w.write(strconv.FormatInt(v, 10))
	case uint64:
		w.write(strconv.FormatUint(v, 10))
	case big.Int:
		w.write(v.String())
	case *big.Int:
		w.write(v.String())
	case float64:
		w.write(strconv.FormatFloat(v, 'g', -1, 64))
	case string:
		q, _ := json.Marshal(strings.ToValidUTF8(envelope.ValueText(v), "\uFFFD"))
		w.write(string(q))
	case []byte:
		if len(v) > maxDiagBytes {
			w.write(fmt.Sprintf("h'%s…' (%d bytes)", hex.EncodeToString(v[:maxDiagBytes]), len(v)))
		} else {
			w.write("h'" + hex.EncodeToString(v) + "'")
		}
	case []any:
		w.list("[", "]", len(v), func(i int) { w.value(v[i]) })
	case map[any]any:
		// Keys in the order of their text, so the output is stable.
		type entry struct {
			key   string
			value any
		}
		entries := make([]entry, 0, len(v))
		for k, e := range v {
			kw := diagWriter{left: maxDiag}
			kw.value(k)
			entries = append(entries, entry{kw.String(), e})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		w.list("{", "}", len(entries), func(i int) {
			w.write(entries[i].key + ": ")
			w.value(entries[i].value)
		})
	case cbor.Tag:
		w.write(strconv.FormatUint(v.Number, 10) + "(")
		w.value(v.Content)
		w.write(")")
	default:
		w.write(fmt.Sprintf("%v", v))
	}
}

// list writes n items, which item(i) writes, between start and end and
// separated by commas, until the budget is spent.
func (w *diagWriter) list(start, end string, n int, item func(i int)) {
	w.write(start)
	for i := range n {
		if w.left <= 0 {
			break
		}
		if i > 0 {
			w.write(", ")
		}
		item(i)
	}
	w.write(end)
}
