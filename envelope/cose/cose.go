// Package cose builds Notary Project COSE signature envelopes
// (application/cose) with go-cose.
//
// An envelope is a tagged COSE_Sign1 (RFC 9052 §4.2, CBOR tag 18) with the
// Notary payload embedded verbatim. The protected header holds alg (1),
// crit (2, an array of text strings), the payload content type (3, a text
// string), "io.cncf.notary.signingScheme", "io.cncf.notary.signingTime" and
// the optional, critical "io.cncf.notary.expiry", both times as CBOR tag 1
// with integer epoch seconds, and the request's extended attributes, text
// strings, each critical. The unprotected header holds x5chain (33, an
// array of byte strings from leaf to root, even for a single certificate)
// and "io.cncf.notary.signingAgent" and, when a timestamp is requested,
// "io.cncf.notary.timestampSignature": the DER RFC 3161 TimeStampToken over
// the signature bytes, as a byte string. The signature is computed over the
// Sig_structure: the array of "Signature1", the protected header bytes, an
// empty byte string (no external data) and the payload. See
// https://github.com/notaryproject/specifications/blob/main/specs/signature-envelope-cose.md.
//
// Signing goes through envelope.Build, so every envelope returned has been
// verified with notation-core-go, and the signature itself comes from
// envelope.SignMessage, the signing path the JWS format uses too.
package cose

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
	gocose "github.com/veraison/go-cose"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// tagEpochTime is the CBOR tag of an epoch-based date/time (RFC 8949
// §3.4.2); Notary accepts no other form of time.
const tagEpochTime = 1

// Format builds COSE envelopes. Register it with envelope.Register(cose.Format{}).
type Format struct{}

// MediaType returns envelope.MediaTypeCOSE.
func (Format) MediaType() string { return envelope.MediaTypeCOSE }

// Sign builds a Notary COSE envelope for req through envelope.Build: the
// request is checked, req.Signer signs once, and the envelope is verified with
// notation-core-go before it is returned.
func (Format) Sign(req envelope.SignRequest) ([]byte, error) {
	return envelope.Build(envelope.MediaTypeCOSE, req, encode)
}

// encode signs req with go-cose, has the signature timestamped if req asks
// for it, and adds the unprotected header.
func encode(req envelope.SignRequest, alg keyspec.Spec) ([]byte, error) {
	crit := []any{envelope.HeaderSigningScheme}
	msg := gocose.NewSign1Message()
	msg.Headers.Protected = gocose.ProtectedHeader{
		gocose.HeaderLabelAlgorithm:   gocose.Algorithm(alg.COSE),
		gocose.HeaderLabelContentType: envelope.PayloadType,
		envelope.HeaderSigningScheme:  envelope.SigningScheme,
		envelope.HeaderSigningTime:    epoch(req.SigningTime),
	}
	if !req.Expiry.IsZero() {
		msg.Headers.Protected[envelope.HeaderExpiry] = epoch(req.Expiry)
		crit = append(crit, envelope.HeaderExpiry)
	}
	for _, a := range req.Attributes {
		msg.Headers.Protected[a.Key] = a.Value
		crit = append(crit, a.Key)
	}
	msg.Headers.Protected[gocose.HeaderLabelCritical] = crit
	msg.Payload = req.Payload
	key := &signer{key: req.Signer, alg: alg}
	err := msg.Sign(rand.Reader, nil, key)
	switch {
	case key.err != nil:
		// The signer names what it signed with.
		return nil, key.err
	case err != nil:
		return nil, fmt.Errorf("sign cose: %w", err)
	}
	// The unprotected header is not signed: it may be filled in afterwards.
	chain := make([]any, len(req.Chain))
	for i, c := range req.Chain {
		chain[i] = c.Raw
	}
	msg.Headers.Unprotected[gocose.HeaderLabelX5Chain] = chain
	if req.SigningAgent != "" {
		msg.Headers.Unprotected[envelope.HeaderSigningAgent] = req.SigningAgent
	}
	if req.Timestamp != nil {
		token, err := req.Timestamp(msg.Signature, alg.Hash)
		if err != nil {
			return nil, fmt.Errorf("timestamp the cose signature: %w", err)
		}
		msg.Headers.Unprotected[envelope.HeaderTimestamp] = token
	}
	env, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("serialize cose: %w; this is a bug in notation-piv, please report it", err)
	}
	return env, nil
}

// epoch is t as Notary COSE headers carry times: CBOR tag 1 around the
// integer seconds since the Unix epoch.
func epoch(t time.Time) cbor.Tag {
	return cbor.Tag{Number: tagEpochTime, Content: t.Unix()}
}

