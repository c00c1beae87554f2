package piv

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// What GenerateKey asks piv-go for, by key spec name and policy.
var (
	pinPolicies   = map[string]piv.PINPolicy{PolicyNever: piv.PINPolicyNever, PolicyOnce: piv.PINPolicyOnce, PolicyAlways: piv.PINPolicyAlways}
	touchPolicies = map[string]piv.TouchPolicy{PolicyNever: piv.TouchPolicyNever, PolicyAlways: piv.TouchPolicyAlways, PolicyCached: piv.TouchPolicyCached}
	keyAlgorithms = map[string]piv.Algorithm{
		keyspec.EC256.Name: piv.AlgorithmEC256, keyspec.EC384.Name: piv.AlgorithmEC384,
		keyspec.RSA2048.Name: piv.AlgorithmRSA2048, keyspec.RSA3072.Name: piv.AlgorithmRSA3072, keyspec.RSA4096.Name: piv.AlgorithmRSA4096,
	}
)

// KeyOptions says what key GenerateKey makes.
type KeyOptions struct {
	// Spec is the key type, one of KeySpecs.
	Spec keyspec.Spec
	// PINPolicy is PolicyNever, PolicyOnce or PolicyAlways.
	PINPolicy string
	// TouchPolicy is PolicyNever, PolicyAlways or PolicyCached.
	TouchPolicy string
}

// Check returns an error naming the valid values if o asks for something
// GenerateKey cannot make.
func (o KeyOptions) Check() error {
	if s, ok := LookupKeySpec(o.Spec.Name); !ok || s != o.Spec {
		return fmt.Errorf("unknown key algorithm %q: use one of %s", o.Spec.Name, keyspec.Names(KeySpecs()))
	}
	if _, ok := pinPolicies[o.PINPolicy]; !ok {
		return fmt.Errorf("unknown PIN policy %q: use never, once or always", o.PINPolicy)
	}
	if _, ok := touchPolicies[o.TouchPolicy]; !ok {
		return fmt.Errorf("unknown touch policy %q: use never, always or cached", o.TouchPolicy)
	}
	return nil
}

// GenerateKey generates a new key in slot, replacing any key there, and
// returns its public key. The certificate in the slot, if any, is left as
// it is: store the new key's certificate with StoreCertificate.
//
// APDUs: management key authentication (GET METADATA `00 F7 00 9B 00` and
// two GENERAL AUTHENTICATE), then GENERATE ASYMMETRIC KEY PAIR `00 47 00
// <slot> 0B AC 09 80 01 <alg> AA 01 <pin> AB 01 <touch>`.
func (c *Card) GenerateKey(ctx context.Context, mgmtKey []byte, slot Slot, opts KeyOptions) (crypto.PublicKey, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	if err := opts.Check(); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("generate an %s key in slot %s", opts.Spec.Name, slot)
	var pub crypto.PublicKey
	err := c.manage(ctx, op, func(yk *piv.YubiKey) error {
		var err error
		pub, err = yk.GenerateKey(mgmtKey, slot.piv(), piv.Key{
			Algorithm:   keyAlgorithms[opts.Spec.Name],
			PINPolicy:   pinPolicies[opts.PINPolicy],
			TouchPolicy: touchPolicies[opts.TouchPolicy],
		})
		if err != nil {
			return credentialError(op, SecretPIN, err)
		}
		return nil
	})
	return pub, err
}

// StoreCertificate stores cert in slot, replacing the certificate there.
// It does not check that cert belongs to the slot's key.
//
// APDUs: management key authentication, then PUT DATA `00 DB 3F FF L 5C 03
// <object> 53 L {70 L <DER> 71 01 00 FE 00}`, sent as a command chain.
func (c *Card) StoreCertificate(ctx context.Context, mgmtKey []byte, slot Slot, cert *x509.Certificate) error {
	if err := slot.check(); err != nil {
		return err
	}
	op := "store the certificate in slot " + slot.String()
	return c.manage(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.SetCertificate(mgmtKey, slot.piv(), cert); err != nil {
			return credentialError(op, SecretPIN, err)
		}
		return nil
	})
}

// KeySigner returns a crypto.Signer for the key in slot whose public key is
// pub, such as one just made by GenerateKey, for signing its certificate or
// a certificate request. It behaves as the Signer of Card.Signer.
func (c *Card) KeySigner(slot Slot, pub crypto.PublicKey, pin PINSource, opts SignerOptions) (crypto.Signer, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	if _, err := KeySpecOf(pub); err != nil {
		return nil, fmt.Errorf("key in slot %s: %w", slot, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &signer{card: c, slot: slot, pub: pub, pin: pin, opts: opts}, nil
}
