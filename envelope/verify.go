package envelope

import (
	"fmt"

	"github.com/notaryproject/notation-core-go/signature"
	// Register the COSE and JWS parsers that signature.ParseEnvelope uses.
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"
	nx509 "github.com/notaryproject/notation-core-go/x509"
)

// Verify checks env, an envelope of mediaType, the way notation does before
// it accepts a plugin's envelope, and a little further: notation-core-go
// parses it and verifies the signature, headers and algorithm against the
// leaf; the payload must be of PayloadType and the signing scheme
// SigningScheme; and the certificate chain must meet the Notary code-signing
// rules with every certificate valid at the signed signing time (notation
// checks the chain without a time).
//
// Verify does not know what was meant to be signed: a caller holding the
// request must compare the returned payload, times, signing agent and chain
// with it. Build does so for every Format.
func Verify(mediaType string, env []byte) (*signature.EnvelopeContent, error) {
	e, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		return nil, fmt.Errorf("parse %s envelope: %w", mediaType, err)
	}
	content, err := e.Verify()
	if err != nil {
		return nil, fmt.Errorf("verify %s envelope: %w", mediaType, err)
	}
	if ct := content.Payload.ContentType; ct != PayloadType {
		return nil, fmt.Errorf("verify %s envelope: payload content type is %q, want %q", mediaType, ct, PayloadType)
	}
	signed := content.SignerInfo.SignedAttributes
	if signed.SigningScheme != SigningScheme {
		return nil, fmt.Errorf("verify %s envelope: signing scheme is %q, want %q", mediaType, signed.SigningScheme, SigningScheme)
	}
	if err := nx509.ValidateCodeSigningCertChain(content.SignerInfo.CertificateChain, &signed.SigningTime); err != nil {
		return nil, fmt.Errorf("verify %s envelope: %w", mediaType, chainError(err, signed.SigningTime.UTC()))
	}
	return content, nil
}