// signer adapts a crypto.Signer to gocose.Signer through
// envelope.SignMessage, so COSE signatures take the same path as JWS ones:
// ECDSA as fixed-width r‖s, RSA as PSS with the salt as long as the hash.
type signer struct {
	key crypto.Signer
	alg keyspec.Spec
	err error // what the signer failed with, if it did
}

// Algorithm returns the COSE algorithm the leaf key fixes.
func (s *signer) Algorithm() gocose.Algorithm { return gocose.Algorithm(s.alg.COSE) }

// Sign signs the Sig_structure go-cose passes as content. envelope.SignMessage
// draws its own randomness, so the reader go-cose hands over is not used.
func (s *signer) Sign(_ io.Reader, content []byte) ([]byte, error) {
	sig, err := envelope.SignMessage(s.key, s.alg, content)
	s.err = err
	return sig, err
}

// decMode reads envelopes for Headers: duplicate labels are an error, as in
// go-cose, and integers that fit become int64.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey: cbor.DupMapKeyEnforcedAPF,
		IntDec:    cbor.IntDecConvertSignedOrBigInt,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// sign1 is the content of a COSE_Sign1_Tagged (RFC 9052 §4.2).
type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected cbor.RawMessage
	Payload     cbor.RawMessage
	Signature   cbor.RawMessage
}

// CBOR major types (RFC 8949 §3.1) that Headers checks for.
const (
	majorByteString = 2
	majorMap        = 5
	majorTag        = 6
)

// Headers decodes the protected and unprotected headers of a COSE envelope
// without verifying anything. Both maps are keyed by label: int64 for the
// registered labels (1 alg, 2 crit, 3 content type, 33 x5chain), string for
// the Notary ones. Values keep their CBOR types: integers as int64 (or
// big.Int), text strings as string, byte strings as []byte, arrays as []any,
// maps as map[any]any, and a tagged value directly under a label as a
// cbor.Tag, so the signing time reads cbor.Tag{Number: 1, Content: int64}.
// The envelope must be a tagged COSE_Sign1 (CBOR tag 18).
func Headers(b []byte) (protected, unprotected map[any]any, err error) {
	if major(b) != majorTag {
		return nil, nil, errors.New("read cose envelope: not a tagged COSE_Sign1: it does not start with a CBOR tag; pass an application/cose envelope")
	}
	var tag cbor.RawTag
	if err := decMode.Unmarshal(b, &tag); err != nil {
		return nil, nil, fmt.Errorf("read cose envelope: %w", err)
	}
	if tag.Number != gocose.CBORTagSign1Message {
		return nil, nil, fmt.Errorf("read cose envelope: not a tagged COSE_Sign1: CBOR tag %d, want %d; pass an application/cose envelope", tag.Number, gocose.CBORTagSign1Message)
	}
	var msg sign1
	if err := decMode.Unmarshal(tag.Content, &msg); err != nil {
		return nil, nil, fmt.Errorf("read cose envelope: not a COSE_Sign1 array of four: %w", err)
	}
	if major(msg.Protected) != majorByteString {
		return nil, nil, errors.New("read cose protected header: not a CBOR byte string")
	}
	var raw []byte
	if err := decMode.Unmarshal(msg.Protected, &raw); err != nil {
		return nil, nil, fmt.Errorf("read cose protected header: %w", err)
	}
	// RFC 9052 §3: an empty protected header is a zero-length byte string.
	protected = map[any]any{}
	if len(raw) != 0 {
		if protected, err = decodeHeader(raw); err != nil {
			return nil, nil, fmt.Errorf("read cose protected header: %w", err)
		}
	}
	if unprotected, err = decodeHeader(msg.Unprotected); err != nil {
		return nil, nil, fmt.Errorf("read cose unprotected header: %w", err)
	}
	return protected, unprotected, nil
}

// decodeHeader decodes a header map (RFC 9052 §3).
func decodeHeader(raw []byte) (map[any]any, error) {
	if major(raw) != majorMap {
		return nil, errors.New("not a CBOR map")
	}
	var fields map[any]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	h := make(map[any]any, len(fields))
	for label, value := range fields {
		switch label.(type) {
		case int64, string:
		default:
			return nil, fmt.Errorf("label %v is a %T: labels must be integers or text strings", label, label)
		}
		var v any
		if major(value) == majorTag {
			var t cbor.Tag
			if err := decMode.Unmarshal(value, &t); err != nil {
				return nil, fmt.Errorf("label %v: %w", label, err)
			}
			v = t
		} else if err := decMode.Unmarshal(value, &v); err != nil {
			return nil, fmt.Errorf("label %v: %w", label, err)
		}
		h[label] = v
	}
	return h, nil
}

// major returns the CBOR major type of the item that starts raw, or -1 for
// no item.
func major(raw []byte) int {
	if len(raw) == 0 {
		return -1
	}
	return int(raw[0] >> 5)
}
