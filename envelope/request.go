package envelope

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	nx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// SignRequest is what every Format needs to build an envelope.
type SignRequest struct {
	// Payload is the Notary payload (PayloadType), embedded verbatim.
	Payload []byte
	// Signer signs with the key of Chain[0]. Any crypto.Signer works: ECDSA
	// signers return ASN.1 DER, RSA signers must accept *rsa.PSSOptions.
	Signer crypto.Signer
	// Chain is the certificate chain, leaf first, then intermediates, then
	// the self-signed root; a self-signed leaf may stand alone.
	Chain []*x509.Certificate
	// SigningTime is the signed signing time. Envelopes carry it in whole
	// UTC seconds; every certificate in Chain must be valid at that time.
	SigningTime time.Time
	// Expiry is the optional signed expiry ("best by" time); zero means
	// none. Truncated to whole UTC seconds, it must be after SigningTime.
	Expiry time.Time
	// SigningAgent optionally names the software that signs, e.g.
	// "notation-piv/0.1.0". It is not signed.
	SigningAgent string
	// Timestamp, if not nil, obtains an RFC 3161 timestamp token (DER
	// TimeStampToken) over signature, the raw signature bytes of the
	// envelope, hashed with hash, the hash of the leaf's key spec: for
	// instance a closure around timestamp.Config.Stamp. The format embeds
	// the token unsigned under "io.cncf.notary.timestampSignature"; Build
	// returns the envelope only if VerifyTimestamp accepts it.
	Timestamp func(signature []byte, hash crypto.Hash) ([]byte, error)
	// TSARoots are the trusted roots of the timestamp authority; required
	// with Timestamp, unused without it.
	TSARoots *x509.CertPool
	// Attributes are extended signed attributes: the format puts each in
	// the protected header and marks it critical, in this order. Notary
	// verifiers must understand a critical attribute or reject the
	// signature; "io.cncf.notary.verificationPlugin" among them routes
	// the signature to that verification plugin.
	Attributes []Attribute
}

// Attribute is a critical extended signed attribute with a string value:
// the one kind of value that both JWS and COSE carry to a verification
// plugin unchanged.
type Attribute struct {
	Key, Value string
}

// Build runs the steps every format shares around encode, the format's own
// encoder, and is what Format.Sign implementations call:
//
//  1. it checks req: a non-empty payload, a signer, a supported leaf key that
//     the signer holds, a signing time, an expiry after it, TSA roots if a
//     timestamp is asked for, and a chain that meets the Notary
//     code-signing rules at the signing time — all before
//     the signer is asked for anything (so before any PIN prompt);
//  2. it calls encode with req in canonical form (SigningTime and Expiry
//     truncated to whole seconds, in UTC) and the algorithm the leaf fixes;
//  3. it runs Verify on the result for mediaType and checks that the
//     envelope carries exactly the requested payload, signing time, expiry,
//     signing agent and chain (Verify has matched the algorithm to the leaf);
//  4. if req.Timestamp is set, it runs VerifyTimestamp on what
//     notation-core-go read from the envelope, with req.TSARoots: the
//     timestamp must be there, be over the signature, verify, and fall
//     within the validity of every certificate of the chain. Without
//     req.Timestamp, the envelope must carry no timestamp.
//
// It returns the envelope only if all four steps succeed. The encoder
// signs once and, if req.Timestamp is set, calls it once with the raw
// signature bytes and alg.Hash, after signing and before it serializes
// the envelope; it embeds the token it gets and returns any error.
func Build(mediaType string, req SignRequest, encode func(SignRequest, keyspec.Spec) ([]byte, error)) ([]byte, error) {
	req, alg, err := prepare(req)
	if err != nil {
		return nil, err
	}
	env, err := encode(req, alg)
	if err != nil {
		return nil, err
	}
	content, err := Verify(mediaType, env)
	if err != nil {
		return nil, fmt.Errorf("self-check of the new envelope: %w; check that the signing key matches the leaf certificate", err)
	}
	if err := matchRequest(content, req); err != nil {
		return nil, fmt.Errorf("self-check of the new %s envelope: %w; this is a bug in notation-piv, please report it", mediaType, err)
	}
	if req.Timestamp != nil {
		if _, err := VerifyTimestamp(content, req.TSARoots); err != nil {
			return nil, fmt.Errorf("check the timestamp of the new %s envelope: %w", mediaType, err)
		}
	}
	return env, nil
}

