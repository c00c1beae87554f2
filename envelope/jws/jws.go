// Package jws builds Notary Project JWS signature envelopes
// (application/jose+json) with go-jose v4.
//
// An envelope is the flattened JSON serialization of RFC 7515 §7.2.2 with
// exactly four members: "payload" (the Notary payload, verbatim),
// "protected", "header" and "signature". The protected header holds "alg",
// "cty", "io.cncf.notary.signingScheme", "io.cncf.notary.signingTime", the
// optional "io.cncf.notary.expiry", the request's extended attributes
// (strings, each critical) and "crit"; the unprotected "header" holds
// "x5c" (leaf to root), "io.cncf.notary.signingAgent" and, when a timestamp
// is requested, "io.cncf.notary.timestampSignature": the DER RFC 3161
// TimeStampToken over the decoded "signature" bytes, in standard padded
// base64. See
// https://github.com/notaryproject/specifications/blob/main/specs/signature-envelope-jws.md.
//
// Signing goes through envelope.Build, so every envelope returned has been
// verified with notation-core-go.
package jws

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// Format builds JWS envelopes. Register it with envelope.Register(jws.Format{}).
type Format struct{}

// MediaType returns envelope.MediaTypeJWS.
func (Format) MediaType() string { return envelope.MediaTypeJWS }

// Sign builds a Notary JWS envelope for req through envelope.Build: the
// request is checked, req.Signer signs once, and the envelope is verified with
// notation-core-go before it is returned.
func (Format) Sign(req envelope.SignRequest) ([]byte, error) {
	return envelope.Build(envelope.MediaTypeJWS, req, encode)
}

// unprotectedHeader is the "header" member.
type unprotectedHeader struct {
	X5C                [][]byte `json:"x5c"` // standard padded base64 DER, leaf to root
	SigningAgent       string   `json:"io.cncf.notary.signingAgent,omitempty"`
	TimestampSignature []byte   `json:"io.cncf.notary.timestampSignature,omitempty"` // standard padded base64 DER
}

// flattened is the envelope, members in the order notation-core-go writes.
type flattened struct {
	Payload   string             `json:"payload"`
	Protected string             `json:"protected"`
	Header    *unprotectedHeader `json:"header,omitempty"`
	Signature string             `json:"signature"`
}

// encode signs req with go-jose, has the signature timestamped if req asks
// for it, and adds the unprotected header.
func encode(req envelope.SignRequest, alg keyspec.Spec) ([]byte, error) {
	// notation-core-go reads the payload as JWT claims, so it must be a
	// JSON object; say so before the signer is asked for anything.
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(req.Payload, &claims); err != nil || claims == nil {
		return nil, errors.New("jws payload must be a JSON object: pass the notary payload unchanged")
	}

	opts := (&jose.SignerOptions{}).
		WithContentType(envelope.PayloadType).
		WithHeader(envelope.HeaderSigningScheme, envelope.SigningScheme).
		WithHeader(envelope.HeaderSigningTime, req.SigningTime.Format(time.RFC3339)).
		WithCritical(envelope.HeaderSigningScheme)
	if !req.Expiry.IsZero() {
		opts = opts.WithHeader(envelope.HeaderExpiry, req.Expiry.Format(time.RFC3339)).WithCritical(envelope.HeaderExpiry)
	}
	for _, a := range req.Attributes {
		opts = opts.WithHeader(jose.HeaderKey(a.Key), a.Value).WithCritical(a.Key)
	}
	key := &opaque{signer: req.Signer, alg: alg}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg.JWS), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("set up %s jws signer: %w", alg.JWS, err)
	}
	obj, err := signer.Sign(req.Payload)
	switch {
	case key.err != nil:
		// The signer names what it signed with.
		return nil, key.err
	case err != nil:
		return nil, fmt.Errorf("sign jws: %w", err)
	}
	// go-jose has no API for unprotected headers: take its flattened
	// serialization apart (FullSerialize returns "" on failure, which fails
	// to decode) and add "header".
	var env flattened
	dec := json.NewDecoder(strings.NewReader(obj.FullSerialize()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("serialize jws: go-jose output is not a flattened jws: %w", err)
	}
	env.Header = &unprotectedHeader{X5C: make([][]byte, len(req.Chain)), SigningAgent: req.SigningAgent}
	for i, c := range req.Chain {
		env.Header.X5C[i] = c.Raw
	}
	if req.Timestamp != nil {
		sig, err := base64.RawURLEncoding.DecodeString(env.Signature)
		if err != nil {
			return nil, fmt.Errorf("serialize jws: go-jose wrote a signature that is not base64url: %w", err)
		}
		if env.Header.TimestampSignature, err = req.Timestamp(sig, alg.Hash); err != nil {
			return nil, fmt.Errorf("timestamp the jws signature: %w", err)
		}
	}
	return json.Marshal(env)
}

// opaque adapts a crypto.Signer to jose.OpaqueSigner. Public returns nil so
// go-jose writes neither "kid" nor "jwk"; the key travels in "x5c".
type opaque struct {
	signer crypto.Signer
	alg    keyspec.Spec
	err    error // what the signer failed with, if it did
}

// Public returns nil: Notary envelopes identify the key by x5c only.
func (o *opaque) Public() *jose.JSONWebKey { return nil }

// Algs returns the single algorithm the leaf key fixes.
func (o *opaque) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(o.alg.JWS)}
}

// SignPayload signs the JWS signing input b64url(protected).b64url(payload)
// with the algorithm of Algs, the only one go-jose can ask for.
func (o *opaque) SignPayload(payload []byte, _ jose.SignatureAlgorithm) ([]byte, error) {
	sig, err := envelope.SignMessage(o.signer, o.alg, payload)
	o.err = err
	return sig, err
}

// Headers decodes the protected and unprotected headers of a JWS envelope
// without verifying anything. Values are as encoding/json decodes them into
// map[string]any: strings, float64 numbers, []any and map[string]any.
func Headers(b []byte) (protected, unprotected map[string]any, err error) {
	var env struct {
		Protected string          `json:"protected"`
		Header    json.RawMessage `json:"header"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, nil, fmt.Errorf("read jws envelope: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(env.Protected)
	if err != nil {
		return nil, nil, fmt.Errorf("read jws protected header: not base64url without padding: %w", err)
	}
	if err := json.Unmarshal(raw, &protected); err != nil {
		return nil, nil, fmt.Errorf("read jws protected header: %w", err)
	}
	if protected == nil {
		return nil, nil, errors.New("read jws protected header: not a JSON object")
	}
	if len(env.Header) != 0 {
		if err := json.Unmarshal(env.Header, &unprotected); err != nil {
			return nil, nil, fmt.Errorf("read jws unprotected header: %w", err)
		}
	}
	return protected, unprotected, nil
}
