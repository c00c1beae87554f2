// Package envelopetest tampers with Notary signature envelopes for tests
// of verifiers: it changes one part of a JWS or COSE envelope by a single
// bit or digit, the way a broken transport or an attacker would, and keeps
// the envelope well-formed so that only the check that guards that part
// can notice. It also holds what the tests of the envelope formats share:
// hostile envelopes built to be costly to read (Hostile), and the checks
// each format must pass, run by the jws and cose tests alike (round trip,
// decoding, rejected requests, self-check, limits). Keys and certificates
// come from package fixtures.
package envelopetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/notation-piv/notation-piv/envelope"
)

// Part is the part of an envelope Tamper changes.
type Part int

// The parts Tamper can change.
const (
	// Payload: the last digit of the signed payload, normally in the
	// artifact's size, changes to another digit, so the payload stays a
	// valid Notary payload.
	Payload Part = iota
	// SigningTime: the signed signing time moves by a second or so, in the
	// protected header.
	SigningTime
	// Signature: one bit of the raw signature flips.
	Signature
	// Chain: one bit of the signature of the last certificate of the chain
	// flips; the certificate still parses and the leaf key is unchanged
	// (for a chain of one, the leaf's self-signature breaks).
	Chain
)

// Parts lists every Part.
var Parts = []Part{Payload, SigningTime, Signature, Chain}

// String names the part, e.g. "payload".
func (p Part) String() string {
	switch p {
	case Payload:
		return "payload"
	case SigningTime:
		return "signing time"
	case Signature:
		return "signature"
	case Chain:
		return "chain"
	}
	return fmt.Sprintf("Part(%d)", int(p))
}

// Tamper returns a copy of env, an envelope of mediaType, with part
// changed.
func Tamper(mediaType string, env []byte, part Part) ([]byte, error) {
	switch mediaType {
	case envelope.MediaTypeJWS:
		return tamperJWS(env, part)
	case envelope.MediaTypeCOSE:
		return tamperCOSE(env, part)
	}
	return nil, fmt.Errorf("tamper: unknown media type %q", mediaType)
}

// signingTimeLabel is the label of the signing time header.
var signingTimeLabel = []byte(envelope.HeaderSigningTime)

func tamperJWS(env []byte, part Part) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		return nil, fmt.Errorf("tamper: not a JWS envelope: %w", err)
	}
	edit := func(member string, change func([]byte) error) error {
		s, _ := m[member].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("tamper: %s is not base64url: %w", member, err)
		}
		if err := change(b); err != nil {
			return err
		}
		m[member] = base64.RawURLEncoding.EncodeToString(b)
		return nil
	}
	var err error
	switch part {
	case Payload:
		err = edit("payload", flipDigit)
	case SigningTime:
		err = edit("protected", func(b []byte) error {
			// "io.cncf.notary.signingTime":"2006-01-02T15:04:05Z": the
			// units of the seconds are 18 bytes into the value.
			i := bytes.Index(b, signingTimeLabel)
			if i < 0 {
				return errors.New("tamper: no signing time in the protected header")
			}
			at := i + len(signingTimeLabel) + len(`":"`) + 18
			if at >= len(b) {
				return errors.New("tamper: the signing time is cut short")
			}
			return flipDigit(b[at : at+1])
		})
	case Signature:
		err = edit("signature", flipBit)
	case Chain:
		h, _ := m["header"].(map[string]any)
		chain, _ := h["x5c"].([]any)
		if len(chain) == 0 {
			return nil, errors.New("tamper: no x5c chain")
		}
		s, _ := chain[len(chain)-1].(string)
		der, derr := base64.StdEncoding.DecodeString(s)
		if derr != nil || len(der) == 0 {
			return nil, errors.New("tamper: the last x5c certificate is not base64")
		}
		der[len(der)-1] ^= 1
		chain[len(chain)-1] = base64.StdEncoding.EncodeToString(der)
	default:
		err = fmt.Errorf("tamper: unknown part %v", part)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func tamperCOSE(env []byte, part Part) ([]byte, error) {
	var msg cbor.Tag
	if err := cbor.Unmarshal(env, &msg); err != nil {
		return nil, fmt.Errorf("tamper: not CBOR: %w", err)
	}
	parts, ok := msg.Content.([]any)
	if msg.Number != 18 || !ok || len(parts) != 4 {
		return nil, errors.New("tamper: not a tagged COSE_Sign1")
	}
	bstr := func(i int) ([]byte, error) {
		b, ok := parts[i].([]byte)
		if !ok || len(b) == 0 {
			return nil, fmt.Errorf("tamper: part %d of the COSE_Sign1 is no byte string", i)
		}
		return b, nil
	}
	var err error
	switch part {
	case Payload:
		var b []byte
		if b, err = bstr(2); err == nil {
			err = flipDigit(b)
		}
	case SigningTime:
		var b []byte
		if b, err = bstr(0); err != nil {
			break
		}
		// The label, then tag 1 (0xc1) around a 4-byte unsigned integer
		// (0x1a): flip the lowest bit of the seconds.
		i := bytes.Index(b, signingTimeLabel)
		at := i + len(signingTimeLabel) + 5
		if i < 0 || at >= len(b) || b[at-5] != 0xc1 || b[at-4] != 0x1a {
			return nil, errors.New("tamper: no tag 1 signing time with 4-byte seconds in the protected header")
		}
		b[at] ^= 1
	case Signature:
		var b []byte
		if b, err = bstr(3); err == nil {
			err = flipBit(b)
		}
	case Chain:
		h, _ := parts[1].(map[any]any)
		var chain []any
		for k, v := range h {
			if fmt.Sprint(k) == "33" {
				chain, _ = v.([]any)
			}
		}
		if len(chain) == 0 {
			return nil, errors.New("tamper: no x5chain array")
		}
		der, _ := chain[len(chain)-1].([]byte)
		if len(der) == 0 {
			return nil, errors.New("tamper: the last x5chain certificate is no byte string")
		}
		der[len(der)-1] ^= 1
	default:
		err = fmt.Errorf("tamper: unknown part %v", part)
	}
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(msg)
}

// flipDigit changes the last ASCII digit of b into another digit: flipping
// its lowest bit keeps it a digit.
func flipDigit(b []byte) error {
	for i := len(b) - 1; i >= 0; i-- {
		if c := b[i]; c >= '0' && c <= '9' {
			b[i] = c ^ 1
			return nil
		}
	}
	return errors.New("tamper: no digit to change")
}

// flipBit flips the lowest bit of the middle byte of b.
func flipBit(b []byte) error {
	if len(b) == 0 {
		return errors.New("tamper: nothing to flip")
	}
	b[len(b)/2] ^= 1
	return nil
}
