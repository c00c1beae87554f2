package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/piv"
	"github.com/notation-piv/notation-piv/timestamp"
)

// VerifierMinVersion is the first version of notation-piv that verifies
// attestations: with attestation.VerificationPlugin, the plugin's name,
// the values of the protected-header attributes
// envelope.HeaderVerificationPluginMinVersion and
// envelope.HeaderVerificationPlugin that make notation verify call this
// plugin's verify-signature.
const VerifierMinVersion = "0.2.0"

// Envelope is a signed, self-verified envelope and the key that signed it.
type Envelope struct {
	// Bytes is the envelope.
	Bytes []byte
	// Serial is the card's serial number; 0 if the card reports none.
	Serial uint32
	// GUID is the GUID of the CHUID of a card without a serial number, 32
	// lowercase hex digits; "" on cards with a serial number, and on
	// cards that have neither.
	GUID string
	Slot piv.Slot
	Spec keyspec.Spec
	// Chain is the certificate chain, leaf first.
	Chain []*x509.Certificate
	// Attestation is the attestation the envelope carries; nil unless the
	// plan attests.
	Attestation *attestation.Bundle
}

// errNoFormat is a plan without an envelope format asked for an envelope.
var errNoFormat = errors.New("the signature plan has no envelope format")

// SignEnvelope signs payload, a Notary payload embedded verbatim, into an
// envelope of the plan's format: it opens the card, reads the slot's
// certificate, builds and checks the chain at the signing time (now, in
// whole seconds), and has the format build the envelope through
// envelope.Build, with the card signer, the plan's expiry and, when the
// plan has a TSA, a verified timestamp. When the plan attests, the
// envelope carries the slot's attestation bundle (attestation.HeaderKey)
// and routes its verification to this plugin, all three as critical
// protected-header attributes. When the card fails, its error is returned as it is.
func (p *Plan) SignEnvelope(ctx context.Context, payload []byte, log Logger) (*Envelope, error) {
	if p.format == nil {
		return nil, errNoFormat
	}
	signingTime := time.Now().UTC().Truncate(time.Second)
	key, err := p.Open(ctx, signingTime, log)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	signer, err := key.signer()
	if err != nil {
		return nil, err
	}
	req := envelope.SignRequest{
		Payload:      payload,
		Signer:       signer,
		Chain:        key.chain,
		SigningTime:  signingTime,
		SigningAgent: "notation-piv/" + p.settings.Version,
	}
	if key.attestation != nil {
		value, err := key.attestation.Encode()
		if err != nil {
			return nil, err
		}
		req.Attributes = []envelope.Attribute{
			{Key: envelope.HeaderVerificationPlugin, Value: attestation.VerificationPlugin},
			{Key: envelope.HeaderVerificationPluginMinVersion, Value: VerifierMinVersion},
			{Key: attestation.HeaderKey, Value: value},
		}
	}
	if p.settings.Expiry > 0 {
		req.Expiry = signingTime.Add(p.settings.Expiry)
	}
	if tsa := p.tsa; tsa != nil {
		req.TSARoots = tsa.Roots
		req.Timestamp = func(sig []byte, h crypto.Hash) ([]byte, error) {
			start := time.Now()
			token, err := tsa.Stamp(ctx, sig, h)
			log.Printf("timestamp from %s: %d bytes in %v, error %v", timestamp.Redact(tsa.URL), len(token), time.Since(start), err)
			return token, err
		}
	}
	start := time.Now()
	env, err := p.format.Sign(req)
	if err != nil {
		return nil, signer.cause(err)
	}
	key.phases.envelope = time.Since(start) - key.phases.sign
	log.Printf("built and verified a %s envelope of %d bytes; %s", p.format.MediaType(), len(env), key.phases)
	info := key.card.Info()
	guid := info.GUID
	if info.Serial != 0 {
		guid = ""
	}
	return &Envelope{Bytes: env, Serial: info.Serial, GUID: guid, Slot: p.slot, Spec: key.spec, Chain: key.chain, Attestation: key.attestation}, nil
}