// prepare checks req and returns it in canonical form with its algorithm.
func prepare(req SignRequest) (SignRequest, keyspec.Spec, error) {
	if len(req.Payload) == 0 {
		return req, keyspec.Spec{}, errors.New("sign request has an empty payload; pass the notary payload to sign")
	}
	if req.Signer == nil {
		return req, keyspec.Spec{}, errors.New("sign request has no signer")
	}
	if len(req.Chain) == 0 {
		return req, keyspec.Spec{}, errors.New("sign request has no certificate chain; pass the leaf certificate first, then any intermediates and the root")
	}
	for i, c := range req.Chain {
		if c == nil {
			return req, keyspec.Spec{}, fmt.Errorf("sign request: certificate %d of the chain is missing", i)
		}
	}
	leaf := req.Chain[0]
	alg, err := keyspec.Of(leaf.PublicKey)
	if err != nil {
		return req, keyspec.Spec{}, fmt.Errorf("leaf certificate %q: %w", leaf.Subject, err)
	}
	pub, ok := req.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return req, keyspec.Spec{}, fmt.Errorf("the signing key does not match the public key of the leaf certificate %q; use the certificate issued for this key", leaf.Subject)
	}
	if req.SigningTime.IsZero() {
		return req, keyspec.Spec{}, errors.New("sign request has no signing time")
	}
	if err := checkAttributes(req.Attributes); err != nil {
		return req, keyspec.Spec{}, err
	}
	if req.Timestamp != nil && req.TSARoots == nil {
		return req, keyspec.Spec{}, errors.New("sign request asks for a timestamp but trusts no TSA root: give the root CA certificate of the timestamp authority")
	}
	req.SigningTime = req.SigningTime.UTC().Truncate(time.Second)
	if !req.Expiry.IsZero() {
		req.Expiry = req.Expiry.UTC().Truncate(time.Second)
		if !req.Expiry.After(req.SigningTime) {
			return req, keyspec.Spec{}, fmt.Errorf("expiry %s is not after the signing time %s; choose a later expiry",
				req.Expiry.Format(time.RFC3339), req.SigningTime.Format(time.RFC3339))
		}
	}
	if err := nx509.ValidateCodeSigningCertChain(req.Chain, &req.SigningTime); err != nil {
		return req, keyspec.Spec{}, chainError(err, req.SigningTime)
	}
	return req, alg, nil
}

// checkAttributes refuses extended attributes that would collide with
// the headers the formats write: a Notary key, or a key given twice.
func checkAttributes(attrs []Attribute) error {
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		switch {
		case a.Key == "":
			return errors.New("sign request has an extended attribute without a key")
		case seen[a.Key]:
			return fmt.Errorf("sign request has extended attribute %q twice", a.Key)
		case reservedAttributes[a.Key]:
			return fmt.Errorf("sign request: extended attribute %q is a header the envelope format writes itself", a.Key)
		}
		seen[a.Key] = true
	}
	return nil
}

// reservedAttributes are the protected headers the formats write.
var reservedAttributes = map[string]bool{
	"alg": true, "cty": true, "crit": true, "kid": true, "x5c": true, "jwk": true,
	HeaderSigningScheme: true, HeaderSigningTime: true,
	HeaderExpiry: true, HeaderAuthenticSigningTime: true,
}

// chainError explains a chain that notation-core-go rejects.
func chainError(err error, signingTime time.Time) error {
	return fmt.Errorf("certificate chain fails the notary code-signing rules at %s: %w; fix the certificate, or order the chain leaf first and self-signed root last",
		signingTime.Format(time.RFC3339), err)
}

// matchRequest checks that verified content carries what req asked for.
func matchRequest(content *signature.EnvelopeContent, req SignRequest) error {
	info := content.SignerInfo
	switch {
	case !bytes.Equal(content.Payload.Content, req.Payload):
		return errors.New("the signed payload differs from the requested payload")
	case !info.SignedAttributes.SigningTime.Equal(req.SigningTime):
		return fmt.Errorf("signing time is %s, want %s", info.SignedAttributes.SigningTime, req.SigningTime)
	case !info.SignedAttributes.Expiry.Equal(req.Expiry):
		return fmt.Errorf("expiry is %s, want %s", info.SignedAttributes.Expiry, req.Expiry)
	case info.UnsignedAttributes.SigningAgent != req.SigningAgent:
		return fmt.Errorf("signing agent is %q, want %q", info.UnsignedAttributes.SigningAgent, req.SigningAgent)
	case req.Timestamp == nil && len(info.UnsignedAttributes.TimestampSignature) != 0:
		return errors.New("the envelope carries a timestamp that was not asked for")
	case len(info.CertificateChain) != len(req.Chain):
		return fmt.Errorf("envelope holds %d certificates, want %d", len(info.CertificateChain), len(req.Chain))
	}
	for i, c := range info.CertificateChain {
		if !c.Equal(req.Chain[i]) {
			return fmt.Errorf("certificate %d of the envelope differs from the requested chain", i)
		}
	}
	return matchAttributes(info.SignedAttributes.ExtendedAttributes, req.Attributes)
}

// matchAttributes checks that the envelope carries exactly the requested
// extended attributes, each critical, with its value.
func matchAttributes(got []signature.Attribute, want []Attribute) error {
	if len(got) != len(want) {
		return fmt.Errorf("envelope holds %d extended attributes, want %d", len(got), len(want))
	}
	values := make(map[any]signature.Attribute, len(got))
	for _, a := range got {
		values[a.Key] = a
	}
	for _, w := range want {
		a, ok := values[w.Key]
		switch {
		case !ok:
			return fmt.Errorf("extended attribute %q is missing", w.Key)
		case !a.Critical:
			return fmt.Errorf("extended attribute %q is not critical", w.Key)
		case a.Value != w.Value:
			return fmt.Errorf("extended attribute %q has another value", w.Key)
		}
	}
	return nil
}
