package contract

import (
	"crypto/x509"
	"slices"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/internal/debuglog"
	"github.com/notation-piv/notation-piv/internal/pemcert"
)

// verifySignature answers verify-signature: it checks the signature's
// attestation with attestation.Check, against the roots of pluginConfig
// attestation_roots or Yubico's, and applies the trust policy's
// trustedIdentities to it. The verdict is the TRUSTED_IDENTITY result,
// with the reason of a failure; the attestation is returned as processed
// whatever the verdict, and no other attribute is. A trust policy that
// cannot be read, roots that cannot be loaded, a signing certificate that
// does not parse, or a capability other than TRUSTED_IDENTITY is an
// error: such a signature fails at every verification level.
func verifySignature(req *plugin.VerifySignatureRequest, cfg config, log *debuglog.Log) (*plugin.VerifySignatureResponse, error) {
	for _, c := range req.TrustPolicy.SignatureVerification {
		if c != plugin.CapabilityTrustedIdentityVerifier {
			return nil, plugin.NewValidationErrorf("trustPolicy.signatureVerification asks for %s, which the plugin does not declare; it verifies %s only", quote(string(c)), plugin.CapabilityTrustedIdentityVerifier)
		}
	}
	policy, err := attestation.ParsePolicy(req.TrustPolicy.TrustedIdentities)
	if err != nil {
		return nil, plugin.NewValidationErrorf("the trust policy's trustedIdentities: %v", err)
	}
	var roots *attestation.Roots
	if cfg.attestationRoots != "" {
		if roots, err = loadRoots(cfg.attestationRoots); err != nil {
			return nil, err
		}
	}
	leaf, err := x509.ParseCertificate(req.Signature.CertificateChain[0])
	if err != nil {
		return nil, plugin.NewValidationErrorf("signature.certificateChain[0] is not a certificate: %v", err)
	}
	verdict := attestation.Check(req.Signature.CriticalAttributes.ExtendedAttributes, leaf, attestation.Options{Roots: roots, Policy: policy})
	result := &plugin.VerificationResult{Success: verdict.Err == nil}
	if verdict.Err != nil {
		result.Reason = verdict.Err.Error()
	}
	log.Printf("verify-signature: success %t, reason %q", result.Success, result.Reason)
	processed := []any{}
	for _, key := range verdict.ProcessedAttributes {
		if slices.Contains(req.Signature.UnprocessedAttributes, key) {
			processed = append(processed, key)
		}
	}
	// signatureVerification is TRUSTED_IDENTITY alone: Validate refused it
	// empty, and the loop above anything else.
	results := map[plugin.Capability]*plugin.VerificationResult{plugin.CapabilityTrustedIdentityVerifier: result}
	return &plugin.VerifySignatureResponse{VerificationResults: results, ProcessedAttributes: processed}, nil
}

// loadRoots reads the attestation roots of pluginConfig
// attestation_roots.
func loadRoots(path string) (*attestation.Roots, error) {
	certs, err := pemcert.Load(path, attestation.MaxRoots)
	if err != nil {
		return nil, plugin.NewValidationErrorf("pluginConfig %s: %s; give a PEM file of the attestation root certificates", cfgAttestationRoots, withAdvice(err))
	}
	roots, err := attestation.NewRoots(certs)
	if err != nil {
		return nil, plugin.NewValidationErrorf("pluginConfig %s: %v; give a PEM file of the attestation root certificates", cfgAttestationRoots, err)
	}
	return roots, nil
}
