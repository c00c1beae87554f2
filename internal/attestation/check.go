package attestation

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Options are the inputs of Check besides the envelope.
type Options struct {
	// Roots are the trusted attestation roots; nil means YubicoRoots.
	Roots *Roots
	// Policy is the trust policy's trustedIdentities; nil checks only the
	// attestation and the key (envelope inspect).
	Policy *Policy
	// Time is when the chain must be valid; zero means now.
	Time time.Time
}

// Verdict is the outcome of Check.
type Verdict struct {
	// Attestation is the verified attestation; nil if the bundle is
	// missing, malformed or does not verify.
	Attestation *Attestation
	// ProcessedAttributes are the extended attributes Check processed:
	// HeaderKey when the envelope has it, whatever the outcome. A
	// verification plugin returns them in processedAttributes.
	ProcessedAttributes []string
	// Err is nil when the signature passes, and otherwise the reason.
	Err error
}

// Check does what the plugin's verify-signature and envelope verify do
// with an envelope's attestation: it reads the bundle from the envelope's
// extended signed attributes, verifies its chain, checks that the attested
// key is the signing certificate's, and applies the policy.
func Check(extendedAttributes map[string]any, signing *x509.Certificate, opts Options) *Verdict {
	value, ok := extendedAttributes[HeaderKey]
	if !ok {
		return &Verdict{Err: fmt.Errorf("the envelope has no attestation (%s)", HeaderKey)}
	}
	v := &Verdict{ProcessedAttributes: []string{HeaderKey}}
	s, ok := value.(string)
	if !ok {
		v.Err = fmt.Errorf("%s is a %T, not a string", HeaderKey, value)
		return v
	}
	bundle, err := ParseBundle(s)
	if err != nil {
		v.Err = err
		return v
	}
	roots := opts.Roots
	if roots == nil {
		roots = YubicoRoots()
	}
	a, err := bundle.Verify(roots, opts.Time)
	if err != nil {
		v.Err = err
		return v
	}
	v.Attestation = a
	if signing == nil {
		v.Err = errors.New("no signing certificate")
		return v
	}
	if err := a.CheckKey(signing); err != nil {
		v.Err = err
		return v
	}
	if opts.Policy != nil {
		v.Err = opts.Policy.Evaluate(a, signing)
	}
	return v
}
