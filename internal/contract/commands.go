package contract

import (
	"context"
	"strconv"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/internal/debuglog"
	"github.com/notation-piv/notation-piv/internal/signing"
)

// Annotations generate-envelope returns, in the project's own namespace.
// The card's serial number is returned for every card that reports one,
// the GUID of its CHUID for a card without one.
const (
	annotationSerial  = "io.github.notation-piv.card.serial"
	annotationGUID    = "io.github.notation-piv.card.guid"
	annotationSlot    = "io.github.notation-piv.card.slot"
	annotationKeySpec = "io.github.notation-piv.key.spec"
)

// describeKey answers describe-key with the key spec read from the card.
func describeKey(ctx context.Context, req *plugin.DescribeKeyRequest, plan *signing.Plan, log *debuglog.Log) (*plugin.DescribeKeyResponse, error) {
	spec, err := plan.Describe(ctx, log)
	if err != nil {
		return nil, err
	}
	return &plugin.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: plugin.KeySpec(spec.Name)}, nil
}

// generateSignature answers generate-signature (RAW mode): notation builds
// the envelope around the signature.
func generateSignature(ctx context.Context, req *plugin.GenerateSignatureRequest, plan *signing.Plan, log *debuglog.Log) (*plugin.GenerateSignatureResponse, error) {
	key, err := plan.Open(ctx, time.Now(), log)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	// checkSignatureRequest checked that hashAlgorithm fits the keySpec.
	if spec := key.Spec(); req.KeySpec != plugin.KeySpec(spec.Name) {
		return nil, plugin.NewValidationErrorf("the request is for an %s key but slot %s holds an %s key; run notation sign again so that it describes the key afresh", req.KeySpec, plan.Slot(), spec.Name)
	}
	sig, alg, err := key.Sign(req.Payload)
	if err != nil {
		return nil, err
	}
	chain := make([][]byte, len(key.Chain()))
	for i, c := range key.Chain() {
		chain[i] = c.Raw
	}
	return &plugin.GenerateSignatureResponse{
		KeyID:            req.KeyID,
		Signature:        sig,
		SigningAlgorithm: plugin.SignatureAlgorithm(alg.SigningAlgorithm),
		CertificateChain: chain,
	}, nil
}

// generateEnvelope answers generate-envelope (ENVELOPE mode, the default):
// the plugin builds and self-verifies the whole envelope, and timestamps it
// when tsa_url is set.
func generateEnvelope(ctx context.Context, req *plugin.GenerateEnvelopeRequest, plan *signing.Plan, log *debuglog.Log) (*plugin.GenerateEnvelopeResponse, error) {
	signed, err := plan.SignEnvelope(ctx, req.Payload, log)
	if err != nil {
		return nil, err
	}
	annotations := map[string]string{
		annotationSlot:    signed.Slot.String(),
		annotationKeySpec: signed.Spec.Name,
	}
	switch {
	case signed.Serial != 0:
		annotations[annotationSerial] = strconv.FormatUint(uint64(signed.Serial), 10)
	case signed.GUID != "":
		annotations[annotationGUID] = signed.GUID
	}
	return &plugin.GenerateEnvelopeResponse{
		SignatureEnvelope:     signed.Bytes,
		SignatureEnvelopeType: req.SignatureEnvelopeType,
		Annotations:           annotations,
	}, nil
}
